package correlate_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/bus"
	"github.com/osprey-aiops/osprey/internal/correlate"
	"github.com/osprey-aiops/osprey/internal/rca"
	"github.com/osprey-aiops/osprey/internal/store"
)

// BenchmarkEventFlood is the correlate stage as serve wires it, under an
// alert flood: batches of 100 events are published on the in-process bus
// at a fixed rate (50,000 events/s), the correlator takes them from its
// queue with the serve default bus.coalesce_events (queued batches handed
// on as one) or without (coalesce=1), and ranks with the concurrent
// ranker over a SQLite store, on the alerts of
// BenchmarkConsumeEventsLargeIncidentsConcurrentRCA (5,000 distinct alerts
// in 10 services).
//
// The correlator runs with the commit pipeline and the bus calls its Flush
// when the events topic has nothing queued, as serve wires them
// (OSPREY_FLOOD_PIPELINE=0: without the pipeline, as before session 12).
//
// It reports the events/s the stage kept up with (events handed on over
// the time from the first publish to the last hand-on: below the offered
// rate when it falls behind), and the p99 and max event→incident latency
// from the publish of an event's batch to the moment its incident change
// was committed and handed on: the correlator's Out call after the commit
// that stored a checkpoint at or past the batch's last event (floodStore
// notes the checkpoint each commit stored). With the pipeline the handler
// returns before its commit, so its return is not the end; without it the
// two are the same moment. A queue that grows shows in the latency;
// p99-2nd-half-ms is the p99 of
// the batches published in the second half of the flood, after the first
// tenth brought all 5,000 alerts new (OSPREY_FLOOD_DEBUG=1 logs p50 and
// p99 per tenth, and the size and duration of the first 40 calls; with
// -test.v, or the log is cut). cpu-ms/op is the process's CPU time per
// published batch, publishing included, which a busy machine disturbs
// less than the latencies. One op is one published batch; -benchtime
// 2000x is 4 s of flood, 250x its first half second (the 5,000 new
// alerts and three repeats of each). OSPREY_FLOOD_COALESCE=1000,2000
// runs other coalescing limits instead of 1 and 5,000.
func BenchmarkEventFlood(b *testing.B) {
	limits := []int{1, 5000}
	if env := os.Getenv("OSPREY_FLOOD_COALESCE"); env != "" {
		limits = nil // e.g. "1000,2000,5000": other limits to compare
		for _, f := range strings.Split(env, ",") {
			n, err := strconv.Atoi(f)
			if err != nil {
				b.Fatalf("OSPREY_FLOOD_COALESCE: %v", err)
			}
			limits = append(limits, n)
		}
	}
	for _, coalesce := range limits {
		b.Run(fmt.Sprintf("rate=50000/coalesce=%d", coalesce), func(b *testing.B) {
			benchFlood(b, 50000, coalesce)
		})
	}
}

