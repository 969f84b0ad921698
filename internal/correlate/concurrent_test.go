package correlate_test

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/correlate"
	"github.com/osprey-aiops/osprey/internal/rca"
	"github.com/osprey-aiops/osprey/internal/store"
)

// With a ConcurrentRanker, an incident is ranked with the incidents that
// opened within the window of its opening, and ranked again (stored,
// handed on, with an rca timeline entry) when a concurrent incident opens
// or gains a member (stored when only its scores changed); an incident
// opened later than the window is not read.
func TestConcurrentIncidentsRankedTogether(t *testing.T) {
	st := openStore(t)
	out := &collect{}
	c := startWith(t, correlate.Options{
		Store: st, Window: 5 * time.Minute, GroupBy: []string{"service"},
		CatchUpInterval: time.Hour, Now: func() time.Time { return t0.Add(time.Minute) },
		Registerer: prometheus.NewRegistry(), Out: out,
		Causes: rca.ConcurrentIncidentRanker{IncidentRanker: rca.IncidentRanker{Config: rca.DefaultConfig()}},
	})
	consume := func(e ev) {
		t.Helper()
		if err := c.ConsumeEvents(context.Background(), appendEvents(t, st, []ev{e})); err != nil {
			t.Fatal(err)
		}
	}
	causesOf := func(service string) []string { t.Helper(); return causeNamesOf(t, st, service) }
	consume(ev{at: 0, name: "Slow", labels: osprey.Labels{"service": "seat"}, severity: osprey.SeverityWarning})
	if got := causesOf("seat"); !slices.Equal(got, []string{"seat"}) {
		t.Fatalf("seat's incident alone: causes %v", got)
	}
	// A deploy of verification 20 s later opens its own incident; its
	// change is verification's own evidence, a candidate of seat's.
	handed := len(out.incs)
	consume(ev{at: 20 * time.Second, name: "deploy", labels: osprey.Labels{"service": "verification"}, severity: osprey.SeverityWarning})
	if got := causesOf("seat"); !slices.Equal(got, []string{"verification", "seat"}) {
		t.Fatalf("seat's incident after verification's opened: causes %v, want verification, seat", got)
	}
	var seat *osprey.Incident
	for i := range out.incs[handed:] {
		if inc := &out.incs[handed+i]; inc.Labels.Get("service") == "seat" {
			seat = inc
		}
	}
	if seat == nil {
		t.Fatal("seat's re-ranked incident was not handed on")
	}
	if !strings.Contains(seat.Causes[0].Explanation, "concurrent incident") {
		t.Errorf("explanation %q does not name the concurrent incident", seat.Causes[0].Explanation)
	}
	if last := seat.Timeline[len(seat.Timeline)-1]; last.Kind != osprey.TimelineRCA || !strings.Contains(last.Message, "service verification") {
		t.Errorf("last timeline entry %+v, want the new ranking", last)
	}
	// A stronger change joining verification's incident ranks seat's
	// again: the concurrent evidence's score rose.
	scoreOf := func(service string) float64 {
		t.Helper()
		for _, inc := range incidents(t, st) {
			if inc.Labels.Get("service") == "seat" {
				for _, cs := range inc.Causes {
					if cs.Name == service {
						return cs.Score
					}
				}
			}
		}
		t.Fatalf("no cause %s in seat's incident", service)
		return 0
	}
	before := scoreOf("verification")
	consume(ev{at: 40 * time.Second, name: "deploy", labels: osprey.Labels{"service": "verification", "version": "2"},
		severity: osprey.SeverityCritical})
	if n := len(incidents(t, st)); n != 2 {
		t.Fatalf("%d incidents, want the change to join verification's", n)
	}
	if after := scoreOf("verification"); !(after > before) {
		t.Errorf("verification's score in seat's incident %v after a critical change joined its incident, want above %v", after, before)
	}
	// A deploy ten minutes later is not concurrent with seat's incident.
	consume(ev{at: 10 * time.Minute, name: "deploy", labels: osprey.Labels{"service": "other"}, severity: osprey.SeverityWarning})
	if got := causesOf("seat"); !slices.Equal(got, []string{"verification", "seat"}) {
		t.Errorf("seat's incident after a later deploy: causes %v, want verification, seat", got)
	}
	if got := causesOf("other"); !slices.Equal(got, []string{"other"}) {
		t.Errorf("the later deploy's incident: causes %v, want other alone", got)
	}
}

