package correlate_test

import (
	"context"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
)

// logAnomaly sends a log anomaly of service whose template reads text.
func (r *rig) logAnomaly(at time.Duration, service, templateID, text string) {
	r.t.Helper()
	r.at(at)
	l := osprey.Labels{"service": service, "source": "otlp", "template_id": templateID}
	a := osprey.Anomaly{
		ID: osprey.NewID(r.clock()), Kind: osprey.AnomalyLog, Labels: l, TemplateID: templateID, Score: 0.8,
		Severity: osprey.SeverityWarning, StartsAt: r.clock(), Fingerprint: l.Fingerprint(),
		Evidence: []osprey.Evidence{osprey.TemplateEvidence(templateID, text)},
	}
	if err := r.c.ConsumeAnomalies(context.Background(), []osprey.Anomaly{a}); err != nil {
		r.t.Fatal(err)
	}
}

// alert sends an event with a summary annotation, which similarity does
// not compare.
func (r *rig) alert(at time.Duration, name string, labels osprey.Labels, summary string) {
	r.t.Helper()
	when := t0.Add(at)
	r.at(at)
	e := osprey.Event{ID: osprey.NewID(when), Source: "test", Name: name, Labels: labels, Severity: osprey.SeverityWarning,
		Status: osprey.StatusFiring, StartsAt: when, ReceivedAt: when, Fingerprint: osprey.EventFingerprint(name, labels),
		Annotations: map[string]string{"summary": summary}}
	if err := r.st.AppendEvents(context.Background(), []osprey.Event{e}); err != nil {
		r.t.Fatal(err)
	}
	if err := r.c.ConsumeEvents(context.Background(), []osprey.Event{e}); err != nil {
		r.t.Fatal(err)
	}
}

func TestSimilarTextJoins(t *testing.T) {
	const redis = "Connection refused to redis-master:<*> after <*> retries, giving up"
	t.Run("the same error in two services", func(t *testing.T) {
		r := newRig(t, rigOptions{similarity: 0.8})
		r.logAnomaly(0, "checkout", "t1", redis)
		r.logAnomaly(time.Minute, "cart", "t1", redis)
		inc := r.memberOf("log template t1", "cart")
		if len(inc.Members) != 2 {
			t.Fatalf("cart's redis error is in an incident of %d members, want checkout's (2)", len(inc.Members))
		}
		if !timelineSays(inc, "text 1.00 similar to member log template t1") {
			t.Fatalf("timeline does not say why: %+v", inc.Timeline)
		}
	})
	t.Run("what does not join", func(t *testing.T) {
		r := newRig(t, rigOptions{similarity: 0.8})
		r.logAnomaly(0, "checkout", "t1", redis)
		// Another error.
		r.logAnomaly(30*time.Second, "cart", "t2", "Payment declined by provider for order <*>, card expired")
		// Two rules of one group on two services: their summaries are
		// the rules' templates, worded alike.
		r.alert(time.Minute, "PodCPUUsageHigh", osprey.Labels{"service": "search", "pod": "search-1", "metric": "CpuUsageRate(%)"},
			"CpuUsageRate(%) of search-1 is 95.3, above 80 (mean + 3 sigma)")
		r.alert(time.Minute, "PodMemoryUsageHigh", osprey.Labels{"service": "ads", "pod": "ads-7", "metric": "MemoryUsageRate(%)"},
			"MemoryUsageRate(%) of ads-7 is 91.2, above 85 (mean + 3 sigma)")
		// Too few words to compare.
		r.logAnomaly(time.Minute, "users", "t3", "redis refused")
		// Too late: the incident stopped spreading.
		r.logAnomaly(4*time.Minute, "orders", "t1", redis)
		for _, m := range []struct{ name, service string }{
			{"log template t2", "cart"}, {"PodCPUUsageHigh", "search"}, {"PodMemoryUsageHigh", "ads"},
			{"log template t3", "users"}, {"log template t1", "orders"},
		} {
			if n := len(r.memberOf(m.name, m.service).Members); n != 1 {
				t.Errorf("%s of %s joined an incident of %d members", m.name, m.service, n)
			}
		}
	})
	t.Run("off", func(t *testing.T) {
		r := newRig(t, rigOptions{})
		r.logAnomaly(0, "checkout", "t1", redis)
		r.logAnomaly(time.Minute, "cart", "t1", redis)
		if n := len(r.memberOf("log template t1", "cart").Members); n != 1 {
			t.Fatalf("with similarity off cart joined an incident of %d members", n)
		}
	})
}
