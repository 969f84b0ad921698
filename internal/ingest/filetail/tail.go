package filetail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/config"
	"github.com/osprey-aiops/osprey/internal/ingest"
	"github.com/osprey-aiops/osprey/internal/logparse"
)

// Labels and defaults of the records.
const (
	// LabelFilename is the path of the file a line came from.
	LabelFilename = "filename"
	// LabelSource is the record's source; DefaultSource unless the entry
	// sets one.
	LabelSource   = "source"
	DefaultSource = "file"
	// ReceiverName is the tailer's name in ingest.Stats.
	ReceiverName = "file"
)

// Options configure a Tailer. Files, Logs and StateFile are required.
type Options struct {
	// Files are the paths and globs to tail, with their labels.
	Files []config.FileConfig
	// Logs receives each batch of lines. An error leaves the offset
	// where it was: the lines are read again at the next poll.
	Logs osprey.LogConsumer
	// StateFile keeps the offsets across restarts.
	StateFile string
	// Stats receives the data-quality counts; nil means a private Stats.
	Stats *ingest.Stats
	// PollInterval, MaxLineBytes and BatchSize: zero takes
	// config.DefaultTail's values.
	PollInterval time.Duration
	MaxLineBytes int
	BatchSize    int
	// Now stamps the records; default time.Now.
	Now func() time.Time
	// After waits between polls, as time.After; default time.After.
	After func(time.Duration) <-chan time.Time
	// Logger receives failures; default discards.
	Logger *slog.Logger
	// Registerer receives osprey_filetail_*; nil leaves them
	// unregistered.
	Registerer prometheus.Registerer
}

// Tailer follows the configured files. It is an osprey.Component; Poll may
// also be called directly (not concurrently with a running loop).
type Tailer struct {
	opts  Options
	recv  *ingest.Receiver
	log   *slog.Logger
	buf   []byte
	state *stateFile

	files    prometheus.GaugeFunc
	handoffs *prometheus.CounterVec

	mu       sync.Mutex // guards tracked against the gauge
	tracked  map[string]*tracker
	started  bool
	restored bool
	polled   bool
	cancel   context.CancelFunc
	done     chan struct{}
}

var _ osprey.Component = (*Tailer)(nil)

// New returns a Tailer of opts.
func New(opts Options) (*Tailer, error) {
	if opts.Logs == nil {
		return nil, errors.New("filetail: no log consumer")
	}
	if opts.StateFile == "" {
		return nil, errors.New("filetail: no state file")
	}
	d := config.DefaultTail()
	if opts.PollInterval <= 0 {
		opts.PollInterval = d.PollInterval
	}
	if opts.MaxLineBytes <= 0 {
		opts.MaxLineBytes = d.MaxLineBytes
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = d.BatchSize
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.After == nil {
		opts.After = time.After
	}
	if opts.Stats == nil {
		opts.Stats = ingest.NewStats()
	}
	if err := config.ValidateFiles(opts.Files); err != nil {
		return nil, fmt.Errorf("filetail: %w", err)
	}
	t := &Tailer{
		opts:    opts,
		recv:    opts.Stats.Receiver(ReceiverName),
		log:     opts.Logger,
		buf:     make([]byte, 64<<10),
		state:   &stateFile{path: opts.StateFile},
		tracked: make(map[string]*tracker),
		handoffs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "osprey_filetail_handoffs_total",
			Help: "Batches of tailed lines by outcome: ok, or failed (the consumer refused them; they are read again at the next poll).",
		}, []string{"outcome"}),
	}
	t.files = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "osprey_filetail_files",
		Help: "Files being tailed.",
	}, func() float64 {
		t.mu.Lock()
		defer t.mu.Unlock()
		return float64(len(t.tracked))
	})
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	if opts.Registerer != nil {
		for _, c := range []prometheus.Collector{t.files, t.handoffs} {
			if err := opts.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("filetail: register metrics: %w", err)
			}
		}
	}
	return t, nil
}