// perIncidentCounter is a ConcurrentIncidentRanker that counts its rankings
// per incident, one at a time and in batches (correlate.BatchRanker).
type perIncidentCounter struct {
	rca.ConcurrentIncidentRanker
	mu    sync.Mutex
	calls map[string]int
}

func (r *perIncidentCounter) RankCausesAmong(inc *osprey.Incident, concurrent []*osprey.Incident) []osprey.Cause {
	r.mu.Lock()
	r.calls[inc.ID]++
	r.mu.Unlock()
	return r.ConcurrentIncidentRanker.RankCausesAmong(inc, concurrent)
}

// RankBatch counts the rankings of the batch (the embedded ranker's
// RankBatch would not).
func (r *perIncidentCounter) RankBatch() func(*osprey.Incident, []*osprey.Incident) []osprey.Cause {
	rank := r.ConcurrentIncidentRanker.RankBatch()
	return func(inc *osprey.Incident, concurrent []*osprey.Incident) []osprey.Cause {
		r.mu.Lock()
		r.calls[inc.ID]++
		r.mu.Unlock()
		return rank(inc, concurrent)
	}
}

// take returns the counts since the last take and starts again.
func (r *perIncidentCounter) take() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	calls := r.calls
	r.calls = map[string]int{}
	return calls
}

