package syslog

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/ingest"
	"github.com/osprey-aiops/osprey/internal/testenv"
)

var testNow = time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)

// sink keeps the batches it is given and signals each.
type sink struct {
	mu      sync.Mutex
	batches [][]osprey.LogRecord
	err     error
	got     chan struct{}
}

func newSink() *sink { return &sink{got: make(chan struct{}, 1024)} }

func (s *sink) ConsumeLogs(_ context.Context, batch []osprey.LogRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.batches = append(s.batches, batch)
	select {
	case s.got <- struct{}{}:
	default:
	}
	return nil
}

func (s *sink) setErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

func (s *sink) batchCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.batches)
}

func (s *sink) records() []osprey.LogRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []osprey.LogRecord
	for _, b := range s.batches {
		out = append(out, b...)
	}
	return out
}

// manualTicker is a flush ticker the test drives.
type manualTicker struct{ c chan time.Time }

func (m *manualTicker) newTicker(time.Duration) (<-chan time.Time, func()) { return m.c, func() {} }

// tick flushes, and waits until the flusher has taken the tick.
func (m *manualTicker) tick() { m.c <- testNow }

type testServer struct {
	*Server
	sink  *sink
	stats *ingest.Stats
	tick  *manualTicker
}

func startServer(t *testing.T, opts Options) *testServer {
	t.Helper()
	ts := &testServer{sink: newSink(), stats: ingest.NewStats(), tick: &manualTicker{c: make(chan time.Time)}}
	if opts.Logs == nil {
		opts.Logs = ts.sink
	}
	if opts.UDP == nil && opts.TCP == nil {
		opts.UDP, opts.TCP = []string{"127.0.0.1:0"}, []string{"127.0.0.1:0"}
	}
	opts.Stats = ts.stats
	opts.NewTicker = ts.tick.newTicker
	if opts.Now == nil {
		opts.Now = func() time.Time { return testNow }
	}
	if opts.Location == nil {
		opts.Location = time.UTC
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ts.Server = s
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return ts
}

func (ts *testServer) udpAddr() string { u, _ := ts.Addrs(); return u[0].String() }
func (ts *testServer) tcpAddr() string { _, c := ts.Addrs(); return c[0].String() }

// waitFor polls until cond holds: delivery over real sockets has no event
// to wait on.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// settled waits until the receiver has counted n messages (accepted in a
// batch or dropped) plus those still in the batcher.
func (ts *testServer) settled(t *testing.T, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d messages", n), func() bool {
		snap := ts.stats.Snapshot()[ReceiverName]
		ts.batch.mu.Lock()
		pending := len(ts.batch.buf)
		ts.batch.mu.Unlock()
		return int(snap.Items.Accepted+snap.Items.Rejected)+pending >= n
	})
}

