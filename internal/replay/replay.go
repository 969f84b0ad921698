package replay

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/osprey-aiops/osprey/internal/buildinfo"
	"github.com/osprey-aiops/osprey/internal/store/sqlite"
)

// Options configure a replay.
type Options struct {
	Inputs []Source
	Window Window
	// Configs are one configuration, or two (A and B) to compare.
	Configs []NamedConfig
	// DataDir, if set, keeps each configuration's store there (in a
	// subdirectory named after it when there are two), so that
	// `osprey serve --data-dir` can show what the replay found. It must
	// not hold a store already. Empty means a temporary directory, removed
	// afterwards.
	DataDir string
	Logger  *slog.Logger
	// Progress, if set, is called now and then with the configuration
	// being replayed and how far it is: record time replayed and the
	// total, both as durations from the first item (total is zero when the
	// end is not known).
	Progress func(config string, done, total time.Duration)
	// Now is the wall clock for the report header; nil means time.Now.
	Now func() time.Time
	// Sequential runs every stage on one goroutine. By default reading and
	// detection run on one, and event commit, store writes, correlation
	// and remediation on another, each on its own virtual clock set from
	// the work it is handed; the report is the same either way (only the
	// header's timings differ).
	Sequential bool
}

// Run replays the inputs through the production pipeline once per
// configuration and reports what each would have done, and how they differ.
func Run(ctx context.Context, opts Options) (*Report, error) {
	if len(opts.Configs) == 0 || len(opts.Configs) > 2 {
		return nil, fmt.Errorf("replay: want one or two configurations, got %d", len(opts.Configs))
	}
	if len(opts.Inputs) == 0 {
		return nil, errors.New("replay: no inputs")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	rep := &Report{Schema: SchemaVersion, Header: &Header{GeneratedAt: now().UTC(), Version: buildinfo.Version}}
	var ends []time.Time
	for i, nc := range opts.Configs {
		dir := opts.DataDir
		if dir != "" && len(opts.Configs) > 1 {
			dir = filepath.Join(dir, nc.Name)
		}
		res, in, timing, err := runOne(ctx, nc, dir, &opts)
		if err != nil {
			if len(opts.Configs) > 1 {
				return nil, fmt.Errorf("replay with config %s: %w", nc.Name, err)
			}
			return nil, err
		}
		rep.Results = append(rep.Results, res)
		rep.Header.Timings = append(rep.Header.Timings, timing)
		ends = append(ends, in.last)
		if i == 0 {
			rep.Inputs = in.reports
			rep.From, rep.To = in.first, in.last
		}
	}
	if len(rep.Results) == 2 {
		rep.Diff = diff(&rep.Results[0], &rep.Results[1], ends[0])
	}
	return rep, nil
}

// inputCounts is what the inputs delivered in one pass.
type inputCounts struct {
	reports     []InputReport
	samples     int64
	lines       int64
	first, last time.Time
}

// runOne replays every input through one configuration's pipeline.
func runOne(ctx context.Context, nc NamedConfig, dir string, opts *Options) (Result, *inputCounts, Timing, error) {
	started := time.Now()
	var zero Timing
	if err := nc.Config.Validate(); err != nil {
		return Result{}, nil, zero, fmt.Errorf("invalid configuration %s:\n%w", nc.Path, err)
	}
	if dir == "" {
		tmp, err := os.MkdirTemp(tempBase(), "osprey-replay-")
		if err != nil {
			return Result{}, nil, zero, err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	path := filepath.Join(dir, "osprey.db")
	if _, err := os.Stat(path); err == nil {
		return Result{}, nil, zero, fmt.Errorf("data dir %s already holds a store (%s): choose an empty directory", dir, path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return Result{}, nil, zero, err
	}
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		return Result{}, nil, zero, err
	}
	defer st.Close()

	p, err := newPipeline(nc.Config, st, opts.Logger, opts.Sequential)
	if err != nil {
		return Result{}, nil, zero, err
	}
	if err := p.start(ctx); err != nil {
		return Result{}, nil, zero, err
	}
	p.startBack(ctx)
	in, err := p.drive(ctx, nc.Name, opts)
	if err == nil {
		err = p.flushLogs(ctx)
	}
	if derr := p.drain(); derr != nil && (err == nil || errors.Is(err, errBackFailed)) {
		err = derr
	}
	if err == nil {
		// Notifications falling due before the data ends (group_wait,
		// repeats) are sent; later ones are not.
		p.runNotify(in.last)
		err = p.saveRest(ctx)
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if serr := p.stop(sctx); err == nil {
		err = serr
	}
	if err != nil {
		return Result{}, nil, zero, err
	}
	res := p.build(nc.Name, nc.Path, in)
	elapsed := time.Since(started)
	timing := Timing{Config: nc.Name, Seconds: elapsed.Seconds(), Stages: map[string]float64{}}
	if elapsed > 0 {
		timing.SamplesPerSecond = float64(in.samples) / elapsed.Seconds()
	}
	for name, d := range p.times.self {
		timing.Stages[name] = d.Seconds()
	}
	if p.backTimes != p.times {
		for name, d := range p.backTimes.self {
			timing.Stages[name] += d.Seconds()
		}
	}
	return res, in, timing, nil
}

// drive opens every input and feeds their items to the pipeline in time
// order.
func (p *pipeline) drive(ctx context.Context, config string, opts *Options) (*inputCounts, error) {
	in := &inputCounts{reports: make([]InputReport, len(opts.Inputs))}
	streams := make([]Stream, 0, len(opts.Inputs))
	defer func() {
		for _, s := range streams {
			s.Close()
		}
	}()
	var end time.Time
	var h merger
	var seq int64
	next := func(i int) error {
		p.times.enter(StageRead)
		it, ok, err := streams[i].Next()
		p.times.exit()
		if err != nil {
			return err
		}
		if ok {
			seq++
			heap.Push(&h, &head{item: it, input: i, seq: seq})
		}
		return nil
	}
	for i, src := range opts.Inputs {
		in.reports[i] = InputReport{Kind: src.Kind(), Name: src.Name()}
		if s, ok := src.(SyntheticSource); ok {
			in.reports[i].Injected = s.Injected()
			end = maxTime(end, SyntheticStart.Add(time.Duration(s.Samples-1)*time.Minute))
		}
		p.times.enter(StageRead)
		s, err := src.Open(ctx, opts.Window)
		p.times.exit()
		if err != nil {
			return nil, err
		}
		streams = append(streams, s)
		if ws, ok := s.(*windowStream); ok {
			in.reports[i].Series = ws.Series()
		}
		if es, ok := s.(*eventStream); ok && len(es.events) > 0 {
			end = maxTime(end, es.events[len(es.events)-1].ReceivedAt)
		}
		if err := next(i); err != nil {
			return nil, err
		}
	}
	if !opts.Window.To.IsZero() {
		end = opts.Window.To
	}
	var start time.Time
	if len(h) > 0 {
		start = h[0].item.At
	}
	total := time.Duration(0)
	if end.After(start) {
		total = end.Sub(start)
	}
	report := func() {
		if opts.Progress != nil && !start.IsZero() {
			opts.Progress(config, p.clock.Now().Sub(start), total)
		}
	}
	for n := 0; len(h) > 0; n++ {
		if n&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			report()
		}
		hd := heap.Pop(&h).(*head)
		it := &hd.item
		if err := p.advance(ctx, it.At); err != nil {
			return nil, err
		}
		r := &in.reports[hd.input]
		switch {
		case it.Series != nil:
			r.Samples += int64(it.Samples)
			in.samples += int64(it.Samples)
		case it.Log != nil:
			r.Lines++
			in.lines++
		case it.Event != nil:
			r.Events++
			p.rec.eventOrder = append(p.rec.eventOrder, it.Event.ID)
		}
		if r.First.IsZero() || it.At.Before(r.First) {
			r.First = it.At
		}
		r.Last = maxTime(r.Last, it.At)
		if in.first.IsZero() || it.At.Before(in.first) {
			in.first = it.At
		}
		in.last = maxTime(in.last, it.At)
		if err := p.deliver(ctx, it); err != nil {
			return nil, err
		}
		if err := next(hd.input); err != nil {
			return nil, err
		}
	}
	for i, s := range streams {
		if ls, ok := s.(*logStream); ok {
			in.reports[i].UntimedLines = ls.Untimed()
		}
	}
	report()
	return in, nil
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// tempBase is where temporary stores go: /dev/shm when it is a directory
// (a memory file system, so the store's fsyncs cost nothing and a replay is
// not slowed by the disk), else the system's temporary directory.
func tempBase() string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if f, err := os.CreateTemp("/dev/shm", "osprey-replay-probe-"); err == nil {
			f.Close()
			os.Remove(f.Name())
			return "/dev/shm"
		}
	}
	return os.TempDir()
}