// A batch ranks each incident whose ranking it made stale (one that
// opened, gained a member or saw a severity rise, and the concurrent
// incidents of those) once, after all its signals, and the rankings it
// ends with are those of the same events consumed one at a time, each
// ranking its incident and the concurrent ones again.
func TestBatchRanksEachStaleIncidentOnce(t *testing.T) {
	newRig := func() (*correlate.Correlator, *perIncidentCounter, store.Store) {
		st := openStore(t)
		r := &perIncidentCounter{calls: map[string]int{},
			ConcurrentIncidentRanker: rca.ConcurrentIncidentRanker{IncidentRanker: rca.IncidentRanker{Config: rca.DefaultConfig()}}}
		c := startWith(t, correlate.Options{
			Store: st, Window: 5 * time.Minute, GroupBy: []string{"service"},
			CatchUpInterval: time.Hour, Now: func() time.Time { return t0.Add(2 * time.Minute) },
			Registerer: prometheus.NewRegistry(), Causes: r,
		})
		return c, r, st
	}
	batched, br, bst := newRig()
	eager, er, est := newRig()
	// consume hands evs to batched as one batch and to eager one event
	// at a time (the same events: ids, times), and returns the counts of
	// the batch's rankings and of the eager ones.
	consume := func(evs []ev) (map[string]int, map[string]int) {
		t.Helper()
		batch := appendEvents(t, bst, evs)
		single := make([]osprey.Event, len(batch))
		for i, e := range batch {
			e.Seq = 0
			single[i] = e
		}
		if err := est.AppendEvents(context.Background(), single); err != nil {
			t.Fatal(err)
		}
		br.take()
		if err := batched.ConsumeEvents(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
		er.take()
		for i := range single {
			if err := eager.ConsumeEvents(context.Background(), single[i:i+1]); err != nil {
				t.Fatal(err)
			}
		}
		return br.take(), er.take()
	}
	// rankings returns each incident's causes by its service, with the
	// incident ids in explanations replaced by their services (the two
	// correlators give their incidents different ids).
	rankings := func(st store.Store) map[string][]osprey.Cause {
		t.Helper()
		incs := incidents(t, st)
		out := map[string][]osprey.Cause{}
		for _, inc := range incs {
			causes := slices.Clone(inc.Causes)
			for i := range causes {
				for _, o := range incs {
					causes[i].Explanation = strings.ReplaceAll(causes[i].Explanation, o.ID, "incident of "+o.Labels.Get("service"))
				}
			}
			out[inc.Labels.Get("service")] = causes
		}
		return out
	}
	check := func(step string, batchCalls, eagerCalls map[string]int, wantRanked int) {
		t.Helper()
		if len(batchCalls) != wantRanked {
			t.Errorf("%s: the batch ranked %d incidents, want %d", step, len(batchCalls), wantRanked)
		}
		for id, n := range batchCalls {
			if n != 1 {
				t.Errorf("%s: the batch ranked incident %s %d times, want once", step, id, n)
			}
		}
		eagerTotal := 0
		for _, n := range eagerCalls {
			eagerTotal += n
		}
		if eagerTotal <= wantRanked {
			t.Errorf("%s: one at a time ranked %d times, want more than the batch's %d (the test shows nothing)", step, eagerTotal, wantRanked)
		}
		got, want := rankings(bst), rankings(est)
		if len(got) != len(want) {
			t.Fatalf("%s: %d incidents batched, %d one at a time", step, len(got), len(want))
		}
		for svc, w := range want {
			if g := got[svc]; !slices.EqualFunc(g, w, func(a, b osprey.Cause) bool {
				return a.Kind == b.Kind && a.Name == b.Name && a.Score == b.Score &&
					a.Explanation == b.Explanation && slices.Equal(a.EvidenceIDs, b.EvidenceIDs)
			}) {
				t.Errorf("%s: %s's causes batched\n%+v\none at a time\n%+v", step, svc, g, w)
			}
		}
	}
	warn, crit := osprey.SeverityWarning, osprey.SeverityCritical
	// Five incidents open in one batch, most gaining members in it too.
	b, e := consume([]ev{
		{at: 0, name: "Slow", labels: osprey.Labels{"service": "seat"}, severity: warn},
		{at: 5 * time.Second, name: "Errors", labels: osprey.Labels{"service": "order"}, severity: warn},
		{at: 10 * time.Second, name: "deploy", labels: osprey.Labels{"service": "price"}, severity: warn},
		{at: 12 * time.Second, name: "Errors", labels: osprey.Labels{"service": "seat"}, severity: crit},
		{at: 15 * time.Second, name: "Slow", labels: osprey.Labels{"service": "food"}, severity: warn},
		{at: 18 * time.Second, name: "Slow", labels: osprey.Labels{"service": "order"}, severity: crit},
		{at: 20 * time.Second, name: "Slow", labels: osprey.Labels{"service": "auth"}, severity: warn},
		{at: 25 * time.Second, name: "Latency", labels: osprey.Labels{"service": "food"}, severity: warn},
	})
	check("opening batch", b, e, 5)
	// Two of them gain members and one sees a severity rise: the other
	// two are ranked again as their concurrent incidents, each once.
	b, e = consume([]ev{
		{at: 40 * time.Second, name: "Latency", labels: osprey.Labels{"service": "seat"}, severity: warn},
		{at: 42 * time.Second, name: "deploy", labels: osprey.Labels{"service": "price", "version": "2"}, severity: crit},
		{at: 45 * time.Second, name: "Latency", labels: osprey.Labels{"service": "seat", "pod": "b"}, severity: crit},
		{at: 50 * time.Second, name: "Slow", labels: osprey.Labels{"service": "auth"}, severity: crit},
	})
	check("growing batch", b, e, 5)
}

// oneAtATime is a ConcurrentRanker that is not a BatchRanker: it ranks
// with the ConcurrentIncidentRanker it holds, one ranking at a time.
type oneAtATime struct{ r rca.ConcurrentIncidentRanker }

func (o oneAtATime) RankCauses(inc *osprey.Incident) []osprey.Cause { return o.r.RankCauses(inc) }

func (o oneAtATime) RankCausesAmong(inc *osprey.Incident, concurrent []*osprey.Incident) []osprey.Cause {
	return o.r.RankCausesAmong(inc, concurrent)
}

// A correlator whose ranker ranks a batch's incidents together
// (BatchRanker) stores the incidents, causes and timelines that it stores
// when its ranker ranks them one at a time, batch after batch: incidents
// opening, growing, rising in severity, and ranked again as the
// concurrent incidents of others.
func TestBatchRankingStoresWhatRankingOneAtATimeStores(t *testing.T) {
	ranker := rca.ConcurrentIncidentRanker{IncidentRanker: rca.IncidentRanker{Config: rca.DefaultConfig()}}
	rig := func(causes correlate.CauseRanker) (*correlate.Correlator, store.Store) {
		st := openStore(t)
		c := startWith(t, correlate.Options{
			Store: st, Window: 5 * time.Minute, GroupBy: []string{"service"},
			CatchUpInterval: time.Hour, Now: func() time.Time { return t0.Add(3 * time.Minute) },
			Registerer: prometheus.NewRegistry(), Causes: causes,
		})
		return c, st
	}
	if _, ok := correlate.CauseRanker(ranker).(correlate.BatchRanker); !ok {
		t.Fatal("rca.ConcurrentIncidentRanker is not a correlate.BatchRanker: the test compares nothing")
	}
	batched, bst := rig(ranker)
	single, sst := rig(oneAtATime{ranker})
	warn, crit := osprey.SeverityWarning, osprey.SeverityCritical
	svcs := []string{"seat", "order", "price", "food", "auth"}
	var at time.Duration
	for b := range 6 {
		var evs []ev
		for i := range 12 {
			at += 700 * time.Millisecond
			svc := svcs[(b*7+i*3)%len(svcs)]
			name := []string{"Slow", "Errors", "Latency", "deploy"}[(b+i)%4]
			sev := warn
			if (b+i)%5 == 0 {
				sev = crit
			}
			evs = append(evs, ev{at: at, name: name, labels: osprey.Labels{"service": svc, "pod": "p" + string(rune('a'+i%3))}, severity: sev})
		}
		batch := appendEvents(t, bst, evs)
		if err := sst.AppendEvents(context.Background(), slices.Clone(batch)); err != nil {
			t.Fatal(err)
		}
		if err := batched.ConsumeEvents(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
		if err := single.ConsumeEvents(context.Background(), slices.Clone(batch)); err != nil {
			t.Fatal(err)
		}
	}
	// stored returns each incident, read back with its timeline, by its
	// service, with incident ids replaced by their services (the two
	// correlators give their incidents different ids) and the timeline's
	// Seqs cleared.
	stored := func(st store.Store) map[string]osprey.Incident {
		t.Helper()
		incs := incidents(t, st)
		out := map[string]osprey.Incident{}
		for _, listed := range incs {
			inc, err := st.GetIncident(context.Background(), listed.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range incs {
				name := "incident of " + o.Labels.Get("service")
				for i := range inc.Causes {
					inc.Causes[i].Explanation = strings.ReplaceAll(inc.Causes[i].Explanation, o.ID, name)
				}
				for i := range inc.Timeline {
					inc.Timeline[i].Message = strings.ReplaceAll(inc.Timeline[i].Message, o.ID, name)
				}
			}
			inc.ID = ""
			for i := range inc.Timeline {
				inc.Timeline[i].Seq = 0
			}
			out[inc.Labels.Get("service")] = inc
		}
		return out
	}
	got, want := stored(bst), stored(sst)
	if len(want) != len(svcs) {
		t.Fatalf("%d incidents one at a time, want one per service (%d)", len(want), len(svcs))
	}
	rcaEntries := 0
	for svc, w := range want {
		for _, e := range w.Timeline {
			if e.Kind == osprey.TimelineRCA {
				rcaEntries++
			}
		}
		if g, ok := got[svc]; !ok || !reflect.DeepEqual(g, w) {
			t.Errorf("%s: batched\n%+v\none at a time\n%+v", svc, g, w)
		}
	}
	if rcaEntries <= len(svcs) {
		t.Errorf("%d rankings changed over %d incidents: the test ranks too little to show anything", rcaEntries, len(svcs))
	}
}

// causeNamesOf returns the names of the causes of the stored incident
// labelled with service.
func causeNamesOf(t *testing.T, st store.Store, service string) []string {
	t.Helper()
	for _, inc := range incidents(t, st) {
		if inc.Labels.Get("service") == service {
			var names []string
			for _, cs := range inc.Causes {
				names = append(names, cs.Name)
			}
			return names
		}
	}
	t.Fatalf("no incident of %s", service)
	return nil
}
