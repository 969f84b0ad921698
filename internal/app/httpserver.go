package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// httpServer runs an http.Server as an osprey.Component.
type httpServer struct {
	srv  *http.Server
	addr string
	log  *slog.Logger

	ln   net.Listener
	done chan struct{}
	once sync.Once
	err  error
}

func newHTTPServer(addr string, h http.Handler, readTimeout, writeTimeout time.Duration, log *slog.Logger) *httpServer {
	return &httpServer{
		addr: addr,
		log:  log,
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       readTimeout,
			WriteTimeout:      writeTimeout,
			IdleTimeout:       2 * time.Minute,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		},
		done: make(chan struct{}),
	}
}

// Start binds the listen address (so a taken port fails start-up) and serves
// in the background.
func (s *httpServer) Start(context.Context) error {
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.addr, err)
	}
	s.ln = ln
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.err = err
			s.log.Error("http server stopped", "err", err)
		}
	}()
	return nil
}

// Addr returns the bound address, once started.
func (s *httpServer) Addr() string {
	if s.ln == nil {
		return s.addr
	}
	return s.ln.Addr().String()
}

// Shutdown stops accepting connections and waits for in-flight requests, so
// every request that got a reply had its data committed.
func (s *httpServer) Shutdown(ctx context.Context) error {
	var err error
	s.once.Do(func() {
		if s.ln == nil {
			return
		}
		err = s.srv.Shutdown(ctx)
		select {
		case <-s.done:
		case <-ctx.Done():
			err = errors.Join(err, ctx.Err())
		}
	})
	return err
}
