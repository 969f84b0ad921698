// Package app is the one place where Osprey is wired together: it opens the
// store, builds the bus, the stages and the HTTP API from a config.Config,
// starts them in order and shuts them down in reverse order.
//
// Adding a receiver, a detector or a notifier means adding it here; stages never
// construct each other.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/api"
	"github.com/osprey-aiops/osprey/internal/auth"
	"github.com/osprey-aiops/osprey/internal/buildinfo"
	"github.com/osprey-aiops/osprey/internal/bus"
	"github.com/osprey-aiops/osprey/internal/bus/inproc"
	"github.com/osprey-aiops/osprey/internal/config"
	"github.com/osprey-aiops/osprey/internal/correlate"
	logdetect "github.com/osprey-aiops/osprey/internal/detect/logs"
	"github.com/osprey-aiops/osprey/internal/detect/metric"
	"github.com/osprey-aiops/osprey/internal/ingest"
	"github.com/osprey-aiops/osprey/internal/ingest/alerts"
	"github.com/osprey-aiops/osprey/internal/ingest/loki"
	"github.com/osprey-aiops/osprey/internal/ingest/promremote"
	"github.com/osprey-aiops/osprey/internal/ingest/syslog"
	"github.com/osprey-aiops/osprey/internal/metricstore"
	"github.com/osprey-aiops/osprey/internal/query"
	"github.com/osprey-aiops/osprey/internal/rca"
	"github.com/osprey-aiops/osprey/internal/remediate"
	"github.com/osprey-aiops/osprey/internal/store"
	"github.com/osprey-aiops/osprey/internal/store/postgres"
	"github.com/osprey-aiops/osprey/internal/store/sqlite"
)

// Options carries the process-level dependencies of Run.
type Options struct {
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Started, if set, is called with the HTTP address once everything runs.
	Started func(addr string)
	// ConfigPath is the configuration file Osprey was started with ("" for
	// the built-in defaults); POST /api/v1/remediation/reload re-reads its
	// remediation section.
	ConfigPath string
	// ReloadRemediation, if set, reloads the remediation section on each
	// receive (the CLI sends SIGHUP there).
	ReloadRemediation <-chan struct{}
}

