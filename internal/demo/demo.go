package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/osprey-aiops/osprey/internal/app"
)

// Options configure Run. Zero fields take the defaults of `osprey demo`.
type Options struct {
	// Listen is Osprey's HTTP address; default 127.0.0.1:9464.
	Listen string
	// DataDir is Osprey's data directory; required.
	DataDir string
	// Seed makes the environment's noise reproducible; default 1.
	Seed int64
	// Step is the sample interval; default 1s.
	Step time.Duration
	// History is how much healthy history is backfilled before the
	// environment goes live, so that the detectors are warm at once;
	// default 1800 steps (30 minutes).
	History time.Duration
	// FirstFault is when the first fault starts after going live, and
	// FaultInterval the time between faults; defaults 30s and 3m.
	FirstFault, FaultInterval time.Duration
	// Rotation is the faults injected in turn; default DefaultRotation.
	Rotation []Fault
	// Speed runs the environment and the engine's clock this many times
	// faster than the wall clock (tests); default 1.
	Speed float64
	// Out receives the banner and one line per fault and action.
	Out io.Writer
	// Logger is the engine's logger; nil discards.
	Logger *slog.Logger
	// Live, if set, is called with Osprey's base URL once the history is
	// in and the environment runs live.
	Live func(base string)
}

func (o *Options) defaults() {
	if o.Listen == "" {
		o.Listen = "127.0.0.1:9464"
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Step <= 0 {
		o.Step = time.Second
	}
	if o.History <= 0 {
		o.History = 1800 * o.Step
	}
	if o.FirstFault <= 0 {
		o.FirstFault = 30 * time.Second
	}
	if o.FaultInterval <= 0 {
		o.FaultInterval = 3 * time.Minute
	}
	if o.Rotation == nil {
		o.Rotation = DefaultRotation()
	}
	if o.Speed <= 0 {
		o.Speed = 1
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// clock runs speed times faster than the wall clock from its start.
type clock struct {
	start time.Time
	speed float64
}

func (c clock) now() time.Time {
	if c.speed == 1 {
		return time.Now()
	}
	return c.start.Add(time.Duration(float64(time.Since(c.start)) * c.speed))
}

// Run starts the Osprey engine (app.Run, as `osprey serve` does) with the
// demo's configuration, backfills the environment's history, then runs the
// environment live and injects the faults, until ctx is cancelled. It then
// shuts the engine down gracefully and returns its error.
func Run(ctx context.Context, opts Options) error {
	opts.defaults()
	if opts.DataDir == "" {
		return errors.New("demo: data directory required")
	}
	clk := clock{start: time.Now(), speed: opts.Speed}
	sim := NewSim(opts.Seed, opts.Step)
	out := &printer{w: opts.Out, now: clk.now}
	ctl := NewControl(sim, func(msg string) { out.printf("control endpoint: %s", msg) })
	if err := ctl.Start(ctx); err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = ctl.Shutdown(sctx)
	}()
	cfg := Config(opts.Listen, opts.DataDir, opts.Step, ctl.URL())
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("demo configuration: %w", err)
	}

	engineCtx, stopEngine := context.WithCancel(context.Background())
	defer stopEngine()
	started := make(chan string, 1)
	engineDone := make(chan error, 1)
	go func() {
		engineDone <- app.Run(engineCtx, cfg, app.Options{
			Logger:  opts.Logger,
			Now:     clk.now,
			Started: func(addr string) { started <- addr },
		})
	}()
	var base string
	select {
	case addr := <-started:
		base = "http://" + addr
	case err := <-engineDone:
		if err == nil {
			err = errors.New("engine stopped during start-up")
		}
		return err
	case <-ctx.Done():
		stopEngine()
		return <-engineDone
	}

	banner(opts.Out, base, ctl.URL(), opts)
	env := &environment{sim: sim, send: &Sender{Base: base, Client: &http.Client{Timeout: 30 * time.Second}},
		clk: clk, opts: opts, out: out}
	envCtx, stopEnv := context.WithCancel(ctx)
	defer stopEnv()
	envErr := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		envErr <- env.run(envCtx)
	}()

	var err error
	select {
	case <-ctx.Done():
	case err = <-envErr:
	case err = <-engineDone:
		if err == nil {
			err = errors.New("engine stopped")
		}
		stopEnv()
		wg.Wait()
		return err
	}
	out.printf("shutting down")
	stopEnv()
	wg.Wait()
	stopEngine()
	if eerr := <-engineDone; eerr != nil {
		return errors.Join(err, eerr)
	}
	return err
}

