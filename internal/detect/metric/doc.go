// Package metric is the streaming anomaly detector for metric series: one
// small, fixed-size model per series, updated point by point with no
// look-ahead, that turns each sample into a calibrated anomaly score in [0, 1]
// and, when the score crosses the series' threshold, an osprey.Anomaly with
// its evidence.
//
// A Model is the per-series state (no pointers, no allocation per point,
// under 2 KiB). Model.Update runs the ensemble:
//
//   - level: a fast robust level (EWMA with Huber-clipped innovations) and
//     its mean absolute error; predicts the next value for series without a
//     usable season;
//   - daily and weekly seasonal profiles (48 half-hour and 168 hourly bins of
//     the deviation from a slow baseline, indexed by the samples' own
//     timestamps); a season is used only when its predictor has beaten the
//     plain level's running error for long enough, so seasonality is found
//     in the data, not configured;
//   - shift: a second, narrow CUSUM of the same standardised residual
//     (Config.ShiftAllowance 2, Config.ShiftClip 2.5: a sample adds at most
//     half a typical error), whose sum measures how long the series has
//     stayed off its prediction on one side: sustained level shifts that
//     no single point reveals, found before the level predictor adapts;
//   - spread: the short-term mean absolute residual against the long-term
//     one, for variance changes;
//   - burst: a two-sided CUSUM of the residual in units of the running
//     error, each sample clipped to Config.BurstClip and less
//     Config.BurstAllowance, for a run of large residuals on one side
//     that no single sample makes a record of; while the sum is above
//     its record it is judged against the record from before (the run
//     would otherwise raise the record it is judged against), and once
//     a run that alarmed is over its record falls back to at most
//     Config.AlarmGrow times that;
//   - novel: context novelty after CAD OSE: the value quantised into four
//     levels of its running range, and each sequence of the last 2..7
//     levels looked up in a 4,096-bit set of sequences seen before; a
//     never-seen sequence is as surprising as novelty is rare in the
//     series, half as surprising when its newest level is one off a seen
//     sequence (a near miss at a level boundary), and an isolated novelty
//     counts a third of one that follows another within a few samples
//     (persistence: a new shape makes new sequences at several samples in
//     a row, noise mostly at one).
//
// Each component's surprise is compared with that component's own record in
// this series: the largest surprise of the recent past, decaying by
// Config.RecordDecay per sample (the point component keeps one record per
// predictor). This is the per-series calibration: a series that is always
// noisy or always spiky sets high records and is judged against them. The
// score is 0.5 + 0.5·log2(surprise/record)/Config.ScoreOctaves, clamped to
// [0, 1], for the strongest component: 0.5 means "as surprising as the most
// surprising moment of the last few thousand samples". Once warm, a record
// grows by at most Config.AlarmGrow per sample, so one anomaly does not hide
// the next, smaller one. Each alarm also raises, for the components that
// raised it, the surprise they need by Config.FatigueStep octaves,
// decaying by Config.FatigueDecay per sample (fatigue: a component that
// keeps alarming on a series asks a little more of it for about a day).
// The default threshold, 0.54, is a new record by 25 %. After an alarm nothing is reported for Config.Refractory samples
// (debouncing), so one incident is one alarm.
//
// Engine keeps a Model per series fingerprint (bounded in number), consumes
// osprey.Series batches and emits osprey.Anomaly values to an
// osprey.AnomalyConsumer.
package metric