// Run starts Osprey as configured and blocks until ctx is cancelled (SIGINT or
// SIGTERM in the CLI), then shuts down gracefully within
// cfg.Server.ShutdownTimeout: the HTTP server stops taking requests and finishes
// those in flight, the syslog listener hands on its last batch, the bus
// delivers what it queued (the detector scores what it was handed, the
// template miner mines the last lines), the template saver writes what
// changed, the detector's models are snapshotted, the stages stop, the
// metric store closes, and the store closes. Run returns an error if
// start-up fails or shutdown did not complete cleanly.
func Run(ctx context.Context, cfg config.Config, opts Options) (err error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		buildInfoCollector(),
	)

	authn, err := buildAuth(cfg, log)
	if err != nil {
		return err
	}

	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := st.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close store: %w", cerr)
		}
	}()

	// The metric store opens on Start; it is built now so that the
	// receivers and the query API can hold it.
	metrics, err := metricstore.New(metricstore.Options{
		Dir:        cfg.TSDBPath(),
		Retention:  cfg.TSDB.Retention,
		MaxSeries:  cfg.TSDB.MaxSeries,
		Logger:     log.With("component", "tsdb"),
		Registerer: reg,
		// Series per metric name: the head refuses more (series_per_metric).
		MaxSeriesPerMetric: cfg.TSDB.MaxSeriesPerMetric,
	})
	if err != nil {
		return err
	}

	var corr *correlate.Correlator // built below; the bus's Idle calls it
	b := inproc.New(inproc.Options{
		QueueSize:      cfg.Bus.QueueSize,
		PublishTimeout: cfg.Bus.PublishTimeout,
		// The correlator pays per call (a transaction, the rankings):
		// under a flood it takes what queued as one batch.
		Coalesce: map[string]int{bus.Events.Name(): cfg.Bus.CoalesceEvents},
		// The correlator commits a batch while it groups the next
		// (correlate.Options.Pipeline); when no batch is queued the
		// bus waits for its commits (a batch that arrives cuts the
		// wait short), and the drain on shutdown waits for them.
		Idle:       map[string]func(context.Context) error{bus.Events.Name(): func(ctx context.Context) error { return corr.Flush(ctx) }},
		Registerer: reg,
		Logger:     log.With("component", "bus"),
	})
	graph, err := buildTopology(cfg.Topology, b, reg, now)
	if err != nil {
		return err
	}
	corrOpts, err := cfg.Correlate.Options()
	if err != nil {
		return err
	}
	// The ranker's comparison of coarse series with their normal period
	// reads the metric store in its own goroutine, outside the
	// correlator's lock, and asks the correlator to rank an incident
	// again when its evidence changed (internal/app/history.go).
	rankGraph := graph.RankGraph
	ranker := rca.IncidentRanker{Graph: rankGraph, Config: rca.DefaultConfig()}
	hist, err := buildHistory(cfg, metrics, rankGraph, func(ctx context.Context, id string) error { return corr.Rerank(ctx, id) },
		now, reg, log.With("component", "rca"))
	if err != nil {
		return err
	}
	if hist != nil {
		ranker.Extra = hist
	}
	corrOpts.Store = st
	corrOpts.Topology = graph
	// An incident is ranked with the evidence of the incidents
	// concurrent with it unless rca.concurrent is off (docs/rca.md,
	// "Session 7: concurrent incidents").
	corrOpts.Causes = cfg.RCA.Concurrent.Ranker(ranker)
	corrOpts.Out = bus.IncidentPublisher(b)
	corrOpts.Now = now
	corrOpts.Logger = log.With("component", "correlate")
	corrOpts.Registerer = reg
	corrOpts.Pipeline = true
	corr, err = correlate.New(corrOpts)
	if err != nil {
		return err
	}
	if err := bus.Subscribe(b, bus.Events, "correlate", corr.ConsumeEvents); err != nil {
		return fmt.Errorf("subscribe correlate to events: %w", err)
	}
	if err := bus.Subscribe(b, bus.Anomalies, "correlate", corr.ConsumeAnomalies); err != nil {
		return fmt.Errorf("subscribe correlate to anomalies: %w", err)
	}

	// The notify stage is built before remediate: runbooks' notify steps
	// hand their messages to it.
	notifier, err := buildNotify(cfg, b, st, now, reg, log.With("component", "notify"))
	if err != nil {
		return err
	}
	// The remediate stage acts on the correlator's incident snapshots. It
	// starts after the correlator and before the bus, so it shuts down
	// after the bus has delivered the last incidents.
	remed, err := remediate.New(remediate.Options{
		Config:     cfg.Remediation,
		Store:      st,
		Now:        now,
		Logger:     log.With("component", "remediate"),
		Registerer: reg,
		Kube:       kubeConnector(),
		Source:     remediationSource(opts.ConfigPath),
		Notifier:   remediationNotifier(cfg, notifier),
	})
	if err != nil {
		return err
	}
	if err := bus.Subscribe(b, bus.Incidents, "remediate", remed.ConsumeIncidents); err != nil {
		return fmt.Errorf("subscribe remediate to incidents: %w", err)
	}

	// The metric detect stage: the remote_write receiver hands each
	// stored batch to bus.Series without waiting, the engine scores it in
	// the bus' worker, and its anomalies are stored, written back to the
	// TSDB as scores, and published to the correlator.
	// The engine also takes operators' verdicts on anomalies from the API.
	// The model saver restores the engine's models before the bus starts
	// and snapshots them periodically and after the bus drained.
	var seriesNext osprey.SeriesConsumer
	var feedback api.AnomalyFeedback
	var models *modelSaver
	sink := newAnomalySink(st, metrics, bus.AnomalyPublisher(b), log.With("component", "detect"))
	// The forecaster (time until a threshold) reads the same batches in
	// the same consumer group and hands its forecasts to the same sink.
	fc, err := buildForecast(ctx, cfg.Forecast, st, sink, reg, log.With("component", "forecast"))
	if err != nil {
		return err
	}
	var fcModels *modelSaver
	if fc != nil {
		fcModels = newModelSaver(fc, forecastSnapshotPath(cfg), cfg.Detect.SnapshotInterval, log.With("component", "forecast"))
	}
	if cfg.Detect.Enabled {
		eng, err := metric.NewEngine(metric.DefaultConfig(), sink, cfg.Detect.MaxSeries)
		if err != nil {
			return err
		}
		detect, err := skipMaintenance(corr, reg, chainSeries(fc, eng))
		if err != nil {
			return err
		}
		if err := bus.Subscribe(b, bus.Series, "detect", detect); err != nil {
			return fmt.Errorf("subscribe detect to series: %w", err)
		}
		if err := registerDetectMetrics(reg, eng, sink); err != nil {
			return err
		}
		seriesNext = seriesPublisher(b)
		feedback = eng
		models = newModelSaver(eng, cfg.DetectSnapshotPath(), cfg.Detect.SnapshotInterval, log.With("component", "detect"))
	} else if fc != nil {
		if err := bus.Subscribe(b, bus.Series, "detect", fc.ConsumeSeries); err != nil {
			return fmt.Errorf("subscribe forecast to series: %w", err)
		}
		seriesNext = seriesPublisher(b)
	}

	// The log stage: the Loki and syslog receivers publish to bus.Logs, and
	// the template miner consumes it. The saver restores the stored
	// templates before the bus starts and writes changed ones back.
	// The log anomaly detector (logs.anomalies) is fed by the miner and
	// hands its anomalies to the same sink as the metric detector.
	// The trace detect stage reads bus.Spans in a group of its own and
	// hands its anomalies to the same sink (internal/app/tracedetect.go);
	// the log miner joins the lines that carry a span id to their spans.
	traceDet, err := buildTraceDetect(cfg.Detect.Traces, b, sink, reg, now, log.With("component", "tracedetect"))
	if err != nil {
		return err
	}
	var saver *templateSaver
	var logDet *logdetect.Detector
	var logModels *modelSaver
	if cfg.Logs.Enabled {
		saver, logDet, err = buildLogStage(cfg.Logs, b, st, sink, metrics, now, log, reg, spanLogObserver(traceDet))
		if err != nil {
			return err
		}
		if logDet != nil {
			// The log detector's rate baselines are kept like the metric
			// detector's models (internal/app/logs.go).
			logModels = newModelSaver(logDet, logSnapshotPath(cfg), cfg.Detect.SnapshotInterval, log.With("component", "logdetect"))
		}
	}
	logsNext := logsPublisher(b)
	// The windows of recent log lines and spans, read by GET /api/v1/logs
	// and /api/v1/spans (internal/app/evidence.go).
	recent, err := buildEvidence(cfg, b, reg, now)
	if err != nil {
		return err
	}

	// Every receiver commits through one Committer (store first, then the
	// bus) and counts its data quality in one Stats.
	commit, err := ingest.NewCommitter(ingest.CommitterOptions{
		Store:  st,
		Next:   bus.EventPublisher(b),
		Logger: log.With("component", "ingest"),
	})
	if err != nil {
		return err
	}
	stats := ingest.NewStats()
	alertReceivers, err := alerts.New(alerts.Options{
		Events: commit,
		Stats:  stats,
		Limits: cfg.Server,
		Now:    now,
		Logger: log.With("component", "alerts"),
	})
	if err != nil {
		return err
	}

	remoteWrite, err := promremote.New(promremote.Options{
		Store: metrics,
		Next:  seriesNext,
		Stats: stats,
		Limits: promremote.Limits{
			MaxBodyBytes:       cfg.Server.MaxBodyBytes,
			MaxDecodedBytes:    cfg.RemoteWrite.MaxDecodedBytes,
			MaxLabelsPerSeries: cfg.RemoteWrite.MaxLabelsPerSeries,
			MaxLabelBytes:      cfg.RemoteWrite.MaxLabelBytes,
			MaxFuture:          cfg.RemoteWrite.MaxFuture,
		},
		Now:             now,
		Logger:          log.With("component", "remote_write"),
		Registerer:      reg,
		MaxCachedSeries: cfg.RemoteWrite.MaxCachedSeries,
	})
	if err != nil {
		return err
	}
	lokiPush, err := loki.New(loki.Options{
		Logs:            logsNext,
		Stats:           stats,
		Limits:          cfg.Server,
		MaxLineBytes:    cfg.Loki.MaxLineBytes,
		MaxDecodedBytes: cfg.Loki.MaxDecodedBytes,
		Now:             now,
		Logger:          log.With("component", "loki"),
	})
	if err != nil {
		return err
	}
	var syslogSrv *syslog.Server
	if cfg.Syslog.Enabled() {
		loc, err := time.LoadLocation(cfg.Syslog.RFC3164Timezone)
		if err != nil {
			return fmt.Errorf("syslog.rfc3164_timezone: %w", err)
		}
		syslogSrv, err = syslog.New(syslog.Options{
			Logs:            logsNext,
			UDP:             cfg.Syslog.UDP,
			TCP:             cfg.Syslog.TCP,
			Stats:           stats,
			MaxMessageBytes: cfg.Syslog.MaxMessageBytes,
			MaxConnections:  cfg.Syslog.MaxConnections,
			IdleTimeout:     cfg.Syslog.IdleTimeout,
			BatchSize:       cfg.Syslog.BatchSize,
			FlushInterval:   cfg.Syslog.FlushInterval,
			Location:        loc,
			Now:             now,
			Logger:          log.With("component", "syslog"),
		})
		if err != nil {
			return fmt.Errorf("build syslog server: %w", err)
		}
	}
	queryAPI, err := query.New(query.Options{
		Queryable:     metrics,
		Timeout:       cfg.Query.Timeout,
		MaxSamples:    cfg.Query.MaxSamples,
		LookbackDelta: cfg.Query.LookbackDelta,
		MaxConcurrent: cfg.Query.MaxConcurrent,
		Now:           now,
		Logger:        log.With("component", "query"),
		Registerer:    reg,
	})
	if err != nil {
		return err
	}
	otlpIn, err := buildOTLP(cfg, otlpDeps{bus: b, graph: graph, metrics: metrics, series: seriesNext, logs: logsNext, stats: stats,
		auth: authn, reg: reg, now: now, log: log.With("component", "otlp")})
	if err != nil {
		return err
	}
	// The scraper and the file tailer collect on their own, into the
	// same paths as the push receivers (internal/app/scrape.go).
	collectors, err := buildCollectors(cfg, metrics, seriesNext, logsNext, stats, now, log, reg)
	if err != nil {
		return err
	}
	routes := slices.Concat(alertReceivers.Routes(), remoteWrite.Routes(), lokiPush.Routes(), queryAPI.Routes(), otlpIn.routes)

	handler, err := api.New(api.Options{
		Store:       st,
		Ingest:      commit,
		Stats:       stats,
		Routes:      routes,
		Remediation: remed,
		Feedback:    feedback,
		Incidents:   corr,
		Silences:    corr,
		Maintenance: corr,
		Forecast:    forecastAPI(fc, metrics, cfg.Query.MaxSamples),
		Logs:        recent.logs,
		Spans:       recent.spans,
		Auth:        authn,
		Limits:      cfg.Server,
		Now:         now,
		Logger:      log.With("component", "api"),
		Registerer:  reg,
		Gatherer:    reg,
		Ready:       st.Ping,
	})
	if err != nil {
		return fmt.Errorf("build api: %w", err)
	}
	web, err := withUI(uiDeps{store: st, metrics: metrics, graph: graph, remed: remed, stats: stats, auth: authn,
		now: now, log: log.With("component", "ui")}, handler)
	if err != nil {
		return err
	}
	pruner, err := buildPruner(cfg.Storage.Retention, st, now, reg, log.With("component", "retention"))
	if err != nil {
		return err
	}
	srv := newHTTPServer(cfg.Server.Listen, web, cfg.Server.ReadTimeout, cfg.Server.WriteTimeout, log.With("component", "http"))

	// Start order: consumers before producers, so nothing is published to a
	// stage that is not ready. The metric store opens first and closes
	// last, after the bus has drained the detector's last score writes.
	// The correlator replays stored events it has not applied yet, and the
	// template saver restores the mined templates, before anything new
	// arrives. The syslog server starts after the bus and stops before it,
	// so that its last batch is handed on and mined; the saver stops after
	// the bus, so that it writes what the drain mined; so does the detector's
	// model saver, so that its last snapshot holds what the drain scored.
	g := &group{log: log}
	startErr := func() error {
		if err := g.start(ctx, "tsdb", metrics); err != nil {
			return err
		}
		if err := g.start(ctx, "correlate", corr); err != nil {
			return err
		}
		if hist != nil {
			if err := g.start(ctx, "rca-history", hist); err != nil {
				return err
			}
		}
		if err := g.start(ctx, "remediate", remed); err != nil {
			return err
		}
		reloadOn(ctx, opts.ReloadRemediation, remed, log.With("component", "remediate"))
		if err := g.start(ctx, "retention", pruner); err != nil {
			return err
		}
		if err := g.start(ctx, "notify", notifier); err != nil {
			return err
		}
		if saver != nil {
			if err := g.start(ctx, "logmine", saver); err != nil {
				return err
			}
		}
		if models != nil {
			if err := g.start(ctx, "detect", models); err != nil {
				return err
			}
		}
		if fcModels != nil {
			if err := g.start(ctx, "forecast-models", fcModels); err != nil {
				return err
			}
		}
		if logModels != nil {
			if err := g.start(ctx, "logdetect-models", logModels); err != nil {
				return err
			}
		}
		if err := g.start(ctx, "bus", b); err != nil {
			return err
		}
		if logDet != nil {
			if err := g.start(ctx, "logdetect", logDet); err != nil {
				return err
			}
		}
		if traceDet != nil {
			if err := g.start(ctx, "tracedetect", traceDet); err != nil {
				return err
			}
		}
		if syslogSrv != nil {
			if err := g.start(ctx, "syslog", syslogSrv); err != nil {
				return err
			}
			udp, tcp := syslogSrv.Addrs()
			log.Info("syslog listening", "udp", fmt.Sprint(udp), "tcp", fmt.Sprint(tcp))
		}
		if err := otlpIn.start(ctx, g, log); err != nil {
			return err
		}
		for _, c := range collectors {
			if err := g.start(ctx, c.name, c.c); err != nil {
				return err
			}
		}
		return g.start(ctx, "http", srv)
	}()
	if startErr == nil {
		log.Info("osprey started", "version", buildinfo.Version, "listen", srv.Addr(),
			"storage", cfg.Storage.Driver, "data_dir", cfg.DataDir)
		if opts.Started != nil {
			opts.Started(srv.Addr())
		}
		<-ctx.Done()
		log.Info("shutting down", "timeout", cfg.Server.ShutdownTimeout)
	}

	sctx, cancel := context.WithTimeout(context.Background(), cfg.Server.ShutdownTimeout)
	defer cancel()
	if err := g.shutdown(sctx); err != nil {
		if startErr != nil {
			return fmt.Errorf("%w (and during shutdown: %v)", startErr, err)
		}
		return err
	}
	if startErr != nil {
		return startErr
	}
	log.Info("osprey stopped")
	return nil
}