// banner prints the URLs to open.
func banner(w io.Writer, base, control string, o Options) {
	fmt.Fprintf(w, `
Osprey demo: a simulated web shop (%s) sends
metrics (remote_write), logs (Loki push) and traces (OTLP) to a real Osprey
engine; a fault is injected every %s.

  Open            %s/
  Incidents       %s/api/v1/incidents
  Anomalies       %s/api/v1/anomalies
  Topology        %s/api/v1/topology
  Runbook runs    %s/api/v1/runbook-runs
  Remediation     %s/api/v1/remediation
  Shop control    %s (what the runbooks call)

Backfilling %s of healthy history so the detectors are warm...
`, strings.Join(Services(), ", "), o.FaultInterval, base, base, base, base, base, base, control, o.History)
}

// printer writes timestamped lines, one at a time.
type printer struct {
	mu  sync.Mutex
	w   io.Writer
	now func() time.Time
}

func (p *printer) printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "%s %s\n", p.now().Local().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// environment drives the simulation: history first, then live frames and
// faults.
type environment struct {
	sim  *Sim
	send *Sender
	clk  clock
	opts Options
	out  *printer
}

// backfillChunk is how many frames of history go in one set of requests.
const backfillChunk = 10

func (e *environment) run(ctx context.Context) error {
	step := e.opts.Step
	n := int(e.opts.History / step)
	end := e.clk.now().Truncate(step)
	t0 := time.Now()
	frames := make([]Frame, 0, backfillChunk)
	failed := 0
	for i := range n {
		frames = append(frames, e.sim.Step(end.Add(-time.Duration(n-i)*step)))
		if len(frames) == backfillChunk || i == n-1 {
			if err := e.send.Send(ctx, frames); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				// A data directory reused from an earlier demo holds
				// newer samples of the same series: Osprey refuses the
				// older ones (out of order). Say so once and go on.
				if failed == 0 {
					e.out.printf("history: %v (going on; a reused --data-dir holds newer data)", err)
				}
				failed++
			}
			frames = frames[:0]
		}
	}
	if failed > 0 {
		e.out.printf("history: %d of %d requests not accepted whole", failed, (n+backfillChunk-1)/backfillChunk)
	}
	e.out.printf("history in (%d samples per series, %s); the shop runs live now", n, time.Since(t0).Round(time.Millisecond))
	if e.opts.Live != nil {
		e.opts.Live(e.send.Base)
	}

	sched, cycle := Schedule(e.opts.Rotation, e.opts.FirstFault, e.opts.FaultInterval)
	live := e.clk.now()
	next, round := 0, 0
	tick := time.NewTicker(time.Duration(float64(step) / e.opts.Speed))
	defer tick.Stop()
	last := end
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		now := e.clk.now()
		at := now.Truncate(step)
		if !at.After(last) {
			continue
		}
		last = at
		for len(sched) > 0 {
			s := sched[next]
			due := live.Add(time.Duration(round)*cycle + s.At)
			if now.Before(due) {
				break
			}
			e.inject(s.Fault)
			next++
			if next == len(sched) {
				next, round = 0, round+1
			}
		}
		f := e.sim.Step(at)
		for _, ev := range f.Events {
			e.out.printf("shop: %s", ev)
		}
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := e.send.Send(sctx, []Frame{f})
		cancel()
		if err != nil && ctx.Err() == nil {
			e.out.printf("sending to osprey: %v", err)
		}
	}
}

// inject starts a fault, unless the same kind is still in effect there (a
// crash loop nobody restarted).
func (e *environment) inject(f Fault) {
	if e.sim.Active(f.Kind, f.Service) {
		e.out.printf("not injecting %s: still going on", f)
		return
	}
	if err := e.sim.Inject(f); err != nil {
		e.out.printf("cannot inject %s: %v", f, err)
		return
	}
	e.out.printf("injecting: %s (expect %s)", f, f.Expect())
}
