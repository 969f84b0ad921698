package rca

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/metricstore"
)

// histOnset is the incident's first member in the tests below.
var histOnset = time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)

// noise is a deterministic wobble in [-1, 1].
func noise(i int) float64 { return math.Sin(float64(i)*1.7) * math.Cos(float64(i)*0.31) }

// series builds one series at step from histOnset−span to histOnset+after
// (exclusive): base + scale·noise, and jump added to the samples after
// from (if non-zero).
func series(l osprey.Labels, step, span, after time.Duration, base, scale, jump float64, from time.Time) osprey.Series {
	s := osprey.Series{Labels: l}
	i := 0
	for t := histOnset.Add(-span); t.Before(histOnset.Add(after)); t = t.Add(step) {
		v := base + scale*noise(i)
		if jump != 0 && t.After(from) {
			v += jump
		}
		s.Samples = append(s.Samples, osprey.Sample{TimestampMs: t.UnixMilli(), Value: v})
		i++
	}
	return s
}

// openStore starts a metric store in a temp dir holding batch (one
// transaction, so that a fresh head takes two days of samples of every
// series).
func openStore(t *testing.T, batch []osprey.Series) *metricstore.Store {
	t.Helper()
	ms, err := metricstore.New(metricstore.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := ms.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ms.Shutdown(context.Background()) })
	res, err := ms.AppendSeries(context.Background(), batch)
	if err != nil {
		t.Fatal(err)
	}
	if res.Rejected() != 0 {
		t.Fatalf("store rejected %d samples: %v", res.Rejected(), res)
	}
	return ms
}

// testStore holds the fixture: payment's 5-minute latency jumps from
// 0.1 to 1 at 12:00, frontend's stays normal; frontend's 15-second
// request rate jumps too but is left to the detector (a fine step with
// its warm-up), and Osprey's own score series of payment is never
// compared.
func testStore(t *testing.T) *metricstore.Store {
	day := 24 * time.Hour
	five := 5 * time.Minute
	from := histOnset.Add(-time.Millisecond)
	return openStore(t, []osprey.Series{
		series(osprey.Labels{"__name__": "latency_seconds", "service": "payment"}, five, 2*day, 10*time.Minute, 0.1, 0.01, 0.9, from),
		series(osprey.Labels{"__name__": "latency_seconds", "service": "frontend"}, five, 2*day, 10*time.Minute, 0.2, 0.02, 0, time.Time{}),
		series(osprey.Labels{"__name__": "requests_per_second", "service": "frontend"}, 15*time.Second, 3*time.Hour, 10*time.Minute, 50, 5, 500, from),
		series(osprey.Labels{"__name__": "osprey_anomaly_score", "metric": "latency_seconds", "service": "payment"}, five, 2*day, 10*time.Minute, 0, 0.01, 1, from),
	})
}

// testIncident has a warning of frontend at 12:04 and, a minute later,
// one of payment: both after the jump at 12:00, as alerts
// that wait for their condition to hold are (the lead, 5 minutes, puts
// the 12:00 samples in the incident).
func testIncident() *osprey.Incident {
	return &osprey.Incident{ID: "inc-1", Status: osprey.IncidentOpen, OpenedAt: histOnset, Members: []*osprey.Member{
		{Kind: osprey.MemberEvent, Name: "FrontendSlow", Labels: osprey.Labels{"service": "frontend"}, Severity: osprey.SeverityWarning,
			FirstRef: "ev-1", FirstSeen: histOnset.Add(4 * time.Minute)},
		{Kind: osprey.MemberEvent, Name: "PaymentSlow", Labels: osprey.Labels{"service": "payment"}, Severity: osprey.SeverityWarning,
			FirstRef: "ev-2", FirstSeen: histOnset.Add(5 * time.Minute)},
	}}
}

// reranks records the Rerank calls.
type reranks struct {
	mu  sync.Mutex
	ids []string
	err error
}

func (r *reranks) rerank(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ids = append(r.ids, id)
	return r.err
}

func (r *reranks) calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.ids...)
}

