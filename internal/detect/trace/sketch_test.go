package trace

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
)

// The sketch's quantiles are the exact sample's within SketchAccuracy, on
// the same window of newest values, also after the oldest half was
// forgotten and when the level changes.
func TestLatencySketchMatchesSample(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	exact, sk := NewLatencyProfile(2048), NewLatencySketch(2048)
	check := func(step int) {
		for _, q := range []float64{0, 0.5, 0.9, 0.99, 1} {
			want, wn := exact.Quantile("op", q)
			got, gn := sk.Quantile("op", q)
			if gn != wn {
				t.Fatalf("step %d: n = %d, want %d", step, gn, wn)
			}
			if math.Abs(got-want) > SketchAccuracy*want+1e-12 {
				t.Fatalf("step %d: q%g = %g, want %g within %.2f %%", step, q, got, want, 100*SketchAccuracy)
			}
		}
	}
	for i := range 10_000 {
		v := 0.002 * math.Exp(rnd.NormFloat64()) // log-normal around 2 ms
		switch {
		case i >= 6000:
			v *= 10 // a lasting change of level
		case i%97 == 0:
			v = 0 // self time 0: children cover the span
		}
		exact.Learn("op", v)
		sk.Learn("op", v)
		if i%37 == 0 || i > 6000 && i < 6100 {
			check(i)
		}
	}
	check(10_000)
	if got, n := sk.Quantile("other", 0.99); got != 0 || n != 0 {
		t.Errorf("unknown key: %g, %d", got, n)
	}
}

// A key's histograms stay bounded whatever its values (clamped to 1 ns –
// 10⁴ s), and keys beyond MaxKeys are dropped.
func TestLatencySketchBounded(t *testing.T) {
	sk := NewLatencySketch(2048)
	sk.MaxKeys = 2
	for _, v := range []float64{math.Inf(1), 1e-300, math.NaN(), -1, 1e300, 5e-324, 3} {
		sk.Learn("a", v)
	}
	if b := sk.Bytes(); b > 2*2*1700+100 {
		t.Errorf("one key holds %d bytes", b)
	}
	if q, n := sk.Quantile("a", 1); n != 7 || q < sketchMax*(1-SketchAccuracy) || q > sketchMax*(1+SketchAccuracy) {
		t.Errorf("max = %g of %d, want about %g of 7", q, n, sketchMax)
	}
	if q, _ := sk.Quantile("a", 0); q != 0 {
		t.Errorf("min = %g, want 0 (NaN and negative values count as 0)", q)
	}
	sk.Learn("b", 1)
	sk.Learn("c", 1)
	if sk.Keys() != 2 || sk.Dropped != 1 {
		t.Errorf("keys %d dropped %d", sk.Keys(), sk.Dropped)
	}
	if err := (func() error { c := DefaultConfig(); c.LatencySample = MaxLatencySample + 1; return c.Validate() })(); err == nil {
		t.Error("a latency sample above MaxLatencySample validated")
	}
}

