package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/auth"
	"github.com/osprey-aiops/osprey/internal/bus"
	"github.com/osprey-aiops/osprey/internal/config"
	"github.com/osprey-aiops/osprey/internal/ingest"
	"github.com/osprey-aiops/osprey/internal/ingest/otlp"
	"github.com/osprey-aiops/osprey/internal/metricstore"
	"github.com/osprey-aiops/osprey/internal/topology"
)

// otlpDeps are what the OTLP receiver and the call graph are built from.
type otlpDeps struct {
	bus     bus.Bus
	graph   *topology.Graph
	metrics *metricstore.Store
	// series and logs are the hand-offs the other receivers use (series
	// may be nil when detect is off).
	series osprey.SeriesConsumer
	logs   osprey.LogConsumer
	stats  *ingest.Stats
	auth   *auth.Authenticator
	reg    prometheus.Registerer
	now    func() time.Time
	log    *slog.Logger
}

// otlpStage is the OTLP receiver (HTTP routes, and the gRPC server when
// otlp.grpc_listen is set) and the service call graph it feeds.
type otlpStage struct {
	routes []ingest.Route
	grpc   *otlp.GRPCServer
	graph  *topology.Graph
}

// buildOTLP builds the OTLP receiver and the call graph: metrics go to the
// TSDB and on to bus.Series like remote_write's, logs to bus.Logs like
// Loki's, spans to bus.Spans, which the graph consumes (group "topology").
// The graph itself is built by buildTopology, before the correlate stage
// that reads it.
// buildTopology builds the service call graph with the declared calls and
// placements (the topology section) and subscribes it to bus.Spans (group
// "topology"), so it runs before the bus starts.
func buildTopology(cfg config.TopologyConfig, b bus.Bus, reg prometheus.Registerer, now func() time.Time) (*topology.Graph, error) {
	graph := topology.New(topology.FromConfig(cfg, now))
	if err := graph.Register(reg); err != nil {
		return nil, fmt.Errorf("register topology metrics: %w", err)
	}
	if err := bus.Subscribe(b, bus.Spans, "topology", graph.ConsumeSpans); err != nil {
		return nil, fmt.Errorf("subscribe topology to spans: %w", err)
	}
	return graph, nil
}

func buildOTLP(cfg config.Config, d otlpDeps) (*otlpStage, error) {
	graph := d.graph
	b := d.bus
	recv, err := otlp.New(otlp.Options{
		Store:  d.metrics,
		Series: d.series,
		Logs:   d.logs,
		Spans: osprey.SpanConsumerFunc(func(ctx context.Context, batch []osprey.Span) error {
			return bus.Publish(ctx, b, bus.Spans, batch)
		}),
		Stats:           d.stats,
		Limits:          cfg.Server,
		MaxDecodedBytes: cfg.OTLP.MaxDecodedBytes,
		MaxFuture:       cfg.RemoteWrite.MaxFuture,
		Now:             d.now,
		Logger:          d.log,
	})
	if err != nil {
		return nil, err
	}
	st := &otlpStage{routes: append(recv.Routes(), graph.Routes()...), graph: graph}
	if cfg.OTLP.GRPCListen != "" {
		st.grpc, err = otlp.NewGRPCServer(otlp.GRPCOptions{Receiver: recv, Listen: cfg.OTLP.GRPCListen, Auth: d.auth, Logger: d.log})
		if err != nil {
			return nil, err
		}
	}
	return st, nil
}

// start starts the gRPC server, if any, in g (after the bus, before the
// HTTP server, so it stops before the bus drains).
func (s *otlpStage) start(ctx context.Context, g *group, log *slog.Logger) error {
	if s.grpc == nil {
		return nil
	}
	if err := g.start(ctx, "otlp-grpc", s.grpc); err != nil {
		return err
	}
	log.Info("otlp grpc listening", "addr", s.grpc.Addr().String())
	return nil
}
