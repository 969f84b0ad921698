package demo

import (
	"fmt"
	"time"
)

// Log lines. The Go services log in logfmt, postgres in its own format.
// Normal traffic uses a fixed set of messages with varying values; faults
// add messages never seen before (new templates) and error-level lines.

var (
	categories = []string{"books", "garden", "kitchen", "toys", "outdoor", "music"}
	acquirers  = []string{"adyen", "stripe", "worldline"}
)

// logs emits v's lines for the current sample.
func (s *Sim) logs(v *svc, f *Frame) {
	var lines []string
	add := func(format string, args ...any) { lines = append(lines, fmt.Sprintf(format, args...)) }
	rng := s.rng
	if v.up {
		// Healthy traffic logs at a steady pace: each kind of line a
		// set number of times per sample, give or take one.
		for _, t := range normalLines[v.spec.name] {
			for range max(0, t.per+rng.IntN(3)-1) {
				t.line(s, v, add)
			}
		}
		// Rare, harmless noise that every real service has.
		if v.spec.name == "frontend" && rng.IntN(400) == 0 {
			add(`level=error msg="client disconnected" path=/cart err="write tcp 10.42.0.11:8080->10.42.3.%d:%d: write: broken pipe"`,
				rng.IntN(250), 30000+rng.IntN(30000))
		}
		if rng.IntN(300) == 0 && v.spec.http {
			add(`level=warn msg="slow request" path=/search duration_ms=%d`, 800+rng.IntN(700))
		}
	}
	s.faultLines(v, add)
	step := s.step / time.Duration(len(lines)+1)
	for i, l := range lines {
		f.Logs = append(f.Logs, LogLine{Service: v.spec.name, At: f.At.Add(time.Duration(i) * step), Line: l})
	}
}

// lineKind is one kind of line of healthy traffic: written per times per
// sample (give or take one).
type lineKind struct {
	per  int
	line func(s *Sim, v *svc, add func(string, ...any))
}

// normalLines are the services' lines of healthy traffic.
var normalLines = map[string][]lineKind{
	"frontend": {
		{2, func(s *Sim, v *svc, add func(string, ...any)) {
			add(`level=info msg="request served" method=GET path=/product/%d status=200 duration_ms=%d`, 1000+s.rng.IntN(9000), s.ms(v))
		}},
		{1, func(s *Sim, v *svc, add func(string, ...any)) {
			add(`level=info msg="request served" method=GET path=/category/%s status=200 duration_ms=%d`, categories[s.rng.IntN(len(categories))], s.ms(v))
		}},
		{1, func(s *Sim, v *svc, add func(string, ...any)) {
			add(`level=info msg="cart updated" session=%016x items=%d`, s.rng.Uint64(), 1+s.rng.IntN(6))
		}},
	},
	"catalog": {
		{2, func(s *Sim, _ *svc, add func(string, ...any)) {
			add(`level=info msg="product served" sku=SKU-%05d cache_hit=%t`, s.rng.IntN(40000), s.rng.IntN(4) > 0)
		}},
		{1, func(s *Sim, _ *svc, add func(string, ...any)) {
			add(`level=info msg="product list served" category=%s page=%d items=24`, categories[s.rng.IntN(len(categories))], 1+s.rng.IntN(12))
		}},
	},
	"checkout": {
		{1, func(s *Sim, _ *svc, add func(string, ...any)) {
			s.orderID++
			add(`level=info msg="order placed" order_id=%d items=%d total=%.2f currency=EUR`, s.orderID, 1+s.rng.IntN(6), 5+s.rng.Float64()*300)
		}},
		{1, func(s *Sim, _ *svc, add func(string, ...any)) {
			add(`level=info msg="stock reserved" order_id=%d skus=%d`, s.orderID, 1+s.rng.IntN(4))
		}},
	},
	"payment": {
		{1, func(s *Sim, _ *svc, add func(string, ...any)) {
			add(`level=info msg="payment authorised" order_id=%d amount=%.2f acquirer=%s auth_code=%06d`,
				s.orderID, 5+s.rng.Float64()*300, acquirers[s.rng.IntN(len(acquirers))], s.rng.IntN(1000000))
		}},
	},
	"inventory": {
		{1, func(s *Sim, _ *svc, add func(string, ...any)) {
			add(`level=info msg="stock level read" sku=SKU-%05d level=%d`, s.rng.IntN(40000), s.rng.IntN(500))
		}},
		{1, func(s *Sim, _ *svc, add func(string, ...any)) {
			add(`level=info msg="stock reserved" sku=SKU-%05d qty=%d remaining=%d`, s.rng.IntN(40000), 1+s.rng.IntN(3), s.rng.IntN(500))
		}},
	},
	"postgres": {
		{1, func(s *Sim, _ *svc, add func(string, ...any)) {
			add(`LOG:  connection authorized: user=inventory database=shop application_name=inventory`)
		}},
	},
}