func TestTCPAndUDP(t *testing.T) {
	ts := startServer(t, Options{BatchSize: 100, MaxMessageBytes: 256})

	u, err := net.Dial("udp", ts.udpAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	for _, m := range []string{
		`<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8`,
		`<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application"] An application event` + "\n",
		`<13>1 not a valid header`,
		`<13>` + strings.Repeat("x", 300),
		"\n",
	} {
		if _, err := u.Write([]byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	c, err := net.Dial("tcp", ts.tcpAddr())
	if err != nil {
		t.Fatal(err)
	}
	msg := `<86>1 2026-01-05T11:58:01Z web-1 sshd 4242 - - Accepted publickey`
	// Octet counting, written in pieces to cross read boundaries.
	stream := fmt.Sprintf("%d %s%d %s", len(msg), msg, 300, strings.Repeat("y", 300)) + "8 <13>hi !"
	for i := 0; i < len(stream); i += 7 {
		if _, err := c.Write([]byte(stream[i:min(i+7, len(stream))])); err != nil {
			t.Fatal(err)
		}
	}
	_ = c.Close()
	ts.settled(t, 7)
	ts.tick.tick()
	waitFor(t, "the flush", func() bool { return len(ts.sink.records()) == 4 })

	byBody := map[string]osprey.LogRecord{}
	for _, r := range ts.sink.records() {
		byBody[r.Body] = r
	}
	su := byBody["'su root' failed for lonvick on /dev/pts/8"]
	if su.Labels["host"] != "mymachine" || su.Labels["app"] != "su" || su.Level != "critical" || su.Attributes["facility"] != "auth" ||
		su.Attributes["peer"] != "127.0.0.1" || su.Time != time.Date(2025, 10, 11, 22, 14, 15, 0, time.UTC) {
		t.Errorf("rfc3164 record %+v", su)
	}
	ev := byBody["An application event"]
	if ev.Labels["app"] != "evntslog" || ev.Attributes["msgid"] != "ID47" || ev.Attributes["exampleSDID@32473.iut"] != "3" ||
		ev.Level != "info" || ev.Attributes["severity"] != "notice" || ev.Attributes["facility"] != "local4" {
		t.Errorf("rfc5424 record %+v", ev)
	}
	ssh := byBody["Accepted publickey"]
	if ssh.Labels["host"] != "web-1" || ssh.Attributes["procid"] != "4242" || ssh.Attributes["syslog_format"] != "rfc5424" {
		t.Errorf("tcp record %+v", ssh)
	}
	hi := byBody["hi !"]
	if hi.Labels["host"] != "127.0.0.1" || !hi.Time.Equal(testNow) {
		t.Errorf("a message without host or time: %+v", hi)
	}
	snap := ts.stats.Snapshot()[ReceiverName]
	if snap.Items.Accepted != 4 || snap.Rejected[ingest.ReasonMalformed] != 1 || snap.Rejected[ingest.ReasonTooLarge] != 2 {
		t.Errorf("counts %+v", snap)
	}
}

func TestBatching(t *testing.T) {
	ts := startServer(t, Options{BatchSize: 3})
	c, err := net.Dial("tcp", ts.tcpAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	send := func(n int) {
		for i := range n {
			fmt.Fprintf(c, "<13>Jan  5 11:00:00 h app: m%d\n", i)
		}
	}
	send(4) // one full batch, one pending
	<-ts.sink.got
	ts.settled(t, 4)
	if n := ts.sink.batchCount(); n != 1 {
		t.Fatalf("%d batches before the tick, want 1", n)
	}
	ts.tick.tick()
	<-ts.sink.got
	if n := len(ts.sink.records()); n != 4 {
		t.Fatalf("%d records after the tick, want 4", n)
	}
	// Shutdown hands on what is pending.
	send(2)
	ts.settled(t, 6)
	if err := ts.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(ts.sink.records()); n != 6 {
		t.Fatalf("%d records after shutdown, want 6", n)
	}
	if err := ts.Shutdown(context.Background()); err != nil {
		t.Errorf("second shutdown: %v", err)
	}
}

func TestConsumerFails(t *testing.T) {
	ts := startServer(t, Options{BatchSize: 2})
	ts.sink.setErr(errors.New("queue full"))
	c, err := net.Dial("tcp", ts.tcpAddr())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(c, "<13>a\n<13>b\n")
	_ = c.Close()
	waitFor(t, "the failed hand-off", func() bool { return ts.stats.Snapshot()[ReceiverName].Rejected[ingest.ReasonStore] == 2 })
}

func TestMaxConnections(t *testing.T) {
	ts := startServer(t, Options{MaxConnections: 1})
	c1, err := net.Dial("tcp", ts.tcpAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	fmt.Fprint(c1, "<13>first\n")
	ts.settled(t, 1) // c1 is being served
	c2, err := net.Dial("tcp", ts.tcpAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	_ = c2.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c2.Read(make([]byte, 1)); err == nil {
		t.Fatal("the second connection was served")
	}
	if n := ts.stats.Snapshot()[ReceiverName].Rejected[ingest.ReasonTooMany]; n != 1 {
		t.Errorf("too_many = %d, want 1", n)
	}
}

func TestIdleTimeout(t *testing.T) {
	ts := startServer(t, Options{IdleTimeout: 50 * time.Millisecond})
	c, err := net.Dial("tcp", ts.tcpAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = c.Read(make([]byte, 1))
	var ne net.Error
	if err == nil || errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("read on an idle connection: %v, want it closed by the server", err)
	}
}

func TestBrokenFramingClosesConnection(t *testing.T) {
	ts := startServer(t, Options{})
	c, err := net.Dial("tcp", ts.tcpAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprint(c, "5 <13>a5x <13>b")
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("connection still open")
	}
	ts.settled(t, 2)
	if n := ts.stats.Snapshot()[ReceiverName].Rejected[ingest.ReasonMalformed]; n != 1 {
		t.Errorf("malformed = %d, want 1", n)
	}
}

func TestNewAndStartErrors(t *testing.T) {
	if _, err := New(Options{UDP: []string{":0"}}); err == nil {
		t.Error("no consumer accepted")
	}
	if _, err := New(Options{Logs: newSink()}); err == nil {
		t.Error("no address accepted")
	}
	if _, err := New(Options{Logs: newSink(), TCP: []string{":0"}, BatchSize: -1}); err == nil {
		t.Error("negative batch size accepted")
	}
	ts := startServer(t, Options{})
	s, err := New(Options{Logs: newSink(), UDP: []string{"127.0.0.1:0"}, TCP: []string{ts.tcpAddr()}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "listen tcp") {
		t.Errorf("Start on a taken port: %v", err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown after a failed Start: %v", err)
	}
}

func TestShutdownDeadline(t *testing.T) {
	block := make(chan struct{})
	stuck := osprey.LogConsumerFunc(func(ctx context.Context, _ []osprey.LogRecord) error {
		select {
		case <-block:
		case <-ctx.Done():
		}
		return ctx.Err()
	})
	ts := startServer(t, Options{Logs: stuck})
	c, err := net.Dial("tcp", ts.tcpAddr())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(c, "<13>a\n")
	_ = c.Close()
	ts.settled(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := ts.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown = %v, want the deadline", err)
	}
	close(block)
}

// TestRealLogger sends with util-linux's logger, the way an administrator
// tests a syslog server, over every transport and format it speaks.
func TestRealLogger(t *testing.T) {
	path, err := exec.LookPath("logger")
	if err != nil {
		testenv.Unavailable(t, "logger (util-linux)", err)
	}
	ts := startServer(t, Options{Location: time.Local, Now: time.Now})
	_, port, _ := net.SplitHostPort(ts.udpAddr())
	_, tport, _ := net.SplitHostPort(ts.tcpAddr())
	cases := []struct {
		name string
		args []string
	}{
		{"udp-rfc5424", []string{"--udp", "--port", port, "--rfc5424"}},
		{"udp-rfc3164", []string{"--udp", "--port", port, "--rfc3164"}},
		{"tcp-rfc5424-octet", []string{"--tcp", "--port", tport, "--rfc5424", "--octet-count"}},
		{"tcp-rfc3164", []string{"--tcp", "--port", tport, "--rfc3164"}},
		{"tcp-rfc5424-newline", []string{"--tcp", "--port", tport, "--rfc5424"}},
	}
	for _, c := range cases {
		args := append([]string{"--server", "127.0.0.1", "--tag", "osprey-test", "--id=4242", "--priority", "local3.err"}, c.args...)
		args = append(args, "--", "hello from "+c.name)
		if out, err := exec.Command(path, args...).CombinedOutput(); err != nil {
			t.Fatalf("logger %v: %v: %s", args, err, out)
		}
	}
	ts.settled(t, len(cases))
	ts.tick.tick()
	waitFor(t, "the records", func() bool { return len(ts.sink.records()) == len(cases) })
	got := map[string]osprey.LogRecord{}
	for _, r := range ts.sink.records() {
		got[r.Body] = r
	}
	for _, c := range cases {
		r, ok := got["hello from "+c.name]
		if !ok {
			t.Errorf("%s: not received; got %v", c.name, got)
			continue
		}
		format := "rfc3164"
		if strings.Contains(c.name, "5424") {
			format = "rfc5424"
		}
		if r.Labels["app"] != "osprey-test" || r.Level != "error" || r.Attributes["facility"] != "local3" ||
			r.Attributes["procid"] != "4242" || r.Attributes["syslog_format"] != format || r.Labels["host"] == "" {
			t.Errorf("%s: record %+v", c.name, r)
		}
		if d := time.Since(r.Time); d < -time.Minute || d > time.Minute {
			t.Errorf("%s: time %v is not now", c.name, r.Time)
		}
	}
	snap := ts.stats.Snapshot()[ReceiverName]
	if snap.Items.Rejected != 0 {
		t.Errorf("rejected %+v", snap.Rejected)
	}
}
