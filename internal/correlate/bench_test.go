package correlate_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/correlate"
	"github.com/osprey-aiops/osprey/internal/rca"
	"github.com/osprey-aiops/osprey/internal/store"
	"github.com/osprey-aiops/osprey/internal/store/postgres"
	"github.com/osprey-aiops/osprey/internal/store/sqlite"
	"github.com/osprey-aiops/osprey/internal/testenv"
)

// BenchmarkConsumeEvents measures the correlate stage on committed events in
// batches of 100 spread over 10 services and 50 distinct alerts (so most
// events are repeats that update a member), with the incidents written to a
// real SQLite store (synchronous=FULL: every commit is fsynced). The events
// are appended to the store before the timer starts, as the API would have
// done.
//
// Besides ns/op (one op is one batch of 100 events) it reports events/s and
// the p99 and max event→incident latency: from the ConsumeEvents call that
// carries an event to the moment its incident change, committed to the
// store, is handed to the next stage (Out); and the CPU time the process
// spent per batch (all its threads, the garbage collector's too), which a
// busy machine disturbs far less than the wall-clock figures. Where Linux
// tells (/proc/self/io), it also reports the bytes written and the read
// and write system calls per batch: the store's I/O, which no other load
// changes.
func BenchmarkConsumeEvents(b *testing.B) { benchConsume(b, 0, 50) }

// BenchmarkConsumeEventsWithSilences is BenchmarkConsumeEvents with 50
// active silences loaded, none of which matches, so every firing event is
// checked against all of them (the worst case short of suppression).
func BenchmarkConsumeEventsWithSilences(b *testing.B) { benchConsume(b, 50, 50) }

// BenchmarkConsumeEventsLargeIncidents is BenchmarkConsumeEvents with 5,000
// distinct alerts over the 10 services, so each incident grows to 500
// members: the cost of a member update must not grow with the incident.
func BenchmarkConsumeEventsLargeIncidents(b *testing.B) { benchConsume(b, 0, 5000) }

// BenchmarkConsumeEventsLargeIncidentsRCA is BenchmarkConsumeEventsLargeIncidents
// with the root-cause ranker the application uses (no call graph), which
// ranks an incident again whenever a member joins it.
func BenchmarkConsumeEventsLargeIncidentsRCA(b *testing.B) {
	benchConsumeWith(b, 0, 5000, rca.IncidentRanker{Config: rca.DefaultConfig()})
}

// BenchmarkConsumeEventsLargeIncidentsConcurrentRCA is
// BenchmarkConsumeEventsLargeIncidentsRCA with the ranker serve wires
// (rca.ConcurrentIncidentRanker): an incident that gains a member also
// has its concurrent incidents ranked again.
func BenchmarkConsumeEventsLargeIncidentsConcurrentRCA(b *testing.B) {
	benchConsumeWith(b, 0, 5000, rca.ConcurrentIncidentRanker{IncidentRanker: rca.IncidentRanker{Config: rca.DefaultConfig()}})
}

// BenchmarkConsumeEventsLargeIncidentsConcurrentRCABatch1000 is
// BenchmarkConsumeEventsLargeIncidentsConcurrentRCA with batches of 1,000
// events instead of 100: how much of a batch's cost (the store's
// transaction, the incidents' rankings) is paid per batch rather than per
// event, which a flood (queued batches delivered as one) would share out.
// Its p99 is a batch's latency, so its first event waits the longest.
func BenchmarkConsumeEventsLargeIncidentsConcurrentRCABatch1000(b *testing.B) {
	st := openBenchStore(b)
	benchConsumeOn(b, st, 0, 5000, 10, 1000, rca.ConcurrentIncidentRanker{IncidentRanker: rca.IncidentRanker{Config: rca.DefaultConfig()}})
}

// BenchmarkConsumeEventsManyIncidentsRCA spreads 5,000 distinct alerts
// over 500 services: 500 incidents open at once, 10 members each, ranked
// with the plain ranker.
func BenchmarkConsumeEventsManyIncidentsRCA(b *testing.B) {
	benchConsumeServices(b, 0, 5000, 500, rca.IncidentRanker{Config: rca.DefaultConfig()})
}

// BenchmarkConsumeEventsManyIncidentsConcurrentRCA is
// BenchmarkConsumeEventsManyIncidentsRCA with the ranker serve wires: the
// 500 incidents are all concurrent, so each change ranks the others again
// over all their members (the storm case of rca.concurrent).
func BenchmarkConsumeEventsManyIncidentsConcurrentRCA(b *testing.B) {
	benchConsumeServices(b, 0, 5000, 500, rca.ConcurrentIncidentRanker{IncidentRanker: rca.IncidentRanker{Config: rca.DefaultConfig()}})
}

// latencyRecorder is the Out of the benchmarked correlator: it notes when
// each batch's changes were handed on.
type latencyRecorder struct {
	mu   sync.Mutex
	last time.Time
}

func (r *latencyRecorder) ConsumeIncidents(context.Context, []osprey.Incident) error {
	r.mu.Lock()
	r.last = time.Now()
	r.mu.Unlock()
	return nil
}