// Start loads the saved offsets and starts polling.
func (t *Tailer) Start(context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.started {
		return errors.New("filetail: already started")
	}
	if err := t.state.load(); err != nil {
		return err
	}
	t.restored = true
	ctx, cancel := context.WithCancel(context.Background())
	t.started, t.cancel, t.done = true, cancel, make(chan struct{})
	go t.run(ctx)
	return nil
}

// run polls until ctx is done.
func (t *Tailer) run(ctx context.Context) {
	defer close(t.done)
	for {
		if err := t.Poll(ctx); err != nil && ctx.Err() == nil {
			t.log.Warn("tail files", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.opts.After(t.opts.PollInterval):
		}
	}
}

// Shutdown stops polling, waits for the poll in flight (its unsent lines
// are read again at the next start) and closes the files. Idempotent.
func (t *Tailer) Shutdown(ctx context.Context) error {
	t.mu.Lock()
	cancel, done := t.cancel, t.done
	t.cancel = nil
	t.mu.Unlock()
	if cancel != nil {
		cancel()
		select {
		case <-done:
		case <-ctx.Done():
			return fmt.Errorf("filetail: poll still running: %w", ctx.Err())
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for p, tr := range t.tracked {
		tr.close()
		delete(t.tracked, p)
	}
	return nil
}

// tracker follows one path.
type tracker struct {
	path   string
	labels osprey.Labels
	f      *os.File
	id     fileID
	// commit is the offset after the last line handed on; readOff how
	// far the file was read (pending holds the bytes of an unfinished
	// line in between).
	commit, readOff int64
	pending         []byte
	skipping        bool
	head            headSum
}

func (tr *tracker) close() {
	if tr.f != nil {
		_ = tr.f.Close()
		tr.f = nil
	}
}

// Poll does one pass: new files, rotation, truncation, new lines. A file
// that fails (a refused hand-off, a read error) does not stop the others;
// the errors of all are returned together.
func (t *Tailer) Poll(ctx context.Context) error {
	if !t.restored {
		if err := t.state.load(); err != nil {
			return err
		}
		t.restored = true
	}
	var errs []error
	// Files already followed first, so that the offsets of rotated files
	// are known when their new names are found; at the first poll, the
	// files rotated away while stopped come before them.
	finished := map[fileID]int64{}
	if !t.polled {
		t.polled = true
		if err := t.recoverOrphans(ctx, finished); err != nil {
			errs = append(errs, err)
		}
	}
	t.mu.Lock()
	paths := make([]string, 0, len(t.tracked))
	for p := range t.tracked {
		paths = append(paths, p)
	}
	t.mu.Unlock()
	sort.Strings(paths)
	for _, p := range paths {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		tr := t.tracked[p]
		if err := t.follow(ctx, tr, finished); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p, err))
		}
	}
	for i, fc := range t.opts.Files {
		matches, err := filepath.Glob(fc.Path)
		if err != nil {
			errs = append(errs, fmt.Errorf("files[%d]: %w", i, err))
			continue
		}
		for _, p := range matches {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			t.mu.Lock()
			_, known := t.tracked[p]
			t.mu.Unlock()
			if known {
				continue
			}
			if err := t.discover(ctx, p, fc, finished); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", p, err))
			}
		}
	}
	return errors.Join(errs...)
}

// recordLabels returns the labels of the lines of path.
func recordLabels(path string, fc config.FileConfig) osprey.Labels {
	l := make(osprey.Labels, len(fc.Labels)+2)
	for k, v := range fc.Labels {
		l[k] = v
	}
	l[LabelFilename] = path
	l[LabelSource] = DefaultSource
	if fc.Source != "" {
		l[LabelSource] = fc.Source
	}
	return l
}

