package syslog

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/ingest"
	"github.com/osprey-aiops/osprey/internal/logparse"
)

// ReceiverName is the receiver's name in ingest.Stats.
const ReceiverName = "syslog"

// Defaults of Options.
const (
	DefaultMaxMessageBytes = 64 << 10
	DefaultMaxConnections  = 256
	DefaultIdleTimeout     = 5 * time.Minute
	DefaultBatchSize       = 512
	DefaultFlushInterval   = 200 * time.Millisecond
)

// Options configure the listener. Logs and at least one address are
// required.
type Options struct {
	// Logs receives the messages in batches.
	Logs osprey.LogConsumer
	// UDP and TCP are the addresses to listen on ("127.0.0.1:5514",
	// ":6514"); either may be empty.
	UDP, TCP []string
	// Stats receives the data-quality counts; nil means a private Stats.
	Stats *ingest.Stats
	// MaxMessageBytes bounds one message (its frame on TCP, its datagram
	// on UDP); longer ones are dropped and counted as too_large. Default
	// 64 KiB.
	MaxMessageBytes int
	// MaxConnections bounds the TCP connections open at once; further
	// connections are closed at once and counted as too_many. Default 256.
	MaxConnections int
	// IdleTimeout closes a TCP connection on which nothing arrives for
	// this long (each read has this deadline). Default 5 minutes; senders
	// such as rsyslog reconnect when they next have something to send.
	IdleTimeout time.Duration
	// BatchSize and FlushInterval: messages are handed to Logs in batches
	// of BatchSize, or whatever has arrived every FlushInterval. Defaults
	// 512 and 200 ms.
	BatchSize     int
	FlushInterval time.Duration
	// Location is the zone of RFC 3164 timestamps, which carry none;
	// default time.Local (the sender is usually in the receiver's zone).
	Location *time.Location
	// Now is the clock of receive times and of the RFC 3164 year; default
	// time.Now.
	Now func() time.Time
	// NewTicker returns the flush ticks and a function that stops them;
	// default a time.Ticker. Tests inject their own.
	NewTicker func(d time.Duration) (<-chan time.Time, func())
	// Logger receives listener and hand-off errors; default discards.
	Logger *slog.Logger
}

// Server receives syslog messages (RFC 5424 and RFC 3164) over UDP and TCP
// and hands them on as osprey.LogRecords. It is an osprey.Component.
type Server struct {
	opts  Options
	recv  *ingest.Receiver
	batch *batcher
	log   *slog.Logger

	// ctx is the context of hand-offs; cancelled when Shutdown gives up.
	ctx    context.Context
	cancel context.CancelFunc

	mu        sync.Mutex
	started   bool
	stopped   bool
	udp       []net.PacketConn
	tcp       []net.Listener
	conns     map[net.Conn]struct{}
	stopTick  func()
	done      chan struct{} // closed by Shutdown: stop the flusher
	shutdown  chan struct{} // closed when Shutdown has finished
	shutErr   error
	wg        sync.WaitGroup // readers, accept loops and connections
	flusherWG sync.WaitGroup
	slots     chan struct{} // one per open TCP connection
}

var _ osprey.Component = (*Server)(nil)

// New checks opts and returns a Server that is not listening yet.
func New(opts Options) (*Server, error) {
	if opts.Logs == nil {
		return nil, errors.New("syslog: no log consumer")
	}
	if len(opts.UDP) == 0 && len(opts.TCP) == 0 {
		return nil, errors.New("syslog: no UDP or TCP address to listen on")
	}
	if opts.MaxMessageBytes < 0 || opts.MaxConnections < 0 || opts.IdleTimeout < 0 || opts.BatchSize < 0 || opts.FlushInterval < 0 {
		return nil, errors.New("syslog: negative limit")
	}
	if opts.MaxMessageBytes == 0 {
		opts.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if opts.MaxConnections == 0 {
		opts.MaxConnections = DefaultMaxConnections
	}
	if opts.IdleTimeout == 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.BatchSize == 0 {
		opts.BatchSize = DefaultBatchSize
	}
	if opts.FlushInterval == 0 {
		opts.FlushInterval = DefaultFlushInterval
	}
	if opts.Location == nil {
		opts.Location = time.Local
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.NewTicker == nil {
		opts.NewTicker = func(d time.Duration) (<-chan time.Time, func()) {
			t := time.NewTicker(d)
			return t.C, t.Stop
		}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	stats := opts.Stats
	if stats == nil {
		stats = ingest.NewStats()
	}
	s := &Server{
		opts:     opts,
		recv:     stats.Receiver(ReceiverName),
		log:      log,
		conns:    make(map[net.Conn]struct{}),
		done:     make(chan struct{}),
		shutdown: make(chan struct{}),
		slots:    make(chan struct{}, opts.MaxConnections),
	}
	s.batch = newBatcher(opts.Logs, opts.BatchSize, s.recv, log)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// Start binds every address and starts serving. If an address cannot be
// bound, nothing is left listening and the error names the address.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.stopped {
		return errors.New("syslog: Start after Start or Shutdown")
	}
	var lc net.ListenConfig
	fail := func(err error) error {
		for _, c := range s.udp {
			_ = c.Close()
		}
		for _, l := range s.tcp {
			_ = l.Close()
		}
		s.udp, s.tcp = nil, nil
		return err
	}
	for _, addr := range s.opts.UDP {
		c, err := lc.ListenPacket(ctx, "udp", addr)
		if err != nil {
			return fail(fmt.Errorf("syslog: listen udp %s: %w", addr, err))
		}
		s.udp = append(s.udp, c)
	}
	for _, addr := range s.opts.TCP {
		l, err := lc.Listen(ctx, "tcp", addr)
		if err != nil {
			return fail(fmt.Errorf("syslog: listen tcp %s: %w", addr, err))
		}
		s.tcp = append(s.tcp, l)
	}
	s.started = true
	for _, c := range s.udp {
		s.wg.Add(1)
		go s.serveUDP(c)
	}
	for _, l := range s.tcp {
		s.wg.Add(1)
		go s.acceptTCP(l)
	}
	ticks, stop := s.opts.NewTicker(s.opts.FlushInterval)
	s.stopTick = stop
	s.flusherWG.Add(1)
	go s.flusher(ticks)
	s.log.Info("syslog listening", "udp", addrs(s.udp), "tcp", listenerAddrs(s.tcp))
	return nil
}

// Addrs returns the bound addresses, UDP then TCP (useful with port 0).
func (s *Server) Addrs() (udp, tcp []net.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.udp {
		udp = append(udp, c.LocalAddr())
	}
	for _, l := range s.tcp {
		tcp = append(tcp, l.Addr())
	}
	return udp, tcp
}

// Shutdown stops listening, closes the TCP connections, waits for the
// readers, and hands on what they had collected. If ctx ends first, the
// hand-off in progress is cancelled and ctx's error returned. Shutdown is
// idempotent; later calls wait for the first to finish.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		select {
		case <-s.shutdown:
			return s.shutErr
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.stopped = true
	started := s.started
	for _, c := range s.udp {
		_ = c.Close()
	}
	for _, l := range s.tcp {
		_ = l.Close()
	}
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	defer close(s.shutdown)
	if !started {
		s.cancel()
		return nil
	}

	finished := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(s.done)
		s.flusherWG.Wait()
		s.stopTick()
		s.batch.flush(s.ctx)
		close(finished)
	}()
	select {
	case <-finished:
		s.cancel()
		return nil
	case <-ctx.Done():
		s.cancel() // a hand-off that waits gives up; then everything returns
		<-finished
		s.shutErr = ctx.Err()
		return fmt.Errorf("syslog: shutdown: %w", ctx.Err())
	}
}