// BenchmarkLatencyMemory reports the heap bytes per operation of the
// detector's latency state after learning 4,096 log-normal self times per
// operation (a full window and more): the sketch against the exact sample
// LatencyProfile keeps (with the sorted copy Quantile caches).
//
//	go test ./internal/detect/trace -run '^$' -bench LatencyMemory -benchmem
func BenchmarkLatencyMemory(b *testing.B) {
	const ops = 200
	for _, kind := range []string{"sketch", "sample"} {
		b.Run(kind, func(b *testing.B) {
			rnd := rand.New(rand.NewPCG(5, 6))
			var perOp float64
			for range b.N {
				runtime.GC()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				var learn func(string, float64)
				var quantile func(string, float64) (float64, int)
				if kind == "sketch" {
					p := NewLatencySketch(DefaultConfig().LatencySample)
					learn, quantile = p.Learn, p.Quantile
				} else {
					p := NewLatencyProfile(DefaultConfig().LatencySample)
					learn, quantile = p.Learn, p.Quantile
				}
				keys := make([]string, ops)
				for k := range keys {
					keys[k] = fmt.Sprintf("svc%d op%d", k%20, k)
				}
				for i := range 4096 {
					for _, k := range keys {
						learn(k, 0.002*math.Exp(rnd.NormFloat64()))
						if i == 4095 {
							quantile(k, 0.99)
						}
					}
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				perOp = float64(after.HeapAlloc-before.HeapAlloc) / ops
				runtime.KeepAlive(learn)
				runtime.KeepAlive(quantile)
			}
			b.ReportMetric(perOp, "heapB/operation")
		})
	}
}

// BenchmarkFlowMemory reports the heap bytes per operation of a full flow
// profile group: the detector's 33 keys (32 calls and log keys and the
// operation's own), every pair of them learnt.
//
//	go test ./internal/detect/trace -run '^$' -bench FlowMemory -benchmem
func BenchmarkFlowMemory(b *testing.B) {
	const ops = 50
	var perOp float64
	for range b.N {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		p := NewFlowProfile()
		p.MaxKeys = DefaultConfig().MaxCalls + 1
		for o := range ops {
			keys := []string{fmt.Sprintf("op Operation%d", o)}
			for k := range DefaultConfig().MaxCalls {
				keys = append(keys, fmt.Sprintf("call svc%d /api/v1/service%d/resource/%d", k%7, k, o))
			}
			p.Learn(Unit{Group: fmt.Sprintf("svc%d Operation%d", o%20, o), Keys: keys})
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perOp = float64(after.HeapAlloc-before.HeapAlloc) / ops
		runtime.KeepAlive(p)
	}
	b.ReportMetric(perOp, "heapB/operation")
}

// refFlow is the flow profile's counting as it was before slots: pairs
// keyed by their two strings. Breaks must not tell the two apart.
type refFlow struct {
	maxKeys, maxUnits, units int
	one                      map[string]int
	pair                     map[[2]string]int
}

func (r *refFlow) learn(keys []string) {
	var kept []string
	room := r.maxKeys - len(r.one)
	for _, k := range keys {
		if r.one[k] == 0 {
			if room <= 0 {
				continue
			}
			room--
		}
		kept = append(kept, k)
	}
	r.units++
	for i, a := range kept {
		r.one[a]++
		for j, b := range kept {
			if i != j {
				r.pair[[2]string{a, b}]++
			}
		}
	}
	if r.units >= r.maxUnits {
		r.units /= 2
		for k, v := range r.one {
			if r.one[k] = v / 2; v/2 == 0 {
				delete(r.one, k)
			}
		}
		for k, v := range r.pair {
			if r.pair[k] = v / 2; v/2 == 0 {
				delete(r.pair, k)
			}
		}
	}
}

func (r *refFlow) breaks(keys []string, minSupport int, minConf float64) [][2]string {
	var out [][2]string
	for _, a := range keys {
		na := r.one[a]
		if na < minSupport {
			continue
		}
		best, bestConf := "", 0.0
		for b, nb := range r.one {
			if nb < minSupport || slices.Contains(keys, b) {
				continue
			}
			both := r.pair[[2]string{a, b}]
			conf := float64(both) / float64(na)
			if na-both <= 1 {
				conf = max(conf, minConf)
			}
			if conf >= minConf && (conf > bestConf || conf == bestConf && b < best) {
				best, bestConf = b, conf
			}
		}
		if best != "" {
			out = append(out, [2]string{a, best})
		}
	}
	return out
}

// The flow profile's slot-indexed pair counts (dense with MaxKeys, a map
// without) break units exactly as counting pairs by their strings did,
// through halving, keys forgotten and their slots reused, and the key cap.
func TestFlowSlotsMatchStringPairs(t *testing.T) {
	for _, maxKeys := range []int{0, 8} {
		t.Run(fmt.Sprint("max keys ", maxKeys), func(t *testing.T) {
			rnd := rand.New(rand.NewPCG(7, 8))
			p := NewFlowProfile()
			p.MaxKeys, p.MaxUnits = maxKeys, 60
			ref := &refFlow{maxKeys: maxKeys, maxUnits: 60, one: map[string]int{}, pair: map[[2]string]int{}}
			if maxKeys == 0 {
				ref.maxKeys = math.MaxInt
			}
			broken := 0
			for i := range 5000 {
				// Keys come and go: a window of 12 of 40 keys drifts
				// over time, most with a fixed rate.
				var keys []string
				for k := range 12 {
					key := (i/400 + k) % 40
					if rnd.Float64() < 0.3+0.7*float64(k%3)/2 {
						keys = append(keys, fmt.Sprintf("k%02d", key))
					}
				}
				slices.Sort(keys)
				keys = slices.Compact(keys)
				u := Unit{Group: "g", Keys: keys}
				got, want := p.Breaks(u), ref.breaks(keys, p.MinSupport, p.MinConf)
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("unit %d %v: breaks %v, want %v", i, keys, got, want)
				}
				broken += len(got)
				p.Learn(u)
				ref.learn(keys)
			}
			if broken == 0 || maxKeys > 0 && p.Dropped == 0 {
				t.Errorf("the test broke %d units and dropped %d keys: it tests nothing", broken, p.Dropped)
			}
		})
	}
}
