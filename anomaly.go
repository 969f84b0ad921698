package osprey

import (
	"strings"
	"time"
)

// AnomalyKind says what kind of signal an anomaly was found in.
type AnomalyKind string

// Anomaly kinds.
const (
	AnomalyMetric AnomalyKind = "metric"
	AnomalyLog    AnomalyKind = "log"
	// AnomalyForecast is a series forecast to cross a threshold within a
	// horizon (disk full in 3h10m); its Fingerprint is the series' mixed
	// with "forecast", so it never merges with a metric anomaly of the
	// same series.
	AnomalyForecast AnomalyKind = "forecast"
	// AnomalyTrace is a service whose recent spans broke their learnt
	// pattern (internal/detect/trace); its LabelTraceSignal label says
	// which pattern.
	AnomalyTrace AnomalyKind = "trace"
)

// Anomaly is a stretch of a series or a log template's behaviour that a detector
// found out of the ordinary, with the evidence for it.
type Anomaly struct {
	// ID is assigned when the anomaly is emitted; unique, sorts by time.
	ID   string      `json:"id"`
	Kind AnomalyKind `json:"kind"`
	// Labels are the labels of the series (for a log anomaly: of the log
	// stream) the anomaly was found in.
	Labels Labels `json:"labels"`
	// TemplateID names the log template for log anomalies.
	TemplateID string `json:"templateId,omitempty"`
	// Score is the calibrated anomaly score in [0, 1].
	Score float64 `json:"score"`
	// Observed is the value seen; Expected, Lower and Upper are the model's
	// expectation and band at the same time.
	Observed float64   `json:"observed"`
	Expected float64   `json:"expected"`
	Lower    float64   `json:"lower"`
	Upper    float64   `json:"upper"`
	Severity Severity  `json:"severity"`
	StartsAt time.Time `json:"startsAt"`
	// EndsAt is zero while the anomaly is ongoing.
	EndsAt time.Time `json:"endsAt,omitzero"`
	// Evidence lists what each detector of the ensemble said.
	Evidence []Evidence `json:"evidence,omitempty"`
	// Fingerprint is Labels' fingerprint (plus TemplateID for log anomalies).
	Fingerprint Fingerprint `json:"fingerprint"`
}

// Evidence is one detector's contribution to an anomaly, stated so that a
// person can check it.
type Evidence struct {
	Detector string  `json:"detector"`
	Score    float64 `json:"score"`
	Reason   string  `json:"reason"`
}

// Active reports whether the anomaly is still ongoing.
func (a *Anomaly) Active() bool { return a.EndsAt.IsZero() }

// Evidence.Detector values of the entries that link the two anomalies of
// an escalation: a detector ended an open anomaly because its series
// became much more surprising, and opened a new anomaly of the same series
// (same Fingerprint) at that moment. The ended one carries an
// EvidenceEscalated entry ("ended: escalated at ..."), the new one an
// EvidenceEscalation entry naming when the ended one started. The
// correlator takes the new one as a new onset, not as a repeat.
const (
	EvidenceEscalation = "escalation"
	EvidenceEscalated  = "escalated"
)

// EvidenceLogTemplate is the Evidence.Detector of the entry a log anomaly
// carries with its template's text (TemplateEvidence).
const EvidenceLogTemplate = "log_template"

// TemplateEvidence returns the entry naming log template id and its text.
func TemplateEvidence(id, text string) Evidence {
	return Evidence{Detector: EvidenceLogTemplate, Reason: "template " + id + ": " + text}
}

// TemplateText returns the text of the anomaly's log template from its
// TemplateEvidence entry; false when it has none.
func (a *Anomaly) TemplateText() (string, bool) {
	for _, ev := range a.Evidence {
		if ev.Detector != EvidenceLogTemplate {
			continue
		}
		if text, ok := strings.CutPrefix(ev.Reason, "template "+a.TemplateID+": "); ok {
			return text, true
		}
	}
	return "", false
}

// Escalates reports whether the anomaly began with an escalation (it has
// an EvidenceEscalation entry).
func (a *Anomaly) Escalates() bool { return a.hasEvidence(EvidenceEscalation) }

// Escalated reports whether the anomaly ended in an escalation: it has
// ended and has an EvidenceEscalated entry.
func (a *Anomaly) Escalated() bool { return !a.Active() && a.hasEvidence(EvidenceEscalated) }

func (a *Anomaly) hasEvidence(detector string) bool {
	for i := range a.Evidence {
		if a.Evidence[i].Detector == detector {
			return true
		}
	}
	return false
}

// Feedback is an operator's verdict on an anomaly.
type Feedback string

// Feedback values.
const (
	FeedbackTruePositive  Feedback = "true_positive"
	FeedbackFalsePositive Feedback = "false_positive"
)