// flusher hands on what has been collected at every tick.
func (s *Server) flusher(ticks <-chan time.Time) {
	defer s.flusherWG.Done()
	for {
		select {
		case <-ticks:
			s.batch.flush(s.ctx)
		case <-s.done:
			return
		}
	}
}

// handle parses one message and adds it to the batch, or counts why not.
func (s *Server) handle(msg []byte, peer string) {
	now := s.opts.Now()
	m, err := logparse.ParseSyslog(string(msg), now, s.opts.Location)
	if err != nil {
		s.reject(ingest.ReasonMalformed)
		return
	}
	s.batch.add(s.ctx, toRecord(&m, peer, now))
}

// reject counts one message that was dropped.
func (s *Server) reject(reason ingest.Reason) {
	s.recv.Rejected(reason, 1)
	s.recv.Done(0, 1)
}

// serveUDP reads one message per datagram.
func (s *Server) serveUDP(c net.PacketConn) {
	defer s.wg.Done()
	// One byte more than the limit tells an oversized datagram (which the
	// kernel truncates to the buffer) from one of exactly the limit.
	buf := make([]byte, s.opts.MaxMessageBytes+1)
	for {
		n, addr, err := c.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("read syslog datagram", "err", err)
			continue
		}
		if n > s.opts.MaxMessageBytes {
			s.reject(ingest.ReasonTooLarge)
			continue
		}
		msg := trimEOL(buf[:n])
		if len(msg) == 0 {
			continue
		}
		s.handle(msg, hostOf(addr))
	}
}

// acceptTCP accepts connections while there are free slots.
func (s *Server) acceptTCP(l net.Listener) {
	defer s.wg.Done()
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			s.log.Warn("accept syslog connection", "err", err)
			time.Sleep(10 * time.Millisecond) // e.g. out of file descriptors: do not spin
			continue
		}
		select {
		case s.slots <- struct{}{}:
		default:
			// Counted before the close, so whoever sees the close also
			// sees the count.
			s.recv.RejectRequest(ingest.ReasonTooMany)
			_ = c.Close()
			s.log.Debug("refused syslog connection: too many open", "peer", c.RemoteAddr().String(), "max", s.opts.MaxConnections)
			continue
		}
		s.mu.Lock()
		if s.stopped {
			s.mu.Unlock()
			_ = c.Close()
			<-s.slots
			return
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serveTCP(c)
	}
}

// serveTCP reads the messages of one connection until it ends, idles out,
// or breaks its framing.
func (s *Server) serveTCP(c net.Conn) {
	defer func() {
		_ = c.Close()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		<-s.slots
		s.wg.Done()
	}()
	peer := hostOf(c.RemoteAddr())
	fr := newFrameReader(bufio.NewReaderSize(c, s.opts.MaxMessageBytes+2), s.opts.MaxMessageBytes)
	for {
		if err := c.SetReadDeadline(time.Now().Add(s.opts.IdleTimeout)); err != nil {
			return
		}
		msg, err := fr.next()
		switch {
		case err == nil:
			s.handle(msg, peer)
		case errors.Is(err, errOversized):
			s.reject(ingest.ReasonTooLarge)
		case errors.Is(err, errFraming):
			s.reject(ingest.ReasonMalformed)
			s.log.Debug("closing syslog connection", "peer", peer, "err", err)
			return
		default:
			// EOF, idle timeout, closed by Shutdown, reset: the
			// connection is over.
			return
		}
	}
}

func hostOf(a net.Addr) string {
	if a == nil {
		return ""
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

func addrs(cs []net.PacketConn) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.LocalAddr().String()
	}
	return out
}

func listenerAddrs(ls []net.Listener) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.Addr().String()
	}
	return out
}
