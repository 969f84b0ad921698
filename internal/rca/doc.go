// Package rca ranks root-cause candidates for one incident: given the service
// call graph and the anomalies seen per service in the incident's window, it
// returns osprey.Cause values, best first, each with an explanation a person
// can check against the evidence and the ids of that evidence.
//
// The method (docs/rca.md) has three deterministic steps:
//
//  1. Strength: each service's evidence is summarised per kind (metric, log,
//     trace latency, trace error, broken flow, change) by its strongest
//     score, and the
//     kinds are combined with a noisy-or, so two independent modalities
//     agreeing count for more than many series of one modality. The onset of
//     a service is its earliest evidence at or above Config.MinScore.
//  2. Walk: a personalised PageRank on the call graph, started from the
//     anomalous services in proportion to their strength. From a service the
//     walk moves to its callees in proportion to call weight times the
//     callee's strength (a failure propagates from callee to caller, so the
//     cause sits downstream of its symptoms), back to callers with a small
//     weight, and stays put in proportion to its strength (Config.StayOwn;
//     an anomalous callee explains part of a caller's anomaly, not all of
//     it). A callee whose onset is later than the caller's is followed at a
//     discount: a cause precedes its symptoms. When both were observed per
//     request (Evidence.Requests), the step to the callee is scaled by the
//     share of the caller's anomalous requests in which the callee was
//     anomalous too (Config.Joint): a callee whose failure never shows in
//     the requests that failed at the caller does not explain them.
//     Evidence of a service's own (Evidence.Own: the trace detect stage's
//     anomalies, which judge a span's self time and its deepest break,
//     and changes) counts more: the walk starts from a service's own
//     strength plus Config.Symptom times the rest (logs, metrics and
//     alerts, which a failing callee also makes its callers show), and
//     a caller whose anomalous callee's own anomaly began no later than
//     its first stays only in proportion to its own strength
//     (Config.OwnExplains). Evidence without Own ranks as before.
//  3. Rank: by walk score; ties by strength, then onset, then name, so the
//     ranking is a pure function of its input.
//
// Rank is safe for concurrent use on distinct inputs; a Graph is not safe for
// concurrent mutation. The correlate stage can call Rank with the graph it
// learns from traces and the members of an incident turned into Evidence
// (FromAnomaly) and put the result in Incident.Causes.
//
// Series too coarse or too short for the streaming detector are compared
// with their normal period instead (Reference): HistoryEvidence reads them
// from the metric store in a worker of its own, outside the correlator's
// lock, and IncidentRanker.Extra merges its evidence into the rankings.
package rca
