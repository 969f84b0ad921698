// Package rca is the root-cause-analysis benchmark harness: it replays
// fault-injection corpora (Nezha's layout, PetShop) through the production
// stages in virtual time — metrics into the streaming metric detector, logs
// through the template miner, traces into the call graph — turns what they
// find in a window around each injected fault into rca.Evidence, ranks the
// services with internal/rca and scores the rankings (AC@k, Avg@5). Series
// whose normal period does not reach the incident (PetShop's) are compared
// with it directly (rca.Reference) instead of through the detector.
//
// Nothing here is tuned per dataset: the same windows, thresholds and
// ranker configuration apply to every day and system.
package rca