// ms is a request duration of v in milliseconds.
func (s *Sim) ms(v *svc) int { return 1 + int(v.lat50*1000*(0.5+s.rng.Float64())) }

// faultLines writes what v logs because of a fault: on itself or on a
// service it calls.
func (s *Sim) faultLines(v *svc, add func(string, ...any)) {
	rng := s.rng
	name := v.spec.name
	// Own faults.
	if v.latFactor > 1 && v.cpuSaturated == 0 {
		for range 2 + rng.IntN(3) {
			if name == "payment" {
				add(`level=warn msg="acquirer responded slowly" acquirer=%s elapsed_ms=%d timeout_ms=3000`,
					acquirers[rng.IntN(len(acquirers))], int(v.lat50*1000*(0.8+0.4*rng.Float64())))
			} else {
				add(`level=warn msg="handler slow" handler=%s elapsed_ms=%d`, name, int(v.lat50*1000*(0.8+0.4*rng.Float64())))
			}
		}
	}
	if v.cpuSaturated > 0 {
		for range 3 + rng.IntN(4) {
			if name == "postgres" {
				add(`LOG:  duration: %.3f ms  statement: SELECT sku, qty, reserved FROM stock WHERE sku = ANY($1) FOR UPDATE`,
					800+rng.Float64()*2500)
			} else {
				add(`level=warn msg="request queue backing up" queued=%d workers_busy=%d cpu_throttled_pct=%d`, 50+rng.IntN(200), 64, 40+rng.IntN(50))
			}
		}
	}
	if v.errAdd >= 0.1 {
		for range 6 + rng.IntN(6) {
			s.orderID++
			add(`level=error msg="place order failed" order_id=%d err="pricing rule %d: division by zero"`, s.orderID, 10+rng.IntN(5))
		}
	}
	if v.crashLoop && v.crashPhase == crashUp+1 {
		add(`panic: runtime error: invalid memory address or nil pointer dereference`)
		add(`[signal SIGSEGV: segmentation violation code=0x1 addr=0x18 pc=0x%x]`, 0x6e0000+rng.IntN(0xffff))
		add(`goroutine %d [running]:`, 1+rng.IntN(200))
		add(`level=error msg="process exited" code=2 restart_backoff=10s`)
	}
	if v.justStarted {
		add(`level=info msg="starting %s" version=1.14.2 go=go1.26.1`, name)
	}
	if v.diskFault > 0 {
		m := v.spec.mounts[v.diskMount]
		for range 8 + rng.IntN(8) {
			add(`level=debug msg="cache lookup" key=product:%d hit=%t bytes=%d`, rng.IntN(40000), rng.IntN(3) > 0, rng.IntN(20000))
		}
		if rng.IntN(10) == 0 {
			used := 100 * (1 - v.avail[v.diskMount]/m.size)
			add(`level=warn msg="disk usage high" mountpoint=%s used_pct=%.0f`, m.path, used)
		}
	}
	// Faults of callees, as the caller sees them.
	for _, c := range v.spec.calls {
		cv := s.byName[c.to]
		if !v.up {
			break
		}
		switch {
		case cv.unreachable:
			for range 4 + rng.IntN(4) {
				add(`level=error msg="upstream call failed" upstream=%s err="dial tcp %s: connect: connection refused"`, c.to, cv.spec.instance)
			}
		case cv.flaky > 0 && rng.IntN(2) == 0:
			add(`level=error msg="upstream call failed" upstream=%s err="EOF"`, c.to)
		case cv.errR > 0.05:
			for range 2 + rng.IntN(4) {
				add(`level=error msg="upstream call failed" upstream=%s status=500`, c.to)
			}
		case cv.lat50 > 10*cv.spec.lat50+0.05:
			for range 1 + rng.IntN(3) {
				add(`level=warn msg="upstream slow" upstream=%s elapsed_ms=%d`, c.to, int(cv.lat50*1000*(0.8+0.4*rng.Float64())))
			}
		}
	}
}