func newTestHistory(t *testing.T, ms *metricstore.Store, o HistoryOptions) (*HistoryEvidence, *reranks) {
	t.Helper()
	rr := &reranks{}
	o.History = TSDBHistory{Queryable: ms}
	o.Rerank = rr.rerank
	o.Lead = DefaultHistoryLead
	if o.Now == nil {
		o.Now = func() time.Time { return histOnset.Add(10 * time.Minute) }
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	h, err := NewHistoryEvidence(o)
	if err != nil {
		t.Fatal(err)
	}
	return h, rr
}

// runQueued runs the computations Evidence queued, as the worker would.
func runQueued(h *HistoryEvidence) {
	for {
		select {
		case id := <-h.queue:
			h.run(context.Background(), id)
		default:
			return
		}
	}
}

func TestHistoryEvidenceRanksTheDeviatingService(t *testing.T) {
	ms := testStore(t)
	h, rr := newTestHistory(t, ms, HistoryOptions{})
	inc := testIncident()
	ranker := IncidentRanker{Config: DefaultConfig(), Extra: h}

	// The first ranking has only the members: the earlier alert,
	// frontend's, wins, and the comparison is queued, not done under the
	// caller.
	causes := ranker.RankCauses(inc)
	if causes[0].Name != "frontend" {
		t.Fatalf("before the comparison: %+v", causes)
	}
	if len(rr.calls()) != 0 || len(h.queue) != 1 {
		t.Fatalf("reranks %v, queued %d; want none and 1", rr.calls(), len(h.queue))
	}
	runQueued(h)
	if got := rr.calls(); len(got) != 1 || got[0] != "inc-1" {
		t.Fatalf("reranks %v, want [inc-1]", got)
	}
	ev := h.Evidence(inc)
	if len(ev) != 1 || ev[0].Service != "payment" {
		t.Fatalf("evidence %+v, want one for payment", ev)
	}
	if !strings.Contains(ev[0].Signal, "latency_seconds") || !strings.Contains(ev[0].Signal, "comparison with the 168h before the incident") ||
		!strings.Contains(ev[0].Signal, "above its normal median") {
		t.Errorf("signal %q", ev[0].Signal)
	}
	// Its onset is the first deviating sample (12:00), the one after the
	// base at 11:55.
	if want := histOnset; !ev[0].Onset.Equal(want) {
		t.Errorf("onset %s, want %s", ev[0].Onset, want)
	}
	causes = ranker.RankCauses(inc)
	if causes[0].Name != "payment" || !strings.Contains(causes[0].Explanation, "comparison with the 168h before the incident") {
		t.Fatalf("after the comparison: %+v", causes)
	}
	// Same services: nothing queued again, no rerank.
	if len(h.queue) != 0 {
		t.Errorf("queued again for the same incident")
	}
	// Two latency series compared (payment's and frontend's); the
	// 15-second series is left to the detector, the score series unread.
	if got := testutil.ToFloat64(h.m.comparisons); got != 2 {
		t.Errorf("comparisons = %v, want 2", got)
	}
	if got := testutil.ToFloat64(h.m.seriesRead); got != 3 {
		t.Errorf("series read = %v, want 3", got)
	}
	if got := testutil.ToFloat64(h.m.capped); got != 0 {
		t.Errorf("capped = %v, want 0", got)
	}
}

func TestHistoryEvidenceAllComparesFineSeries(t *testing.T) {
	ms := testStore(t)
	h, _ := newTestHistory(t, ms, HistoryOptions{All: true})
	inc := testIncident()
	h.Evidence(inc)
	runQueued(h)
	ev := h.Evidence(inc)
	var got []string
	for _, e := range ev {
		got = append(got, e.Service+" "+strings.Fields(e.Signal)[0])
	}
	if strings.Join(got, ",") != "frontend requests_per_second,payment latency_seconds" &&
		strings.Join(got, ",") != "payment latency_seconds,frontend requests_per_second" {
		t.Errorf("evidence %v, want frontend's request rate and payment's latency", got)
	}
}

func TestHistoryEvidenceSymptomMetricAndNeighbours(t *testing.T) {
	ms := testStore(t)
	g := NewGraph()
	g.AddCall("frontend", "payment", 1)
	h, _ := newTestHistory(t, ms, HistoryOptions{All: true, Graph: func() *Graph { return g }})
	// An anomaly of frontend's request rate opens the incident: only
	// that metric is read, of frontend and of its callee payment.
	inc := &osprey.Incident{ID: "inc-2", Status: osprey.IncidentOpen, Members: []*osprey.Member{
		{Kind: osprey.MemberAnomaly, Name: "requests_per_second", Severity: osprey.SeverityWarning, FirstSeen: histOnset.Add(4 * time.Minute),
			Labels: osprey.Labels{"__name__": "requests_per_second", "service": "frontend"}},
	}}
	h.Evidence(inc)
	runQueued(h)
	ev := h.Evidence(inc)
	if len(ev) != 1 || ev[0].Service != "frontend" || !strings.HasPrefix(ev[0].Signal, "requests_per_second ") {
		t.Fatalf("evidence %+v", ev)
	}
	if got := testutil.ToFloat64(h.m.seriesRead); got != 1 {
		t.Errorf("series read = %v, want 1 (payment has no request-rate series)", got)
	}
	// Without the symptom metric, the callee's series are read too.
	inc.Members[0].Labels = osprey.Labels{"service": "frontend"}
	h.Evidence(inc)
	runQueued(h)
	services := map[string]bool{}
	for _, e := range h.Evidence(inc) {
		services[e.Service] = true
	}
	if !services["payment"] || !services["frontend"] {
		t.Errorf("evidence of %v, want payment (a callee) and frontend", services)
	}
	// An alert of an entry point two calls above payment: payment's
	// series are read too (historyHops).
	g.AddCall("edge", "frontend", 1)
	if services := alertEvidence(h, "inc-3", "EdgeSlow", "edge"); !services["payment"] {
		t.Errorf("evidence of %v, want payment (two calls from edge)", services)
	}
	// Three calls above payment: the whole graph is read, nearest first
	// (readOrder), within MaxSeries (two calls before session 10).
	g.AddCall("gateway", "edge", 1)
	if services := alertEvidence(h, "inc-4", "GatewaySlow", "gateway"); !services["payment"] {
		t.Errorf("evidence of %v, want payment (three calls from gateway)", services)
	}
}

// alertEvidence returns the services h compares for an open incident
// whose only member is the warning alert name of service, four minutes
// after histOnset, once the queued reads have run.
func alertEvidence(h *HistoryEvidence, id, name, service string) map[string]bool {
	inc := &osprey.Incident{ID: id, Status: osprey.IncidentOpen, Members: []*osprey.Member{
		{Kind: osprey.MemberEvent, Name: name, Severity: osprey.SeverityWarning, FirstSeen: histOnset.Add(4 * time.Minute),
			Labels: osprey.Labels{"service": service}},
	}}
	h.Evidence(inc)
	runQueued(h)
	services := map[string]bool{}
	for _, e := range h.Evidence(inc) {
		services[e.Service] = true
	}
	return services
}

func TestHistoryEvidenceCap(t *testing.T) {
	ms := testStore(t)
	h, _ := newTestHistory(t, ms, HistoryOptions{MaxSeries: 1})
	inc := testIncident()
	h.Evidence(inc)
	runQueued(h)
	if got := testutil.ToFloat64(h.m.seriesRead); got != 1 {
		t.Errorf("series read = %v, want 1", got)
	}
	if got := testutil.ToFloat64(h.m.capped); got != 1 {
		t.Errorf("capped = %v, want 1", got)
	}
}

// settableClock returns a clock at start, safe for the history's worker to
// read, and the function that moves it.
func settableClock(start time.Time) (now func() time.Time, set func(time.Time)) {
	var mu sync.Mutex
	clock := start
	now = func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	set = func(t time.Time) { mu.Lock(); clock = t; mu.Unlock() }
	return now, set
}

func TestHistoryEvidenceLifecycle(t *testing.T) {
	ms := testStore(t)
	now, set := settableClock(histOnset.Add(-time.Minute)) // the deviating samples are still to come
	h, rr := newTestHistory(t, ms, HistoryOptions{Now: now})
	inc := testIncident()
	h.Evidence(inc)
	runQueued(h)
	if len(rr.calls()) != 0 || h.Evidence(inc) != nil {
		t.Fatalf("evidence before the jump: %v, reranks %v", h.Evidence(inc), rr.calls())
	}
	// Until 12 steps after the base, the incident is computed again
	// every Refresh (a minute).
	h.refresh()
	if len(h.queue) != 0 {
		t.Fatalf("refreshed before Refresh passed")
	}
	set(histOnset)
	h.refresh()
	if len(h.queue) != 1 {
		t.Fatalf("not refreshed after Refresh")
	}
	runQueued(h)
	if len(rr.calls()) != 1 || len(h.Evidence(inc)) != 1 {
		t.Fatalf("after the jump: evidence %v, reranks %v", h.Evidence(inc), rr.calls())
	}
	// Past the compared range, no more refreshes.
	set(histOnset.Add(2 * time.Hour))
	h.refresh()
	if len(h.queue) != 0 {
		t.Errorf("refreshed past the compared range")
	}
	// An incident the correlator no longer holds is not computed again.
	rr.mu.Lock()
	rr.err = fmt.Errorf("rerank: %w", osprey.ErrNotFound)
	rr.mu.Unlock()
	inc.Members = inc.Members[:1] // frontend only: payment's evidence goes
	h.Evidence(inc)
	runQueued(h)
	if e := h.entries[inc.ID]; !e.closed {
		t.Errorf("entry not closed after the correlator did not find the incident")
	}
	// A resolved incident gets its last evidence and queues nothing.
	inc.Status = osprey.IncidentResolved
	inc.Members = testIncident().Members
	h.Evidence(inc)
	if len(h.queue) != 0 {
		t.Errorf("queued a resolved incident")
	}
}

func TestHistoryEvidenceWorker(t *testing.T) {
	ms := testStore(t)
	h, rr := newTestHistory(t, ms, HistoryOptions{})
	done := make(chan string, 1)
	h.o.Rerank = func(ctx context.Context, id string) error { done <- id; return rr.rerank(ctx, id) }
	if err := h.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.Evidence(testIncident())
	if id := <-done; id != "inc-1" {
		t.Errorf("reranked %q", id)
	}
	if err := h.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := h.Shutdown(context.Background()); err != nil {
		t.Errorf("second shutdown: %v", err)
	}
}

func TestHistoryEvidenceStoreClosed(t *testing.T) {
	ms := testStore(t)
	h, rr := newTestHistory(t, ms, HistoryOptions{})
	if err := ms.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	inc := testIncident()
	h.Evidence(inc)
	runQueued(h)
	if got := testutil.ToFloat64(h.m.errors); got != 1 {
		t.Errorf("errors = %v, want 1", got)
	}
	if len(rr.calls()) != 0 || h.Evidence(inc) != nil {
		t.Errorf("a failed read gave evidence or a rerank")
	}
	// It is tried again at the next ranking.
	h.Evidence(inc)
	if len(h.queue) != 1 {
		t.Errorf("a failed computation is not tried again")
	}
}

func TestSeriesName(t *testing.T) {
	got := seriesName(osprey.Labels{"__name__": "latency", "service": "a", "route": "/pay", "code": "500"}, "service")
	if want := `latency{code="500", route="/pay"}`; got != want {
		t.Errorf("seriesName = %s, want %s", got, want)
	}
}

// BenchmarkHistoryCompute measures one computation at the default bound:
// 64 series of 5-minute samples over the 7-day reference range (2,016
// samples each), all compared.
func BenchmarkHistoryCompute(b *testing.B) {
	var batch []osprey.Series
	for i := range DefaultHistoryMaxSeries {
		l := osprey.Labels{"__name__": "latency_seconds", "service": "svc", "route": fmt.Sprint(i)}
		batch = append(batch, series(l, 5*time.Minute, 7*24*time.Hour, 10*time.Minute, 0.1, 0.01, 0.9, histOnset.Add(-time.Millisecond)))
	}
	ms, err := metricstore.New(metricstore.Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	if err := ms.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer ms.Shutdown(context.Background())
	if _, err := ms.AppendSeries(context.Background(), batch); err != nil {
		b.Fatal(err)
	}
	h, err := NewHistoryEvidence(HistoryOptions{History: TSDBHistory{Queryable: ms}, Lead: DefaultHistoryLead,
		Now: func() time.Time { return histOnset.Add(10 * time.Minute) }})
	if err != nil {
		b.Fatal(err)
	}
	req := histRequest{services: []string{"svc"}, onset: histOnset.Add(4 * time.Minute)}
	b.ReportAllocs()
	for b.Loop() {
		ev, _, err := h.compute(context.Background(), req)
		if err != nil || len(ev) != DefaultHistoryMaxSeries {
			b.Fatalf("%d evidence, err %v", len(ev), err)
		}
	}
}

// TestHistoryEvidenceRunPending drives the history on a virtual clock
// without its worker: RunPending computes what Evidence queued, then at
// each later clock time the refreshes due, each with its rerank, and
// nothing once the compared range has passed.
func TestHistoryEvidenceRunPending(t *testing.T) {
	ms := testStore(t)
	now, set := settableClock(histOnset.Add(-time.Minute)) // the deviating samples are still to come
	h, rr := newTestHistory(t, ms, HistoryOptions{Now: now})
	inc := testIncident()
	ctx := context.Background()
	if n := h.RunPending(ctx); n != 0 {
		t.Fatalf("%d computations before any ranking", n)
	}
	h.Evidence(inc)
	if n := h.RunPending(ctx); n != 1 || len(rr.calls()) != 0 || h.Evidence(inc) != nil {
		t.Fatalf("before the jump: %d computations, evidence %v, reranks %v; want 1, none, none", n, h.Evidence(inc), rr.calls())
	}
	if n := h.RunPending(ctx); n != 0 {
		t.Fatalf("%d computations with nothing due", n)
	}
	set(histOnset) // a Refresh later: the jump is stored
	if n := h.RunPending(ctx); n != 1 || len(rr.calls()) != 1 || len(h.Evidence(inc)) != 1 {
		t.Fatalf("after the jump: %d computations, evidence %v, reranks %v; want 1, one, one", n, h.Evidence(inc), rr.calls())
	}
	set(histOnset.Add(2 * time.Hour))
	if n := h.RunPending(ctx); n != 0 {
		t.Errorf("%d computations past the compared range", n)
	}
}