func benchFlood(b *testing.B, rate, coalesce int) {
	ctx := context.Background()
	var (
		mu      sync.Mutex
		lat     = make([]time.Duration, 0, b.N)
		last    time.Time
		handled int
		next    int         // the first batch not yet handed on
		calls   []floodCall // OSPREY_FLOOD_DEBUG: each call's size and duration
	)
	batches := make([][]osprey.Event, b.N)
	published := make([]time.Time, b.N)
	// handedOn records the batches whose events a commit up to seq
	// stored, at their hand-on at now (commits are in order).
	handedOn := func(seq int64, now time.Time) {
		mu.Lock()
		defer mu.Unlock()
		for next < len(batches) && len(batches[next]) > 0 && batches[next][len(batches[next])-1].Seq <= seq {
			lat = append(lat, now.Sub(published[next]))
			handled += len(batches[next])
			last = now
			next++
		}
	}
	st, c := startFloodCorrelator(b, handedOn)

	const batchSize, alerts, services = 100, 5000, 10
	at := t0
	for i := range batches {
		batch := make([]osprey.Event, batchSize)
		for j := range batch {
			at = at.Add(10 * time.Millisecond)
			batch[j] = floodEvent(at, (i*batchSize+j)%alerts, services)
		}
		if err := st.AppendEvents(ctx, batch); err != nil {
			b.Fatal(err)
		}
		mu.Lock()
		batches[i] = batch
		mu.Unlock()
	}

	bs := newFloodBus(c, coalesce)
	err := bus.Subscribe(bs, bus.Events, "correlate", func(ctx context.Context, batch []osprey.Event) error {
		called := time.Now()
		if err := c.ConsumeEvents(ctx, batch); err != nil {
			return err
		}
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, floodCall{at: called, events: len(batch), took: now.Sub(called)})
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := bs.Start(ctx); err != nil {
		b.Fatal(err)
	}
	every := time.Second * batchSize / time.Duration(rate)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime(b)
	start := time.Now()
	for i := range b.N {
		if wait := time.Until(start.Add(time.Duration(i) * every)); wait > 0 {
			time.Sleep(wait)
		}
		mu.Lock()
		published[i] = time.Now()
		mu.Unlock()
		if err := bus.Publish(ctx, bs, bus.Events, batches[i]); err != nil {
			b.Fatal(err)
		}
	}
	if err := bs.Shutdown(ctx); err != nil {
		b.Fatal(err)
	}
	if err := floodFlush(ctx, c); err != nil {
		b.Fatal(err)
	}
	cpu := cpuTime(b) - cpu0
	b.StopTimer()
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
	mu.Lock()
	defer mu.Unlock()
	if handled != b.N*batchSize {
		b.Fatalf("handled %d events, want %d", handled, b.N*batchSize)
	}
	b.ReportMetric(float64(handled)/last.Sub(start).Seconds(), "events/s")
	if os.Getenv("OSPREY_FLOOD_DEBUG") != "" && len(lat) >= 100 {
		for q := 0; q < 10; q++ {
			part := slices.Clone(lat[q*len(lat)/10 : (q+1)*len(lat)/10])
			slices.Sort(part)
			b.Logf("tenth %d: p50 %v p99 %v", q, part[len(part)/2], part[len(part)*99/100])
		}
		for i, call := range calls[:min(len(calls), 40)] {
			b.Logf("call %d at +%v: %d events in %v", i, call.at.Sub(start).Round(time.Millisecond), call.events, call.took.Round(100*time.Microsecond))
		}
	}
	if len(lat) >= 2 {
		// The flood's first tenth brings all 5,000 alerts new: the
		// second half is the stage's steady state under the flood.
		late := slices.Clone(lat[len(lat)/2:])
		slices.Sort(late)
		b.ReportMetric(float64(late[(len(late)*99)/100].Microseconds())/1000, "p99-2nd-half-ms")
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[(len(lat)*99)/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
}

// floodCall is one handler call of benchFlood: when it began, how many
// events it carried and how long it took (with the pipeline, not its
// commit).
type floodCall struct {
	at     time.Time
	events int
	took   time.Duration
}

// BenchmarkFloodColdStart is the work of the start of BenchmarkEventFlood
// without its clock: the 5,000 alerts of the flood arrive new, then once
// again each, in calls the size the bus's coalescing gave the flood's
// first calls on this machine (100, 300, 800, 1,900 events, then the rest
// in calls of 5,000), on a fresh SQLite store and correlator for every op
// (opened outside the timer), with the concurrent ranker. One op is the
// whole start (10,000 events); cpu-ms/op is the process's CPU time for
// it, which load disturbs less than the wall time, and first-5000-ms the
// wall time until the changes of the calls that brought the 5,000 new
// alerts were committed and handed on. The correlator runs with the
// commit pipeline, as serve's (OSPREY_FLOOD_PIPELINE=0: without), and the
// op ends with its Flush.
func BenchmarkFloodColdStart(b *testing.B) {
	ctx := context.Background()
	const alerts, services = 5000, 10
	sizes := []int{100, 300, 800, 1900, 1900, 5000}
	var cpu, first time.Duration
	b.ReportAllocs()
	for range b.N {
		b.StopTimer()
		var (
			mu           sync.Mutex
			target       int64 = -1 // the last Seq of the first 5,000 alerts
			start, until time.Time
		)
		st, c := startFloodCorrelator(b, func(seq int64, now time.Time) {
			mu.Lock()
			defer mu.Unlock()
			if target >= 0 && seq >= target && until.IsZero() {
				until = now
			}
		})
		calls := make([][]osprey.Event, len(sizes))
		at, n := t0, 0
		for i, size := range sizes {
			batch := make([]osprey.Event, size)
			for j := range batch {
				at = at.Add(10 * time.Millisecond)
				batch[j] = floodEvent(at, n%alerts, services)
				n++
			}
			if err := st.AppendEvents(ctx, batch); err != nil {
				b.Fatal(err)
			}
			calls[i] = batch
		}
		mu.Lock()
		target = calls[4][len(calls[4])-1].Seq
		mu.Unlock()
		b.StartTimer()
		cpu0 := cpuTime(b)
		mu.Lock()
		start = time.Now()
		mu.Unlock()
		for _, batch := range calls {
			if err := c.ConsumeEvents(ctx, batch); err != nil {
				b.Fatal(err)
			}
		}
		if err := floodFlush(ctx, c); err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime(b) - cpu0
		mu.Lock()
		if until.IsZero() {
			b.Fatal("the first 5,000 alerts were not handed on")
		}
		first += until.Sub(start)
		mu.Unlock()
	}
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
	b.ReportMetric(float64(first.Microseconds())/1000/float64(b.N), "first-5000-ms")
}

// floodEvent is the flood's firing alert number k at at: HighLatency of
// pod k/services in service k%services.
func floodEvent(at time.Time, k, services int) osprey.Event {
	labels := osprey.Labels{"service": fmt.Sprintf("svc%d", k%services), "pod": fmt.Sprintf("p%d", k/services)}
	return osprey.Event{
		ID: osprey.NewID(at), Source: "bench", Name: "HighLatency", Labels: labels,
		Status: osprey.StatusFiring, StartsAt: at, ReceivedAt: at,
		Fingerprint: osprey.EventFingerprint("HighLatency", labels),
	}
}

// startFloodCorrelator starts the floods' correlator: a fresh SQLite
// store, grouping by service in a 5-minute window, the default concurrent
// ranking, the commit pipeline as serve's (floodPipeline). handedOn is
// called at each hand-on of incident changes with the highest event Seq
// stored by then.
func startFloodCorrelator(b *testing.B, handedOn func(seq int64, now time.Time)) (store.Store, *correlate.Correlator) {
	st := &floodStore{Store: openBenchStore(b)}
	opts := correlate.Options{
		Store: st, Window: 5 * time.Minute, GroupBy: []string{"service"},
		CatchUpInterval: time.Hour, Registerer: prometheus.NewRegistry(),
		Now: func() time.Time { return t0 }, Out: floodOut{st: st, handedOn: handedOn},
		Causes: rca.ConcurrentIncidentRanker{IncidentRanker: rca.IncidentRanker{Config: rca.DefaultConfig()}},
	}
	floodPipeline(&opts)
	return st, startWith(b, opts)
}

// floodStore is the floods' store: it notes the event checkpoint each
// successful commit stored.
type floodStore struct {
	store.Store
	committed atomic.Int64
}

func (s *floodStore) SaveIncidents(ctx context.Context, batch store.IncidentBatch) error {
	if err := s.Store.SaveIncidents(ctx, batch); err != nil {
		return err
	}
	if batch.CheckpointName == correlate.CheckpointName {
		s.committed.Store(batch.CheckpointPosition)
	}
	return nil
}

// floodOut is the floods' next stage: it tells handedOn what its
// store's commits stored so far.
type floodOut struct {
	st       *floodStore
	handedOn func(seq int64, now time.Time)
}

func (o floodOut) ConsumeIncidents(context.Context, []osprey.Incident) error {
	if o.handedOn != nil {
		o.handedOn(o.st.committed.Load(), time.Now())
	}
	return nil
}