// discover starts following path: where a rotated file left off, where
// the saved state says, or from the start.
func (t *Tailer) discover(ctx context.Context, path string, fc config.FileConfig, finished map[fileID]int64) error {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil // gone between the glob and the open
		}
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return err
	}
	if !fi.Mode().IsRegular() {
		_ = f.Close()
		return nil
	}
	tr := &tracker{path: path, labels: recordLabels(path, fc), f: f, id: idOf(fi)}
	if off, ok := finished[tr.id]; ok {
		tr.commit = off
	} else if e, ok := t.state.match(f, tr.id, path); ok && e.Offset <= fi.Size() {
		tr.commit = e.Offset
		tr.head = headSum{Len: e.HeadLen, Sum: e.HeadSHA256}
	}
	tr.readOff = tr.commit
	t.mu.Lock()
	t.tracked[path] = tr
	t.mu.Unlock()
	if err := t.read(ctx, tr, false); err != nil {
		return err
	}
	// Saved even when nothing was read, so that a restart knows where a
	// rotated file that the glob matches had ended.
	return t.save(tr)
}

// save records the offset of tr in the state file.
func (t *Tailer) save(tr *tracker) error {
	return t.state.put(entry{Path: tr.path, Dev: tr.id.Dev, Ino: tr.id.Ino, HeadLen: tr.head.Len, HeadSHA256: tr.head.Sum, Offset: tr.commit})
}

// follow handles rotation, truncation and removal of a followed path and
// reads what is new.
func (t *Tailer) follow(ctx context.Context, tr *tracker, finished map[fileID]int64) error {
	fi, err := os.Stat(tr.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		// Removed (or renamed with nothing new yet at the path): finish
		// it; the path is forgotten, and found again if it reappears.
		err := t.read(ctx, tr, true)
		if err == nil {
			finished[tr.id] = tr.commit
			t.forget(tr)
		}
		return err
	case err != nil:
		return err
	case idOf(fi) != tr.id:
		// Rotated by rename: finish the old file, then take the new one.
		if err := t.read(ctx, tr, true); err != nil {
			return err
		}
		finished[tr.id] = tr.commit
		t.forget(tr)
		fc := t.configOf(tr.path)
		return t.discover(ctx, tr.path, fc, finished)
	}
	ofi, err := tr.f.Stat()
	if err != nil {
		return err
	}
	if ofi.Size() < tr.readOff || !headMatches(tr.f, tr.head) {
		// Truncated (copytruncate), or truncated and written past the
		// offset since (its first bytes changed): start again from the
		// beginning.
		tr.commit, tr.readOff, tr.pending, tr.skipping = 0, 0, tr.pending[:0], false
		tr.head = headSum{}
	}
	return t.read(ctx, tr, false)
}

// configOf returns the first entry whose glob matches path.
func (t *Tailer) configOf(path string) config.FileConfig {
	for _, fc := range t.opts.Files {
		if ok, _ := filepath.Match(fc.Path, path); ok {
			return fc
		}
	}
	return config.FileConfig{Path: path}
}

// forget stops following tr and drops its saved offset.
func (t *Tailer) forget(tr *tracker) {
	tr.close()
	t.mu.Lock()
	delete(t.tracked, tr.path)
	t.mu.Unlock()
	t.state.remove(tr.path, tr.id)
}

// batch collects the lines of one file until they are handed on.
type batch struct {
	records  []osprey.LogRecord
	rejected int
	end      int64 // offset after the last line in the batch
	pending  bool  // the batch has lines not yet handed on or skipped
}

// read reads tr from readOff to the end, handing on batches of complete
// lines. final hands on a last line without newline too (the file is
// finished).
func (t *Tailer) read(ctx context.Context, tr *tracker, final bool) error {
	var b batch
	maxLine := t.opts.MaxLineBytes
	for {
		n, rerr := tr.f.ReadAt(t.buf, tr.readOff)
		if rerr != nil && !errors.Is(rerr, io.EOF) {
			return rerr
		}
		tr.readOff += int64(n)
		data := t.buf[:n]
		for len(data) > 0 {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				if tr.skipping {
					break
				}
				tr.pending = append(tr.pending, data...)
				if len(tr.pending) > maxLine {
					tr.pending, tr.skipping = tr.pending[:0], true
				}
				break
			}
			seg := data[:i]
			data = data[i+1:]
			end := tr.readOff - int64(len(data))
			if tr.skipping || len(tr.pending)+len(seg) > maxLine {
				tr.skipping, tr.pending = false, tr.pending[:0]
				b.rejected++
			} else {
				var line []byte
				if len(tr.pending) > 0 {
					line = append(tr.pending, seg...)
				} else {
					line = seg
				}
				b.records = append(b.records, t.record(tr, line))
				tr.pending = tr.pending[:0]
			}
			b.end, b.pending = end, true
			if len(b.records)+b.rejected >= t.opts.BatchSize {
				if err := t.flush(ctx, tr, &b); err != nil {
					return err
				}
			}
		}
		if n < len(t.buf) {
			break
		}
	}
	if final {
		if tr.skipping {
			b.rejected++
		} else if len(tr.pending) > 0 {
			b.records = append(b.records, t.record(tr, tr.pending))
		}
		if tr.skipping || len(tr.pending) > 0 {
			tr.pending, tr.skipping = tr.pending[:0], false
			b.end, b.pending = tr.readOff, true
		}
	}
	return t.flush(ctx, tr, &b)
}

