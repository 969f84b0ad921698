package evidence

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/osprey-aiops/osprey"
)

// Bounds of the attributes a span keeps in the window.
const (
	// MaxSpanAttributes is the most attributes kept per span, the first
	// by name.
	MaxSpanAttributes = 16
	// MaxAttributeValueBytes is the longest attribute value kept; longer
	// values are cut (at a UTF-8 boundary) and end in "…".
	MaxAttributeValueBytes = 256
)

// SpanRecord is one span held by a SpanWindow, as queries return it.
type SpanRecord struct {
	TraceID      string `json:"traceId"`
	SpanID       string `json:"spanId"`
	ParentSpanID string `json:"parentSpanId,omitempty"`
	Service      string `json:"service"`
	Name         string `json:"name"`
	// Kind is OpenTelemetry's span kind in lower case: server, client,
	// producer, consumer, internal, or unspecified.
	Kind  string    `json:"kind"`
	Start time.Time `json:"start"`
	// Duration is in seconds in JSON.
	Duration Seconds `json:"duration"`
	// Error is true when the span's status was ERROR.
	Error bool `json:"error"`
	// Attributes are at most MaxSpanAttributes of the span's attributes;
	// AttributesDropped counts the others.
	Attributes        map[string]string `json:"attributes,omitempty"`
	AttributesDropped int               `json:"attributesDropped,omitempty"`
	seq               uint64
}

// Seconds is a duration that encodes as a number of seconds in JSON.
type Seconds time.Duration

// MarshalJSON writes s in seconds.
func (s Seconds) MarshalJSON() ([]byte, error) {
	return fmt.Appendf(nil, "%g", time.Duration(s).Seconds()), nil
}

var kindNames = [...]string{"unspecified", "internal", "server", "client", "producer", "consumer"}

// kindName names k.
func kindName(k osprey.SpanKind) string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unspecified"
}

// SpanWindow keeps the most recent spans of every service within Limits
// (a key is a service). It is an osprey.SpanConsumer, safe for concurrent
// use.
type SpanWindow struct {
	now func() time.Time

	mu sync.Mutex
	w  *window[SpanRecord, string]
}

var _ osprey.SpanConsumer = (*SpanWindow)(nil)

// NewSpanWindow returns an empty window; now is its clock (nil: time.Now),
// which measures Limits.MaxAge from each span's arrival.
func NewSpanWindow(lim Limits, now func() time.Time) (*SpanWindow, error) {
	if err := lim.check(); err != nil {
		return nil, fmt.Errorf("span window: %w", err)
	}
	if now == nil {
		now = time.Now
	}
	return &SpanWindow{now: now, w: newWindow[SpanRecord, string](lim)}, nil
}

// ConsumeSpans adds the batch's spans to their services' windows, evicting
// what the limits require. It only reads the spans and never fails.
func (sw *SpanWindow) ConsumeSpans(_ context.Context, batch []osprey.Span) error {
	now := sw.now()
	sw.mu.Lock()
	defer sw.mu.Unlock()
	sw.w.sweep(now)
	for i := range batch {
		s := &batch[i]
		rec, size := record(s)
		b := sw.w.bucketFor(sw.key(s.Service), func() (string, int) { return s.Service, len(s.Service) })
		sw.w.add(b, now, rec, size)
	}
	return nil
}

// key returns the bucket key of a service, moved on past any other service
// that hashes the same.
func (sw *SpanWindow) key(service string) uint64 {
	k := uint64(osprey.Labels{osprey.LabelService: service}.Fingerprint())
	for b := sw.w.buckets[k]; b != nil && b.meta != service; b = sw.w.buckets[k] {
		k++
	}
	return k
}

// record converts s, keeping its bounded attributes, and estimates its
// size.
func record(s *osprey.Span) (SpanRecord, int) {
	r := SpanRecord{
		TraceID: s.TraceID, SpanID: s.SpanID, ParentSpanID: s.ParentSpanID, Service: s.Service,
		Name: s.Name, Kind: kindName(s.Kind), Start: s.Start, Duration: Seconds(s.Duration), Error: s.Error,
	}
	size := len(s.TraceID) + len(s.SpanID) + len(s.ParentSpanID) + len(s.Name)
	if len(s.Attributes) > 0 {
		names := s.Attributes.Names()
		if len(names) > MaxSpanAttributes {
			r.AttributesDropped = len(names) - MaxSpanAttributes
			names = names[:MaxSpanAttributes]
		}
		r.Attributes = make(map[string]string, len(names))
		for _, n := range names {
			r.Attributes[n] = cut(s.Attributes[n], MaxAttributeValueBytes)
		}
		size += mapBytes(r.Attributes)
	}
	return r, size
}

// cut shortens s to at most n bytes at a UTF-8 boundary, marking the cut.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n - len("…")
	for i > 0 && s[i]&0xC0 == 0x80 {
		i--
	}
	return s[:i] + "…"
}

// SpanQuery selects spans from a SpanWindow.
type SpanQuery struct {
	// Service, TraceID: only that service's, that trace's spans; "" any.
	Service, TraceID string
	// ErrorsOnly keeps the spans whose status was ERROR.
	ErrorsOnly bool
	// MinDuration keeps the spans that lasted at least that long.
	MinDuration time.Duration
	// Start and End bound the spans' start times, inclusive; zero is
	// unbounded.
	Start, End time.Time
	// Limit is the most spans returned (required, positive): the ones
	// that started last, latest first.
	Limit int
}

// SpanResult is what a SpanQuery found.
type SpanResult struct {
	Spans []SpanRecord
	// Matched counts every span that matched; more than len(Spans) when
	// Limit cut the answer.
	Matched int
}

// Query returns the spans q selects that have not expired.
func (sw *SpanWindow) Query(q SpanQuery) SpanResult {
	if q.Limit <= 0 {
		return SpanResult{}
	}
	top := newTopK(q.Limit, func(a, b *SpanRecord) bool {
		return cmp.Or(a.Start.Compare(b.Start), cmp.Compare(a.seq, b.seq)) < 0
	})
	now := sw.now()
	matched := 0
	sw.mu.Lock()
	for _, b := range sw.w.buckets {
		if q.Service != "" && b.meta != q.Service {
			continue
		}
		for i := b.head; i < len(b.items); i++ {
			e := &b.items[i]
			s := &e.v
			if !sw.w.live(e, now) || !inRange(s.Start, q.Start, q.End) ||
				(q.TraceID != "" && s.TraceID != q.TraceID) || (q.ErrorsOnly && !s.Error) ||
				time.Duration(s.Duration) < q.MinDuration {
				continue
			}
			matched++
			r := *s
			r.seq = e.seq
			top.offer(r)
		}
	}
	sw.mu.Unlock()
	return SpanResult{Spans: top.sorted(), Matched: matched}
}

// Services returns the services with spans in the window, sorted.
func (sw *SpanWindow) Services() []string {
	sw.mu.Lock()
	out := make([]string, 0, len(sw.w.buckets))
	for _, b := range sw.w.buckets {
		out = append(out, b.meta)
	}
	sw.mu.Unlock()
	slices.Sort(out)
	return out
}

// Stats returns the window's counts.
func (sw *SpanWindow) Stats() WindowStats {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	return sw.w.stats()
}
