// Package metric is the streaming anomaly detector for metric series: one
// small, fixed-size model per series, updated point by point with no
// look-ahead, that turns each sample into a calibrated anomaly score in [0, 1]
// and, when the score crosses the series' threshold, an osprey.Anomaly with
// its evidence.
//
// A Model is the per-series state (no pointers, no allocation per point, a
// little over 1 KiB). Model.Update runs the ensemble:
//
//   - level: a fast robust level (EWMA with Huber-clipped innovations) and
//     its mean absolute error; predicts the next value for series without a
//     usable season;
//   - daily and weekly seasonal profiles (48 half-hour and 168 hourly bins of
//     the deviation from a slow baseline, indexed by the samples' own
//     timestamps); a season is used only when its predictor has beaten the
//     plain level's running error for long enough, so seasonality is found
//     in the data, not configured;
//   - shift: a short EWMA of the residual against the chosen predictor, in
//     units of its own expected spread, for sustained level shifts and drifts
//     that no single point reveals;
//   - spread: the short-term mean absolute residual against the long-term
//     one, for variance changes.
//
// Each component's surprise is turned into a tail probability with a
// per-series running calibration (the long-run mean and spread of the
// component's own log-surprise), the smallest is corrected for the number of
// components, and the score is −log10(p)/Config.ScoreDecades capped to 1: a
// score of 0.5 with the defaults means "a tail this extreme is seen once in
// 10^4 points". Scores at or above Config.Threshold are alarms; after an
// alarm, only a stronger one is reported for Config.Refractory points
// (debouncing), so one incident is one alarm.
//
// Engine keeps a Model per series fingerprint (bounded in number), consumes
// osprey.Series batches and emits osprey.Anomaly values to an
// osprey.AnomalyConsumer.
package metric
