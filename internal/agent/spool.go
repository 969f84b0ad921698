package agent

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Kinds of spooled requests, the file name's extension.
const (
	kindMetrics = "rw"   // a remote_write body: snappy-compressed prompb.WriteRequest
	kindLogs    = "loki" // a Loki push body: gzip-compressed JSON
)

// spool is the on-disk queue of encoded requests, oldest first: one file
// per request, named by a sequence number and its kind, written
// atomically (temporary file, fsync, rename) so that a crash never leaves
// half a request. Beyond maxBytes the oldest requests are dropped and
// counted. It is safe for concurrent use.
type spool struct {
	dir      string
	maxBytes int64

	mu      sync.Mutex
	items   []spoolItem // oldest first
	bytes   int64
	seq     uint64
	dropped struct{ requests, bytes uint64 }
	notify  chan struct{}
}

type spoolItem struct {
	seq  uint64
	kind string
	size int64
}

func (it spoolItem) name() string { return fmt.Sprintf("%020d.%s", it.seq, it.kind) }

// openSpool opens (creating) dir and lists the requests left in it.
func openSpool(dir string, maxBytes int64) (*spool, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("agent: spool: %w", err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("agent: spool: %w", err)
	}
	s := &spool{dir: dir, maxBytes: maxBytes, notify: make(chan struct{}, 1)}
	for _, de := range ents {
		name := de.Name()
		if strings.HasPrefix(name, ".") {
			_ = os.Remove(filepath.Join(dir, name)) // a write cut short
			continue
		}
		num, kind, ok := strings.Cut(name, ".")
		seq, err := strconv.ParseUint(num, 10, 64)
		if !ok || err != nil || (kind != kindMetrics && kind != kindLogs) {
			continue
		}
		info, err := de.Info()
		if err != nil {
			continue
		}
		s.items = append(s.items, spoolItem{seq: seq, kind: kind, size: info.Size()})
		s.bytes += info.Size()
		s.seq = max(s.seq, seq)
	}
	sort.Slice(s.items, func(i, j int) bool { return s.items[i].seq < s.items[j].seq })
	return s, nil
}

// add writes one request and drops the oldest beyond the size cap.
func (s *spool) add(kind string, body []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	it := spoolItem{seq: s.seq, kind: kind, size: int64(len(body))}
	tmp, err := os.CreateTemp(s.dir, ".spool-*")
	if err != nil {
		return fmt.Errorf("agent: spool: %w", err)
	}
	_, werr := tmp.Write(body)
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), filepath.Join(s.dir, it.name()))
	}
	if werr == nil {
		werr = syncDir(s.dir)
	}
	if werr != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("agent: spool: %w", werr)
	}
	s.items = append(s.items, it)
	s.bytes += it.size
	for s.bytes > s.maxBytes && len(s.items) > 1 {
		old := s.items[0]
		s.items = s.items[1:]
		s.bytes -= old.size
		s.dropped.requests++
		s.dropped.bytes += uint64(old.size)
		_ = os.Remove(filepath.Join(s.dir, old.name()))
	}
	select {
	case s.notify <- struct{}{}:
	default:
	}
	return nil
}

// oldest returns the oldest request and its body; ok is false when the
// spool is empty.
func (s *spool) oldest() (it spoolItem, body []byte, ok bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.items) > 0 {
		it = s.items[0]
		body, err = os.ReadFile(filepath.Join(s.dir, it.name()))
		if errors.Is(err, os.ErrNotExist) {
			s.items = s.items[1:]
			s.bytes -= it.size
			continue
		}
		return it, body, err == nil, err
	}
	return spoolItem{}, nil, false, nil
}

// remove deletes the request it (sent, or refused for good). It may have
// been dropped already by the size cap.
func (s *spool) remove(it spoolItem) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, x := range s.items {
		if x.seq == it.seq {
			s.items = append(s.items[:i], s.items[i+1:]...)
			s.bytes -= x.size
			_ = os.Remove(filepath.Join(s.dir, x.name()))
			return
		}
	}
}

// spoolStats are the spool's counts.
type spoolStats struct {
	Requests       int
	Bytes          int64
	DroppedRequest uint64
	DroppedBytes   uint64
}

func (s *spool) stats() spoolStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return spoolStats{Requests: len(s.items), Bytes: s.bytes, DroppedRequest: s.dropped.requests, DroppedBytes: s.dropped.bytes}
}

// syncDir fsyncs dir, so that a rename in it survives a power loss.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
