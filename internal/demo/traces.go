package demo

import (
	"math"
	"time"
)

// operations names each service's server span.
var operations = map[string]string{
	"frontend":  "GET /product/{id}",
	"catalog":   "GET /products/{sku}",
	"checkout":  "POST /orders",
	"payment":   "POST /payments/authorize",
	"inventory": "POST /stock/reserve",
	"postgres":  "SELECT shop.stock",
}

// traces emits two sampled traces per sample: a product page (frontend →
// catalog) and an order (frontend → checkout → payment, inventory →
// postgres). A service that is down sends no span; its caller's span is an
// error.
func (s *Sim) traces(f *Frame) {
	fe := s.byName["frontend"]
	if !fe.up {
		return
	}
	s.trace(f, fe, "GET /product/{id}", []string{"catalog"})
	s.trace(f, fe, "POST /checkout", []string{"checkout"})
}

// trace emits one trace rooted at root, which calls the services in calls
// (and they their own callees).
func (s *Sim) trace(f *Frame, root *svc, op string, calls []string) {
	var tid [16]byte
	for i := range tid {
		tid[i] = byte(s.rng.IntN(256))
	}
	s.span(f, tid, [8]byte{}, root, op, f.At, calls)
}

// span emits v's server span starting at start and its callees' spans;
// it returns the span's duration and whether it failed.
func (s *Sim) span(f *Frame, tid [16]byte, parent [8]byte, v *svc, op string, start time.Time, calls []string) (time.Duration, bool) {
	var sid [8]byte
	for i := range sid {
		sid[i] = byte(s.rng.IntN(256))
	}
	own := s.jitter(v.spec.lat50 * v.latFactor)
	failed := s.rng.Float64() < math.Min(1, v.spec.errBase+v.errAdd+v.flaky)
	at := start.Add(own / 2)
	if calls == nil {
		for _, c := range v.spec.calls {
			calls = append(calls, c.to)
		}
	}
	for _, name := range calls {
		cv := s.byName[name]
		n := 1
		if name == "postgres" {
			n = 2
		}
		for range n {
			if cv.unreachable {
				failed = true
				at = at.Add(time.Millisecond)
				continue
			}
			d, bad := s.span(f, tid, sid, cv, operations[name], at, nil)
			at = at.Add(d)
			failed = failed || bad
		}
	}
	d := at.Sub(start) + own/2
	f.Spans = append(f.Spans, Span{TraceID: tid, SpanID: sid, ParentID: parent, Service: v.spec.name, Name: op,
		Start: start, Duration: d, Error: failed})
	return d, failed
}

// jitter returns a duration around sec seconds (log-normal, as latencies
// are).
func (s *Sim) jitter(sec float64) time.Duration {
	return time.Duration(sec * math.Exp(0.3*s.rng.NormFloat64()) * float64(time.Second))
}
