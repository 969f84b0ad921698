package otlp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	_ "google.golang.org/grpc/encoding/gzip" // OTLP exporters may compress with gzip

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/auth"
)

// GRPCOptions configure a GRPCServer. Receiver and Listen are required.
type GRPCOptions struct {
	// Receiver handles every request, as it does the HTTP ones.
	Receiver *Receiver
	// Listen is the host:port to serve on (otlp.grpc_listen).
	Listen string
	// Auth checks the bearer token in the "authorization" metadata, which
	// must carry the operator role; nil lets every call through.
	Auth *auth.Authenticator
	// Logger receives serve errors; default discards.
	Logger *slog.Logger
}

// GRPCServer serves the OTLP/gRPC metrics, logs and trace services. It is
// an osprey.Component.
type GRPCServer struct {
	recv   *Receiver
	listen string
	auth   *auth.Authenticator
	log    *slog.Logger
	srv    *grpc.Server

	mu   sync.Mutex
	lis  net.Listener
	done chan struct{}
	once sync.Once
}

var _ osprey.Component = (*GRPCServer)(nil)

// NewGRPCServer returns a GRPCServer; it listens on Start.
func NewGRPCServer(opts GRPCOptions) (*GRPCServer, error) {
	if opts.Receiver == nil || opts.Listen == "" {
		return nil, errors.New("otlp: gRPC server needs a receiver and an address")
	}
	g := &GRPCServer{recv: opts.Receiver, listen: opts.Listen, auth: opts.Auth, log: opts.Logger}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	g.srv = grpc.NewServer(
		grpc.MaxRecvMsgSize(int(opts.Receiver.maxDec)),
		grpc.UnaryInterceptor(g.authorize),
	)
	pmetricotlp.RegisterGRPCServer(g.srv, &metricsService{r: g.recv})
	plogotlp.RegisterGRPCServer(g.srv, &logsService{r: g.recv})
	ptraceotlp.RegisterGRPCServer(g.srv, &tracesService{r: g.recv})
	return g, nil
}

// Start listens and serves in a goroutine.
func (g *GRPCServer) Start(context.Context) error {
	lis, err := net.Listen("tcp", g.listen)
	if err != nil {
		return fmt.Errorf("otlp grpc listen %s: %w", g.listen, err)
	}
	g.mu.Lock()
	g.lis = lis
	g.done = make(chan struct{})
	g.mu.Unlock()
	go func() {
		defer close(g.done)
		if err := g.srv.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			g.log.Error("otlp grpc serve", "err", err)
		}
	}()
	return nil
}

// Addr returns the address served on, once started.
func (g *GRPCServer) Addr() net.Addr {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.lis == nil {
		return nil
	}
	return g.lis.Addr()
}

// Shutdown stops taking calls and waits for those in flight, until ctx is
// done, when it cancels them.
func (g *GRPCServer) Shutdown(ctx context.Context) error {
	var err error
	g.once.Do(func() {
		stopped := make(chan struct{})
		go func() {
			g.srv.GracefulStop()
			close(stopped)
		}()
		select {
		case <-stopped:
		case <-ctx.Done():
			g.srv.Stop()
			<-stopped
			err = ctx.Err()
		}
		g.mu.Lock()
		done := g.done
		g.mu.Unlock()
		if done != nil {
			<-done
		}
	})
	return err
}

// authorize checks the bearer token of every call, as the HTTP routes do.
func (g *GRPCServer) authorize(ctx context.Context, req any, _ *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	if g.auth == nil || !g.auth.Enabled() {
		return next(ctx, req)
	}
	md, _ := metadata.FromIncomingContext(ctx)
	hr := &http.Request{Header: http.Header{}}
	if v := md.Get("authorization"); len(v) > 0 {
		hr.Header.Set("Authorization", v[0])
	}
	p, err := g.auth.Authenticate(hr)
	if err != nil {
		return nil, status.Error(codes.Unauthenticated, err.Error())
	}
	if !p.Role.Includes(auth.RoleOperator) {
		return nil, status.Errorf(codes.PermissionDenied, "role %s required, token %q has role %s", auth.RoleOperator, p.Name, p.Role)
	}
	return next(auth.WithPrincipal(ctx, p), req)
}

// grpcError maps an Export error to a gRPC status: UNAVAILABLE, which OTLP
// exporters retry.
func grpcError(err error) error {
	return status.Error(codes.Unavailable, err.Error())
}

type metricsService struct {
	pmetricotlp.UnimplementedGRPCServer
	r *Receiver
}

// Export implements pmetricotlp.GRPCServer.
func (s *metricsService) Export(ctx context.Context, req pmetricotlp.ExportRequest) (pmetricotlp.ExportResponse, error) {
	resp, err := s.r.ExportMetrics(ctx, req)
	if err != nil {
		return resp, grpcError(err)
	}
	return resp, nil
}

type logsService struct {
	plogotlp.UnimplementedGRPCServer
	r *Receiver
}

// Export implements plogotlp.GRPCServer.
func (s *logsService) Export(ctx context.Context, req plogotlp.ExportRequest) (plogotlp.ExportResponse, error) {
	resp, err := s.r.ExportLogs(ctx, req)
	if err != nil {
		return resp, grpcError(err)
	}
	return resp, nil
}

type tracesService struct {
	ptraceotlp.UnimplementedGRPCServer
	r *Receiver
}

// Export implements ptraceotlp.GRPCServer.
func (s *tracesService) Export(ctx context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	resp, err := s.r.ExportTraces(ctx, req)
	if err != nil {
		return resp, grpcError(err)
	}
	return resp, nil
}
