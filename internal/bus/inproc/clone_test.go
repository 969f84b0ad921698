package inproc

import (
	"fmt"
	"math"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
)

type inner struct {
	Tags []string
	Attr map[string]string
}

type cloneFixture struct {
	Name     string
	N        int
	F        float64
	When     time.Time
	Labels   osprey.Labels
	Empty    []int
	Nil      []int
	EmptyMap map[string]int
	Ptr      *inner
	NilPtr   *inner
	Iface    any
	Arr      [2][]int
	ByKey    map[string]inner
	Nested   []inner
	Bytes    []byte
	private  []int // shared, not copied: a handler cannot reach it
}

func newCloneFixture() cloneFixture {
	loc := time.FixedZone("CET", 3600)
	return cloneFixture{
		Name:     "x",
		N:        3,
		F:        1.5,
		When:     time.Date(2026, 1, 2, 3, 4, 5, 6, loc),
		Labels:   osprey.Labels{"service": "a"},
		Empty:    []int{},
		EmptyMap: map[string]int{},
		Ptr:      &inner{Tags: []string{"t"}, Attr: map[string]string{"k": "v"}},
		Iface:    []string{"i"},
		Arr:      [2][]int{{1}, {2}},
		ByKey:    map[string]inner{"a": {Tags: []string{"b"}}},
		Nested:   []inner{{Tags: []string{"n"}, Attr: map[string]string{"n": "n"}}},
		Bytes:    []byte("raw"),
		private:  []int{9},
	}
}

// mutate writes through every exported reference in f.
func mutate(f *cloneFixture) {
	f.Labels["service"] = "changed"
	f.Empty = append(f.Empty, 1)
	f.EmptyMap["new"] = 1
	f.Ptr.Tags[0] = "changed"
	f.Ptr.Attr["k"] = "changed"
	f.Iface.([]string)[0] = "changed"
	f.Arr[0][0] = 100
	f.ByKey["a"].Tags[0] = "changed"
	f.Nested[0].Tags[0] = "changed"
	f.Nested[0].Attr["n"] = "changed"
	f.Bytes[0] = 'R'
}

func deepCopy(v any) any { return new(cloner).clone(v) }

func TestDeepCopyIsIndependent(t *testing.T) {
	orig := []cloneFixture{newCloneFixture(), newCloneFixture()}
	c, ok := deepCopy(orig).([]cloneFixture)
	if !ok {
		t.Fatalf("deepCopy returned %T", deepCopy(orig))
	}
	if !reflect.DeepEqual(c, orig) {
		t.Fatalf("copy differs:\n got %+v\nwant %+v", c, orig)
	}
	if c[0].Nil != nil || c[0].NilPtr != nil || c[0].Empty == nil || c[0].EmptyMap == nil {
		t.Errorf("nil and empty not preserved: %+v", c[0])
	}
	mutate(&orig[0])
	orig[1].Name = "changed"
	want := []cloneFixture{newCloneFixture(), newCloneFixture()}
	// Unexported fields are shared by design; compare the rest.
	for i := range c {
		c[i].private, want[i].private = nil, nil
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("changes to the original showed in the copy:\n got %+v\nwant %+v", c, want)
	}
	if !c[0].When.Equal(want[0].When) || c[0].When.Location().String() != "CET" {
		t.Errorf("time changed: %v", c[0].When)
	}
}

func TestDeepCopyKeepsSpecialFloats(t *testing.T) {
	orig := []osprey.Series{{
		Labels:  osprey.Labels{osprey.LabelMetric: "up"},
		Samples: []osprey.Sample{{TimestampMs: 1, Value: math.NaN()}, {TimestampMs: 2, Value: math.Inf(1)}},
	}}
	c := deepCopy(orig).([]osprey.Series)
	if !math.IsNaN(c[0].Samples[0].Value) || !math.IsInf(c[0].Samples[1].Value, 1) {
		t.Errorf("special floats lost: %+v", c[0].Samples)
	}
	if &c[0].Samples[0] == &orig[0].Samples[0] {
		t.Error("samples shared")
	}
}

