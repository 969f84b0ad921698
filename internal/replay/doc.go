// Package replay is Osprey's backtest: it feeds recorded data (a Prometheus
// TSDB, query_range exports, NAB-style CSV files, log files, alert events)
// through the production pipeline stages — the metric detector, the log
// template miner and log anomaly detector, the correlator with its root-cause
// ranker, and the remediation engine with every runbook forced to dry-run —
// on a virtual clock that follows the data's timestamps, as fast as the
// machine allows, and reports what would have happened: anomalies, incidents
// with their ranked causes, the runbook runs that would have been planned,
// and the noise figures. With two configurations it reports the difference.
//
// The inputs are merged in record-time order (a heap over the inputs'
// streams) and handed to the stages in that order: no stage waits on a
// real timer. Metric samples travel in windows of Window.Step (one
// remote_write-like batch per window, delivered at its latest sample's
// time); log lines and events one at a time. Reading and detection run on
// one goroutine, and event commit, store writes, correlation and
// remediation on a second, which sets its own virtual clock from the time
// stamped on each piece of work it is handed, so the report is the same as
// with every stage on one goroutine (Options.Sequential).
//
// What differs from serve, and why:
//
//   - Runbooks never execute: their mode is forced to dry-run, so a run is
//     only planned. Dry-run runs set no timers (approval expiry and
//     verification windows only exist for approval and auto runs).
//   - The correlator's periodic catch-up from the store (a real-time
//     ticker) is set so far apart that it never fires: events reach it
//     in order through the same ingest.Committer the receivers use.
//   - The log detector's flush timer is not started; the replay calls
//     Flush every quarter bucket of record time, as the timer would, and
//     once at the end of the data, which closes the last buckets.
//   - Anomaly scores and log count series are not written to a TSDB, the
//     detector's models start empty (no snapshot), log templates are
//     saved to the store once at the end, and without spans there is no
//     call graph, so causes are ranked on each service's own evidence.
//   - The metric detector, metric.Engine, is given each input series'
//     fingerprint, computed once (Engine.ConsumeFingerprinted); its
//     anomaly IDs are ULIDs with a sequence number for the random
//     part, so the ranker's tie-breaks (by ID) repeat from replay to
//     replay; anomalies are written to the store in batches.
package replay
