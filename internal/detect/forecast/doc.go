// Package forecast predicts when a series will cross a threshold ("the
// disk on db-1 will be full in 3h10m, at 14:32 UTC") before it does.
//
// Each series named by a Rule gets a Model: an exponentially weighted
// least-squares line over (time, value) whose weights halve every
// Config.HalfLife of sample time, robust to single outliers, restarted at
// jumps (a log rotation, a deleted file), updated once per sample without
// allocating. Its slope's standard error gives confidence bounds, so a
// noisy flat series does not forecast. Predict checks, in order: enough
// history, not already crossed, approaching, significantly so, within the
// horizon, within Config.MaxExtrapolation × the fit window, not about to
// reset (a sawtooth), and closer to the threshold than a day ago (not a
// daily cycle). Forecaster runs it on every sample of the matched series
// and emits osprey.Anomaly of kind forecast with hysteresis.
//
// The method, defaults and measurements are in docs/detection.md,
// "Forecasting".
package forecast