// record makes the record of one line (its newline removed).
func (t *Tailer) record(tr *tracker, line []byte) osprey.LogRecord {
	s := strings.TrimSuffix(string(line), "\r")
	if strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s) {
		// PostgreSQL stores neither NUL nor invalid UTF-8.
		s = strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", "\uFFFD"), "\uFFFD")
	}
	return osprey.LogRecord{Time: t.opts.Now().UTC(), Labels: tr.labels, Level: logparse.DetectLevel(s), Body: s}
}

// flush hands b on and commits its offset; on failure the lines since the
// commit are read again later.
func (t *Tailer) flush(ctx context.Context, tr *tracker, b *batch) error {
	if !b.pending {
		return nil
	}
	if len(b.records) > 0 {
		n := len(b.records)
		// The records share tr.labels; each batch gets its own copy, as
		// the consumer owns what it is handed.
		labels := make(osprey.Labels, len(tr.labels))
		for k, v := range tr.labels {
			labels[k] = v
		}
		for i := range b.records {
			b.records[i].Labels = labels
		}
		if err := t.opts.Logs.ConsumeLogs(ctx, b.records); err != nil {
			t.handoffs.WithLabelValues("failed").Inc()
			tr.readOff, tr.pending, tr.skipping = tr.commit, tr.pending[:0], false
			*b = batch{}
			return fmt.Errorf("hand on %d lines: %w", n, err)
		}
		t.handoffs.WithLabelValues("ok").Inc()
	}
	if b.rejected > 0 {
		t.recv.Rejected(ingest.ReasonTooLarge, b.rejected)
	}
	t.recv.Done(len(b.records), b.rejected)
	tr.commit = b.end
	*b = batch{}
	if tr.head.Len < headBytes && tr.commit > int64(tr.head.Len) {
		tr.head = sumHead(tr.f, min(tr.commit, headBytes))
	}
	return t.save(tr)
}

// recoverOrphans reads to their end the files of the saved state that
// their path no longer names (rotated away while stopped), when they are
// still in their directory, and forgets them. Their end offsets go to
// finished, so that a glob that matches the rotated name does not read
// them again.
func (t *Tailer) recoverOrphans(ctx context.Context, finished map[fileID]int64) error {
	var errs []error
	for _, e := range t.state.orphans() {
		id := fileID{e.Dev, e.Ino}
		f, fi, ok := findByID(filepath.Dir(e.Path), id)
		if !ok || !headMatches(f, headSum{Len: e.HeadLen, Sum: e.HeadSHA256}) || fi.Size() < e.Offset {
			if f != nil {
				_ = f.Close()
			}
			t.state.remove(e.Path, id)
			continue
		}
		tr := &tracker{path: e.Path, labels: recordLabels(e.Path, t.configOf(e.Path)), f: f, id: id,
			commit: e.Offset, readOff: e.Offset, head: headSum{Len: e.HeadLen, Sum: e.HeadSHA256}}
		err := t.read(ctx, tr, true)
		tr.close()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s (rotated): %w", e.Path, err))
			continue
		}
		finished[id] = tr.commit
		t.state.remove(e.Path, id)
	}
	if err := t.state.save(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
