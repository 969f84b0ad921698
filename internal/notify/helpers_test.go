package notify

import (
	"bufio"
	"context"
	"crypto/tls"
	"flag"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/store"
	"github.com/osprey-aiops/osprey/internal/store/sqlite"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// t0 is the virtual time scenarios start at.
var t0 = time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)

// clock is a virtual clock; its Sleep advances it instead of waiting, and
// records the pauses.
type clock struct {
	mu     sync.Mutex
	t      time.Time
	sleeps []time.Duration
}

func newClock() *clock { return &clock{t: t0} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func (c *clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.sleeps = append(c.sleeps, d)
	c.mu.Unlock()
	return nil
}

func (c *clock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

// openSQLite opens a fresh SQLite store in a temporary directory.
func openSQLite(t testing.TB) store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "osprey.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// request is one HTTP request a capture server received.
type request struct {
	Method, Path string
	Header       http.Header
	Body         []byte
}

// capture is an HTTP server that records requests and answers with the
// statuses in replies (in order, then the last one forever).
type capture struct {
	*httptest.Server
	mu      sync.Mutex
	reqs    []request
	replies []int
}

func newCapture(t *testing.T, replies ...int) *capture {
	t.Helper()
	c := &capture{replies: replies}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		c.mu.Lock()
		c.reqs = append(c.reqs, request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: b})
		code := http.StatusOK
		if len(c.replies) > 0 {
			code = c.replies[0]
			if len(c.replies) > 1 {
				c.replies = c.replies[1:]
			}
		}
		c.mu.Unlock()
		w.WriteHeader(code)
		_, _ = io.WriteString(w, http.StatusText(code))
	}))
	t.Cleanup(c.Close)
	return c
}

func (c *capture) Requests() []request {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]request(nil), c.reqs...)
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(want) != string(got) {
		t.Errorf("%s differs from the golden file (run with -update to accept):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// smtpMail is one message the SMTP server accepted.
type smtpMail struct {
	Hello string
	From  string
	To    []string
	Data  string
	TLS   bool
	Auth  string
}

// smtpServer is a minimal SMTP server (RFC 5321: EHLO/HELO, optional
// STARTTLS and AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT) that keeps the
// messages it accepts. rejectRcpt, when set, answers RCPT with that reply.
type smtpServer struct {
	ln         net.Listener
	tls        *tls.Config // offer STARTTLS when set
	rejectRcpt string
	mu         sync.Mutex
	mails      []smtpMail
	wg         sync.WaitGroup
}

func newSMTPServer(t *testing.T, tlsConfig *tls.Config, rejectRcpt string) *smtpServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{ln: ln, tls: tlsConfig, rejectRcpt: rejectRcpt}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.wg.Wait()
	})
	return s
}

func (s *smtpServer) Addr() string { return s.ln.Addr().String() }

func (s *smtpServer) Mails() []smtpMail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]smtpMail(nil), s.mails...)
}

func (s *smtpServer) serve(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	w := bufio.NewWriter(c)
	reply := func(lines ...string) {
		for _, l := range lines {
			_, _ = w.WriteString(l + "\r\n")
		}
		_ = w.Flush()
	}
	var cur smtpMail
	reply("220 test.local ESMTP ready")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO", "HELO":
			cur.Hello = arg
			lines := []string{"250-test.local greets " + arg, "250-8BITMIME"}
			if s.tls != nil && !cur.TLS {
				lines = append(lines, "250-STARTTLS")
			}
			reply(append(lines, "250 AUTH PLAIN")...)
		case "STARTTLS":
			if s.tls == nil {
				reply("502 not supported")
				continue
			}
			reply("220 go ahead")
			tc := tls.Server(c, s.tls)
			if err := tc.Handshake(); err != nil {
				return
			}
			c = tc
			r, w = bufio.NewReader(tc), bufio.NewWriter(tc)
			cur = smtpMail{TLS: true}
		case "AUTH":
			cur.Auth = arg
			reply("235 authenticated")
		case "MAIL":
			cur.From = strings.TrimPrefix(arg, "FROM:")
			reply("250 ok")
		case "RCPT":
			if s.rejectRcpt != "" {
				reply(s.rejectRcpt)
				continue
			}
			cur.To = append(cur.To, strings.TrimPrefix(arg, "TO:"))
			reply("250 ok")
		case "DATA":
			reply("354 end with .")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(strings.TrimPrefix(l, "."))
			}
			cur.Data = b.String()
			s.mu.Lock()
			s.mails = append(s.mails, cur)
			s.mu.Unlock()
			cur = smtpMail{Hello: cur.Hello, TLS: cur.TLS}
			reply("250 queued")
		case "RSET", "NOOP":
			reply("250 ok")
		case "QUIT":
			reply("221 bye")
			return
		default:
			reply("500 unknown command")
		}
	}
}

// incident returns an open incident fixture with a ranked cause.
func incident(id string, sev osprey.Severity, labels osprey.Labels) osprey.Incident {
	return osprey.Incident{
		ID: id, Title: "checkout: HighErrorRate", Status: osprey.IncidentOpen, Severity: sev,
		Labels: labels, OpenedAt: t0, UpdatedAt: t0,
		Members: []*osprey.Member{{Kind: osprey.MemberEvent, Name: "HighErrorRate", Labels: labels, Severity: sev,
			Status: osprey.StatusFiring, FirstRef: "e1", LastRef: "e1", FirstSeen: t0, LastSeen: t0, Count: 1}},
		Causes: []osprey.Cause{{Kind: osprey.CauseService, Name: "payments", Score: 0.82,
			Explanation: "payments turned anomalous 40s before checkout, which calls it", EvidenceIDs: []string{"a1"}}},
	}
}
