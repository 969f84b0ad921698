// Package nab reads a corpus laid out like the Numenta Anomaly Benchmark (NAB
// v1.1) and scores anomaly detector output the way NAB's own scorer does.
//
// The scoring rules, from numenta/NAB nab/sweeper.py:
//
//   - Per file, the first min(⌊0.15·n⌋, 750) rows are probationary and not
//     scored.
//   - Each labelled window is worth its earliest detection: a detection at row
//     i of a window ending at row e with width w earns
//     tpWeight·σ(−(e−i+1)/w)/σ(−1), where σ(x) = 2/(1+e^{5x}) − 1 (the
//     "scaled sigmoid"). A window without a detection costs fnWeight.
//   - A detection outside every window costs fpWeight·σ(d) where d is its
//     distance past the end of the preceding window in units of that window's
//     width minus one (beyond 3 the cost is the full fpWeight, as it is with no preceding
//     window).
//   - Raw scores are summed over all files; the threshold is either fixed or
//     swept over every distinct score from high to low (ties go to the higher
//     threshold), and the sum is normalised as 100·(raw−null)/(perfect−null)
//     with null = −N·fnWeight and perfect = N·tpWeight for the N windows of
//     the scored files.
//
// The test in this package proves the implementation by reproducing the
// published scores of three reference detectors.
package nab
