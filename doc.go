// Package osprey holds the vocabulary of the Osprey AIOps engine: the signals it
// takes in (Series, LogRecord, Span, Event), what it derives from them (Anomaly,
// Incident, Cause), what it does about them (RunbookRun, Action), and the small
// interfaces through which the pipeline stages hand these values to each other.
//
// The pipeline is
//
//	ingest → detect → correlate → remediate / notify
//
// Each arrow is one of the Consume* interfaces in stage.go. The package has no
// dependencies beyond the standard library, so every other package may import it
// and it imports none of them.
package osprey