// BenchmarkConsumeEventsPostgres is BenchmarkConsumeEvents on PostgreSQL
// (127.0.0.1:5432, a fresh schema; skipped when the server is not there).
func BenchmarkConsumeEventsPostgres(b *testing.B) {
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, testenv.PostgresDSN())
	if err != nil {
		testenv.Unavailable(b, "PostgreSQL", err)
	}
	schema := fmt.Sprintf("bench_correlate_%d", time.Now().UnixNano())
	defer func() {
		_, _ = admin.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
		admin.Close(ctx)
	}()
	st, err := postgres.Open(ctx, testenv.PostgresDSN(), schema, 4)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	benchConsumeOn(b, st, 0, 50, 10, benchBatch, nil)
}

func benchConsume(b *testing.B, silences, alerts int) { benchConsumeWith(b, silences, alerts, nil) }

func benchConsumeWith(b *testing.B, silences, alerts int, causes correlate.CauseRanker) {
	benchConsumeServices(b, silences, alerts, 10, causes)
}

// benchConsumeServices is benchConsumeWith with the alerts spread over
// services services (one incident each).
func benchConsumeServices(b *testing.B, silences, alerts, services int, causes correlate.CauseRanker) {
	benchConsumeOn(b, openBenchStore(b), silences, alerts, services, benchBatch, causes)
}

// benchBatch is the events per ConsumeEvents call of the benchmarks.
const benchBatch = 100

// openBenchStore opens a SQLite store in b's temporary folder, closed when
// b ends.
func openBenchStore(b *testing.B) store.Store {
	st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "osprey.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

func benchConsumeOn(b *testing.B, st store.Store, silences, alerts, services, batchSize int, causes correlate.CauseRanker) {
	ctx := context.Background()
	for i := range silences {
		err := st.SaveSilence(ctx, osprey.Silence{
			ID: fmt.Sprintf("s%d", i),
			Matchers: []osprey.Matcher{
				{Name: "service", Type: osprey.MatchEqual, Value: fmt.Sprintf("svc%d", i%10)},
				{Name: "pod", Type: osprey.MatchRegexp, Value: fmt.Sprintf("other-%d-.*", i)},
			},
			StartsAt: t0.Add(-time.Hour), EndsAt: t0.Add(24 * time.Hour), CreatedBy: "bench",
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	out := &latencyRecorder{}
	c := startWith(b, correlate.Options{
		Store: st, Window: 5 * time.Minute, GroupBy: []string{"service"},
		CatchUpInterval: time.Hour, Registerer: prometheus.NewRegistry(),
		Now: func() time.Time { return t0 }, Out: out, Causes: causes,
	})

	batches := make([][]osprey.Event, b.N)
	at := t0
	n := 0
	for i := range batches {
		batch := make([]osprey.Event, batchSize)
		for j := range batch {
			at = at.Add(10 * time.Millisecond)
			k := n % alerts
			n++
			labels := osprey.Labels{"service": fmt.Sprintf("svc%d", k%services), "pod": fmt.Sprintf("p%d", k/services)}
			name := "HighLatency"
			batch[j] = osprey.Event{
				ID: osprey.NewID(at), Source: "bench", Name: name, Labels: labels,
				Status: osprey.StatusFiring, StartsAt: at, ReceivedAt: at,
				Fingerprint: osprey.EventFingerprint(name, labels),
			}
		}
		if err := st.AppendEvents(ctx, batch); err != nil {
			b.Fatal(err)
		}
		batches[i] = batch
	}
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0, io0 := cpuTime(b), readIO()
	start := time.Now()
	for i := range b.N {
		called := time.Now()
		if err := c.ConsumeEvents(ctx, batches[i]); err != nil {
			b.Fatal(err)
		}
		out.mu.Lock()
		lat = append(lat, out.last.Sub(called))
		out.mu.Unlock()
	}
	elapsed := time.Since(start)
	cpu, io := cpuTime(b)-cpu0, readIO()
	b.StopTimer()
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
	if io0 != nil && io != nil {
		b.ReportMetric(float64(io["wchar"]-io0["wchar"])/1024/float64(b.N), "written-KiB/op")
		b.ReportMetric(float64(io["syscr"]+io["syscw"]-io0["syscr"]-io0["syscw"])/float64(b.N), "io-syscalls/op")
	}
	b.ReportMetric(float64(b.N*batchSize)/elapsed.Seconds(), "events/s")
	slices.Sort(lat)
	b.ReportMetric(float64(lat[(len(lat)*99)/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
}

// cpuTime returns the CPU time, user and system, the process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// readIO returns the counters of /proc/self/io (wchar, syscr, syscw, ...),
// or nil where there is no such file.
func readIO() map[string]int64 {
	text, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return nil
	}
	out := map[string]int64{}
	for _, line := range strings.Split(string(text), "\n") {
		name, v, ok := strings.Cut(line, ": ")
		if !ok {
			continue
		}
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			out[name] = n
		}
	}
	return out
}