// openStore opens the configured backend.
func openStore(ctx context.Context, cfg config.Config, log *slog.Logger) (store.Store, error) {
	switch cfg.Storage.Driver {
	case config.DriverPostgres:
		dsn, err := cfg.PostgresDSN()
		if err != nil {
			return nil, err
		}
		st, err := postgres.Open(ctx, dsn, cfg.Storage.Postgres.Schema, cfg.Storage.Postgres.MaxConns)
		if err != nil {
			return nil, fmt.Errorf("open postgres store: %w", err)
		}
		return st, nil
	default:
		if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
			return nil, fmt.Errorf("create data dir: %w", err)
		}
		path := cfg.SQLitePath()
		st, err := sqlite.Open(ctx, path)
		if err != nil {
			return nil, fmt.Errorf("open sqlite store %s: %w", path, err)
		}
		log.Debug("opened sqlite store", "path", path)
		return st, nil
	}
}

// buildAuth loads the token hashes; the plaintext tokens are never held.
func buildAuth(cfg config.Config, log *slog.Logger) (*auth.Authenticator, error) {
	tokens := make([]auth.Token, 0, len(cfg.Auth.Tokens))
	for i, tc := range cfg.Auth.Tokens {
		h, err := tc.Hash()
		if err != nil {
			return nil, fmt.Errorf("auth.tokens[%d] (%s): %w", i, tc.Name, err)
		}
		role, err := auth.ParseRole(tc.Role)
		if err != nil {
			return nil, fmt.Errorf("auth.tokens[%d] (%s): %w", i, tc.Name, err)
		}
		tokens = append(tokens, auth.Token{Name: tc.Name, Role: role, Hash: h})
	}
	if len(tokens) == 0 {
		// config.Validate refuses a non-loopback listen address without
		// tokens, so an unauthenticated Osprey is never on the network.
		log.Warn("no API tokens configured: serving on loopback only, every local user is admin; configure auth.tokens to expose the API",
			"listen", cfg.Server.Listen)
	}
	return auth.New(tokens), nil
}

func buildInfoCollector() prometheus.Collector {
	info := buildinfo.Get()
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "osprey_build_info",
		Help:        "Always 1; labels describe the running binary.",
		ConstLabels: prometheus.Labels{"version": info.Version, "revision": info.Revision, "goversion": info.GoVersion},
	})
	g.Set(1)
	return g
}

var _ osprey.Component = (*httpServer)(nil)
