package logs

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/logmine"
)

// rig is a Detector fed by a real logmine.Set, with a fake clock and
// consumers that keep what they are handed.
type rig struct {
	t   testing.TB
	det *Detector
	set *logmine.Set

	mu        sync.Mutex
	now       time.Time
	anomalies []osprey.Anomaly
	series    []osprey.Series
}

var t0 = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)

func newRig(t testing.TB, cfg Config) *rig {
	t.Helper()
	r := &rig{t: t, now: t0}
	var err error
	r.det, err = New(Options{
		Config: cfg,
		Out: osprey.AnomalyConsumerFunc(func(_ context.Context, b []osprey.Anomaly) error {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.anomalies = append(r.anomalies, b...)
			return nil
		}),
		Counts: osprey.SeriesConsumerFunc(func(_ context.Context, b []osprey.Series) error {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.series = append(r.series, b...)
			return nil
		}),
		Lookup: func(src, id string) (osprey.LogTemplate, bool) { return r.set.Lookup(src, id) },
		Now: func() time.Time {
			r.mu.Lock()
			defer r.mu.Unlock()
			return r.now
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	r.set = logmine.NewSet(logmine.SetOptions{OnMatch: r.det.Observe, OnUpdate: r.det.OnUpdate})
	return r
}

// push mines lines (service "api", level as given) at time at, sets the
// clock there, and emits what the detector found.
func (r *rig) push(at time.Time, level string, lines ...string) {
	r.t.Helper()
	r.mu.Lock()
	r.now = at
	r.mu.Unlock()
	batch := make([]osprey.LogRecord, len(lines))
	for i, l := range lines {
		batch[i] = osprey.LogRecord{Time: at, Labels: osprey.Labels{"source": "loki", "service": "api"}, Level: level, Body: l}
	}
	if err := r.set.ConsumeLogs(context.Background(), batch); err != nil {
		r.t.Fatal(err)
	}
	if err := r.det.Emit(context.Background()); err != nil {
		r.t.Fatal(err)
	}
}

// found returns the anomalies whose first evidence is from detector kind.
func (r *rig) found(kind string) []osprey.Anomaly {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []osprey.Anomaly
	for _, a := range r.anomalies {
		if len(a.Evidence) > 0 && a.Evidence[0].Detector == kind {
			out = append(out, a)
		}
	}
	return out
}

func samplesOf(a osprey.Anomaly) []string {
	var out []string
	for _, e := range a.Evidence {
		if e.Detector == EvidenceSample {
			out = append(out, e.Reason)
		}
	}
	return out
}

func evidence(a osprey.Anomaly, kind string) string {
	for _, e := range a.Evidence {
		if e.Detector == kind {
			return e.Reason
		}
	}
	return ""
}

// noise returns a deterministic count around mean, ±20 %.
func noise(seed *uint64, mean int) int {
	*seed = *seed*6364136223846793005 + 1442695040888963407
	return mean + int(float64(mean)*0.4*(float64(*seed>>11)/float64(1<<53)-0.5))
}

func lines(format string, from, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf(format, from+i)
	}
	return out
}

func TestNewTemplateWarmup(t *testing.T) {
	cfg := DefaultConfig()
	cfg.WarmupLines, cfg.Warmup = 100, 10*time.Minute
	r := newRig(t, cfg)

	// Minute 0: 50 lines of two templates, then a third template: all
	// within the warm-up, none reported.
	r.push(t0, "info", lines("user %d logged in", 0, 25)...)
	r.push(t0.Add(time.Second), "info", lines("cache miss for key k%d", 0, 25)...)
	r.push(t0.Add(2*time.Second), "info", "disk quota exceeded for volume 7")
	// Minutes 1..11: enough lines and time to be warm.
	for m := 1; m <= 11; m++ {
		r.push(t0.Add(time.Duration(m)*time.Minute), "info", lines("user %d logged in", m*10, 10)...)
	}
	if got := r.found(EvidenceNewTemplate); len(got) != 0 {
		t.Fatalf("new-template anomalies during warm-up: %+v", got)
	}
	if st := r.det.Stats(); st.Suppressed != 3 {
		t.Errorf("Suppressed = %d, want 3 (the first three templates)", st.Suppressed)
	}

	// A template never seen before, in a batch of five lines.
	at := t0.Add(12 * time.Minute)
	r.push(at, "error", lines("payment gateway timeout after %d retries", 1, 5)...)
	got := r.found(EvidenceNewTemplate)
	if len(got) != 1 {
		t.Fatalf("want one new-template anomaly, got %+v", got)
	}
	a := got[0]
	if a.Kind != osprey.AnomalyLog || a.TemplateID == "" || !a.Active() || a.Severity != osprey.SeverityError {
		t.Errorf("anomaly %+v", a)
	}
	if a.Labels["source"] != "loki" || a.Labels["service"] != "api" || a.Labels[LabelTemplateID] != a.TemplateID {
		t.Errorf("labels %v", a.Labels)
	}
	if a.Observed != 5 || !a.StartsAt.Equal(at) {
		t.Errorf("observed %v at %v, want 5 at %v", a.Observed, a.StartsAt, at)
	}
	if s := samplesOf(a); len(s) != 3 || s[0] != "payment gateway timeout after 1 retries" {
		t.Errorf("samples %q", s)
	}
	if tpl := evidence(a, EvidenceTemplate); !strings.Contains(tpl, "payment gateway timeout after <*> retries") {
		t.Errorf("template evidence %q", tpl)
	}
	t.Logf("reason: %s", a.Evidence[0].Reason)

	// The next minute has no such line: the anomaly resolves when that
	// bucket closes.
	r.push(at.Add(time.Minute), "info", lines("user %d logged in", 500, 10)...)
	r.push(at.Add(2*time.Minute), "info", lines("user %d logged in", 600, 10)...)
	got = r.found(EvidenceNewTemplate)
	if len(got) != 2 || got[1].ID != a.ID || got[1].Active() || got[1].Fingerprint != a.Fingerprint {
		t.Fatalf("want the anomaly resolved, got %+v", got)
	}
	if len(samplesOf(got[1])) != 3 {
		t.Errorf("resolution lost the samples: %+v", got[1])
	}
}

// steady pushes minutes [from, to) of a steady background: about 10 logins
// and 3 cache misses a minute, and an error line every fifth minute.
func steady(r *rig, seed *uint64, from, to int) {
	for m := from; m < to; m++ {
		at := t0.Add(time.Duration(m) * time.Minute)
		r.push(at, "info", lines("user %d logged in", m*100, noise(seed, 10))...)
		r.push(at.Add(10*time.Second), "info", lines("cache miss for key k%d", m*100, noise(seed, 3))...)
		if m%5 == 0 {
			r.push(at.Add(20*time.Second), "error", fmt.Sprintf("connection reset by peer %d", m))
		}
	}
}

func TestRateSurgeFlagged(t *testing.T) {
	r := newRig(t, DefaultConfig())
	seed := uint64(7)
	steady(r, &seed, 0, 300)
	if got := r.found(EvidenceRate); len(got) != 0 {
		t.Fatalf("rate anomalies on a steady stream: %+v", got)
	}
	if got := r.found(EvidenceErrors); len(got) != 0 {
		t.Fatalf("error anomalies on a steady stream: %+v", got)
	}
	// Minute 300: the login template jumps 40×; the cache misses stay.
	at := t0.Add(300 * time.Minute)
	r.push(at, "info", lines("user %d logged in", 1_000_000, 400)...)
	r.push(at.Add(10*time.Second), "info", lines("cache miss for key k%d", 1_000_000, 3)...)
	r.push(at.Add(20*time.Second), "error", "connection reset by peer 300")
	steady(r, &seed, 301, 303)

	got := r.found(EvidenceRate)
	if len(got) != 1 {
		t.Fatalf("want one rate anomaly, got %d: %+v", len(got), got)
	}
	a := got[0]
	login, _ := r.set.Lookup("loki", a.TemplateID)
	if login.Template != "user <*> logged in" {
		t.Errorf("flagged template %q", login.Template)
	}
	if a.Observed != 400 || a.Expected > 20 || !a.StartsAt.Equal(at.Add(time.Minute)) {
		t.Errorf("observed %v expected %v at %v", a.Observed, a.Expected, a.StartsAt)
	}
	if !strings.Contains(a.Evidence[0].Reason, "surge") || len(samplesOf(a)) != 3 || evidence(a, EvidenceTemplate) == "" {
		t.Errorf("evidence %+v", a.Evidence)
	}
	if a.Labels["template_id"] != a.TemplateID || a.Labels["service"] != "api" {
		t.Errorf("labels %v", a.Labels)
	}
	t.Logf("reason: %s; score %.3f", a.Evidence[0].Reason, a.Score)
}

func TestRateDropFlagged(t *testing.T) {
	r := newRig(t, DefaultConfig())
	seed := uint64(11)
	for m := range 200 {
		at := t0.Add(time.Duration(m) * time.Minute)
		r.push(at, "info", lines("user %d logged in", m*1000, noise(&seed, 100))...)
		r.push(at.Add(time.Second), "info", lines("cache miss for key k%d", m*1000, noise(&seed, 100))...)
	}
	if got := r.found(EvidenceRate); len(got) != 0 {
		t.Fatalf("rate anomalies on a steady stream: %+v", got)
	}
	// The logins stop; the cache misses go on.
	for m := 200; m < 203; m++ {
		r.push(t0.Add(time.Duration(m)*time.Minute), "info", lines("cache miss for key k%d", m*1000, noise(&seed, 100))...)
	}
	got := r.found(EvidenceRate)
	if len(got) != 1 || got[0].Observed != 0 || !strings.Contains(got[0].Evidence[0].Reason, "drop") {
		t.Fatalf("want one drop, got %+v", got)
	}
}

func TestErrorBurstFlagged(t *testing.T) {
	r := newRig(t, DefaultConfig())
	seed := uint64(3)
	steady(r, &seed, 0, 300)
	// Minute 300: 60 error lines of the known error template.
	at := t0.Add(300 * time.Minute)
	r.push(at, "info", lines("user %d logged in", 1_000_000, 10)...)
	r.push(at.Add(time.Second), "error", lines("connection reset by peer %d", 1_000_000, 60)...)
	steady(r, &seed, 301, 302)

	got := r.found(EvidenceErrors)
	if len(got) != 1 {
		t.Fatalf("want one error burst, got %+v", got)
	}
	a := got[0]
	tpl, _ := r.set.Lookup("loki", a.TemplateID)
	if a.Observed != 60 || tpl.Template != "connection reset by peer <*>" || a.Labels["service"] != "api" {
		t.Errorf("anomaly %+v (template %q)", a, tpl.Template)
	}
	if !strings.Contains(a.Evidence[0].Reason, "error-level burst") || len(samplesOf(a)) != 3 {
		t.Errorf("evidence %+v", a.Evidence)
	}
	t.Logf("reason: %s", a.Evidence[0].Reason)
}

func TestCountSeriesAndClockFlush(t *testing.T) {
	r := newRig(t, DefaultConfig())
	r.push(t0, "info", lines("user %d logged in", 0, 4)...)
	r.push(t0.Add(30*time.Second), "error", "disk full on /var")
	// Nothing more arrives: a bucket past its end the clock closes it.
	r.mu.Lock()
	r.now = t0.Add(119 * time.Second)
	r.mu.Unlock()
	if err := r.det.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(r.series) != 0 {
		t.Fatalf("bucket closed before its grace: %+v", r.series)
	}
	r.mu.Lock()
	r.now = t0.Add(2 * time.Minute)
	r.mu.Unlock()
	if err := r.det.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, s := range r.series {
		if len(s.Samples) != 1 || s.Samples[0].TimestampMs != t0.Add(time.Minute).UnixMilli() {
			t.Errorf("series %v samples %+v", s.Labels, s.Samples)
		}
		key := s.Labels[osprey.LabelMetric]
		if id := s.Labels[LabelTemplateID]; id != "" {
			tpl, _ := r.set.Lookup("loki", id)
			key += " " + tpl.Template
		}
		got[key] = s.Samples[0].Value
	}
	want := map[string]float64{
		MetricTemplateCount + " user <*> logged in": 4,
		MetricTemplateCount + " disk full on <*>":   1,
		MetricErrorCount: 1,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("count series %v, want %v", got, want)
	}
	// A late line of the closed bucket counts in the next one.
	r.push(t0.Add(59*time.Second), "info", "user 9 logged in")
	if st := r.det.Stats(); st.Late != 1 || st.Buckets != 1 || st.Lines != 6 {
		t.Errorf("stats %+v", st)
	}
}

func TestSeriesCap(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxSeries = 2 // the error series and one template
	r := newRig(t, cfg)
	r.push(t0, "info", "user 1 logged in", "cache miss for key a1", "disk full on /var")
	r.push(t0.Add(time.Minute), "info", "user 2 logged in")
	st := r.det.Stats()
	if st.Series != 2 || st.Dropped != 2 {
		t.Errorf("stats %+v, want 2 series and 2 dropped counts", st)
	}
	if len(r.series) != 4 {
		t.Errorf("count series %d, want all 4 written", len(r.series))
	}
}

func TestMarkWarm(t *testing.T) {
	r := newRig(t, DefaultConfig())
	r.det.MarkWarm("loki")
	r.push(t0, "info", "user 1 logged in")
	if got := r.found(EvidenceNewTemplate); len(got) != 1 {
		t.Errorf("restored source: want the new template reported, got %+v", got)
	}
}

func TestConfigValidate(t *testing.T) {
	cfg := DefaultConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	cfg.Bucket, cfg.MaxSeries, cfg.WarmupLines = 0, 0, -1
	err := cfg.Validate()
	for _, want := range []string{"bucket", "max_series", "warmup_lines"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want a problem with %s", err, want)
		}
	}
}

func TestShutdownIdempotent(t *testing.T) {
	r := newRig(t, DefaultConfig())
	if err := r.det.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := r.det.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}