func TestDeepCopyPipelineTypes(t *testing.T) {
	now := time.Now() // with a monotonic reading, which the copy keeps
	labels := func() osprey.Labels { return osprey.Labels{"service": "checkout", "host": "h1"} }
	tests := []struct {
		name string
		v    any
	}{
		{"events", []osprey.Event{{ID: "e", Labels: labels(), Annotations: map[string]string{"a": "b"}, StartsAt: now}}},
		{"series", []osprey.Series{{Labels: labels(), Samples: []osprey.Sample{{TimestampMs: 1, Value: 2}}}}},
		{"logs", []osprey.LogRecord{{Time: now, Labels: labels(), Body: "b", Attributes: map[string]string{"k": "v"}}}},
		{"spans", []osprey.Span{{TraceID: "t", Start: now, Attributes: labels()}}},
		{"anomalies", []osprey.Anomaly{{ID: "a", Labels: labels(), Evidence: []osprey.Evidence{{Detector: "d"}}}}},
		{"incidents", []osprey.Incident{{
			ID: "i", Labels: labels(),
			Members:  []*osprey.Member{{Labels: labels()}},
			Causes:   []osprey.Cause{{EvidenceIDs: []string{"e"}}},
			Timeline: []osprey.TimelineEntry{{At: now}},
		}}},
		{"nil", nil},
		{"scalar slice", []int{1, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := deepCopy(tt.v)
			if !reflect.DeepEqual(c, tt.v) {
				t.Fatalf("copy differs:\n got %+v\nwant %+v", c, tt.v)
			}
			if tt.v == nil {
				return
			}
			a, b := reflect.ValueOf(tt.v), reflect.ValueOf(c)
			if a.Len() > 0 && a.Index(0).Addr().Pointer() == b.Index(0).Addr().Pointer() {
				t.Error("copy shares the backing array")
			}
		})
	}
}

// BenchmarkDeepCopySeries is the cost a second group adds per published batch
// of 100 series.
func BenchmarkDeepCopySeries(b *testing.B) {
	batch := make([]osprey.Series, 100)
	for i := range batch {
		batch[i] = osprey.Series{
			Labels: osprey.Labels{
				osprey.LabelMetric: "http_requests_total",
				"service":          "checkout",
				"instance":         "10.0.0.1:9090",
				"code":             "200",
			},
			Samples: []osprey.Sample{{TimestampMs: int64(i), Value: float64(i)}},
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = deepCopy(batch)
	}
}

type labelName string

type node struct {
	Name string
	Kids []node
	Next *node
	Meta map[labelName]string
	Any  any
}

func TestDeepCopyRecursiveAndNamedTypes(t *testing.T) {
	orig := &node{
		Name: "root",
		Kids: []node{{Name: "kid", Meta: map[labelName]string{"k": "v"}}},
		Next: &node{Name: "next", Any: map[string][]int{"x": {1}}},
		Any:  &node{Name: "boxed"},
	}
	c := new(cloner)
	cp := c.clone(orig).(*node)
	if !reflect.DeepEqual(cp, orig) {
		t.Fatalf("copy differs:\n got %+v\nwant %+v", cp, orig)
	}
	orig.Kids[0].Meta["k"] = "changed"
	orig.Next.Any.(map[string][]int)["x"][0] = 2
	orig.Any.(*node).Name = "changed"
	if cp.Kids[0].Meta["k"] != "v" || cp.Next.Any.(map[string][]int)["x"][0] != 1 || cp.Any.(*node).Name != "boxed" {
		t.Errorf("changes to the original showed in the copy: %+v", cp)
	}
	// The compiled walk is reused, concurrently.
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if got := c.clone(cp); !reflect.DeepEqual(got, cp) {
				t.Error("concurrent copy differs")
			}
		})
	}
	wg.Wait()
}

// BenchmarkDeepCopyIncidents is the cost a second group adds per published
// batch of ten incidents of 500 members (the shape of the correlate
// stage's BenchmarkConsumeEventsLargeIncidentsConcurrentRCA).
func BenchmarkDeepCopyIncidents(b *testing.B) {
	batch := make([]osprey.Incident, 10)
	for i := range batch {
		svc := fmt.Sprintf("svc%d", i)
		inc := osprey.Incident{ID: "inc-" + svc, Labels: osprey.Labels{"service": svc}}
		for j := range 500 {
			inc.Members = append(inc.Members, &osprey.Member{
				Kind: osprey.MemberEvent, Name: "HighLatency", Status: osprey.StatusFiring, Count: 1,
				Labels: osprey.Labels{"service": svc, "pod": fmt.Sprintf("p%d", j)},
			})
		}
		batch[i] = inc
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = deepCopy(batch)
	}
}
