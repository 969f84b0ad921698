// Package config defines Osprey's configuration file: one YAML document decoded
// strictly (unknown keys are errors) over defaults, with every section
// validated and all problems reported at once with their key paths.
package config

import (
	"path/filepath"
	"time"

	"github.com/osprey-aiops/osprey/internal/notify"
	"github.com/osprey-aiops/osprey/internal/remediate"
)

// Config is the whole configuration of an Osprey process.
type Config struct {
	// DataDir holds the embedded database and any state files.
	DataDir   string          `yaml:"data_dir"`
	Server    ServerConfig    `yaml:"server"`
	Auth      AuthConfig      `yaml:"auth"`
	Storage   StorageConfig   `yaml:"storage"`
	Bus       BusConfig       `yaml:"bus"`
	Correlate CorrelateConfig `yaml:"correlate"`
	Log       LogConfig       `yaml:"log"`
	// TSDB is the embedded Prometheus TSDB that keeps metric samples.
	TSDB TSDBConfig `yaml:"tsdb"`
	// RemoteWrite limits the Prometheus remote_write receiver.
	RemoteWrite RemoteWriteConfig `yaml:"remote_write"`
	// Detect configures the metric anomaly detect stage.
	Detect DetectConfig `yaml:"detect"`
	// Forecast configures the forecaster: time until a threshold (disk
	// full in 3h10m).
	Forecast ForecastConfig `yaml:"forecast"`
	// Query limits the Prometheus-compatible query API.
	Query QueryConfig `yaml:"query"`
	// Loki limits the Loki push receiver.
	Loki LokiConfig `yaml:"loki"`
	// Syslog configures the syslog listener; it runs only when an address
	// is set.
	Syslog SyslogConfig `yaml:"syslog"`
	// Logs configures the log-mining stage.
	Logs LogsConfig `yaml:"logs"`
	// OTLP configures the OpenTelemetry (OTLP) receiver.
	OTLP OTLPConfig `yaml:"otlp"`
	// Scrape configures Prometheus scraping of static targets.
	Scrape ScrapeConfig `yaml:"scrape"`
	// Files lists log files (globs) to tail; Tail says how.
	Files []FileConfig `yaml:"files"`
	Tail  TailConfig   `yaml:"tail"`
	// Remediation configures the remediate stage: the programs runbooks may
	// run, its guardrails and the runbooks themselves (docs/remediation.md).
	Remediation remediate.Config `yaml:"remediation"`
	// Notifications configures the notify stage: receivers (Slack,
	// PagerDuty, e-mail, webhook, Alertmanager) and routes
	// (docs/notifications.md).
	Notifications notify.Config `yaml:"notifications"`
	// RCA configures root-cause ranking: the comparison of coarse series
	// with their normal period (docs/rca.md).
	RCA RCAConfig `yaml:"rca"`
	// Topology declares calls and host placements the traces do not
	// show (docs/rca.md).
	Topology TopologyConfig `yaml:"topology"`
}

// ServerConfig configures the HTTP server and its request limits.
type ServerConfig struct {
	// Listen is the host:port of the HTTP API.
	Listen string `yaml:"listen"`
	// MaxBodyBytes caps a request body; larger requests get 413.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// MaxEventsPerRequest caps the events in one POST /api/v1/events.
	MaxEventsPerRequest int `yaml:"max_events_per_request"`
	// MaxLabelsPerEvent caps the labels (and, separately, annotations) of one
	// event.
	MaxLabelsPerEvent int `yaml:"max_labels_per_event"`
	// MaxLabelValueBytes caps the length of one label or annotation value.
	MaxLabelValueBytes int           `yaml:"max_label_value_bytes"`
	ReadTimeout        time.Duration `yaml:"read_timeout"`
	WriteTimeout       time.Duration `yaml:"write_timeout"`
	// ShutdownTimeout bounds the graceful shutdown of the whole process.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
}

// AuthConfig lists the bearer tokens allowed to use the API. With no tokens,
// Osprey serves on loopback only.
type AuthConfig struct {
	Tokens []TokenConfig `yaml:"tokens"`
}

// Roles, from least to most privileged.
const (
	RoleViewer   = "viewer"
	RoleOperator = "operator"
	RoleAdmin    = "admin"
)

// TokenConfig is one bearer token. Exactly one of TokenFile and SHA256 is set:
// the token itself never appears in the configuration file.
type TokenConfig struct {
	// Name identifies the token's holder in the audit log.
	Name string `yaml:"name"`
	// Role is viewer (read), operator (read, write, act) or admin (all).
	Role string `yaml:"role"`
	// TokenFile is a file whose content (trimmed) is the token.
	TokenFile string `yaml:"token_file"`
	// SHA256 is the hex SHA-256 of the token.
	SHA256 string `yaml:"sha256"`
}

// Storage drivers.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// StorageConfig selects and configures the store backend.
type StorageConfig struct {
	// Driver is sqlite (embedded, the default) or postgres.
	Driver   string         `yaml:"driver"`
	SQLite   SQLiteConfig   `yaml:"sqlite"`
	Postgres PostgresConfig `yaml:"postgres"`
	// Retention says how long the store keeps history.
	Retention RetentionConfig `yaml:"retention"`
}

// RetentionConfig says how long the store keeps each kind of history; a
// pruner deletes what is older every Interval. A zero duration keeps that
// kind forever. Open incidents, open anomalies and events a stage has not
// consumed yet are never deleted, whatever their age.
type RetentionConfig struct {
	// Interval between prunes. Default 1h.
	Interval time.Duration `yaml:"interval"`
	// Events received longer ago than this are deleted (incidents keep
	// copies of their members). Default 720h (30 days).
	Events time.Duration `yaml:"events"`
	// Anomalies that ended longer ago than this are deleted, with their
	// feedback. Default 720h.
	Anomalies time.Duration `yaml:"anomalies"`
	// Incidents resolved longer ago than this are deleted with their
	// timeline, notification log and runbook runs. Default 2160h (90 days).
	Incidents time.Duration `yaml:"incidents"`
	// Noise counters (GET /api/v1/stats/noise) older than this are
	// deleted. Default 2160h.
	Noise time.Duration `yaml:"noise"`
	// Audit entries older than this are deleted. Default 8760h (365 days).
	Audit time.Duration `yaml:"audit"`
	// Silences and one-off maintenance windows that ended longer ago than
	// this are deleted. Default 720h.
	Silences time.Duration `yaml:"silences"`
}

// SQLiteConfig configures the embedded store.
type SQLiteConfig struct {
	// Path of the database file; relative paths are under DataDir. Default
	// "osprey.db".
	Path string `yaml:"path"`
}

// PostgresConfig configures the PostgreSQL store. Exactly one of DSN and
// DSNFile is set when the driver is postgres.
type PostgresConfig struct {
	DSN     string `yaml:"dsn"`
	DSNFile string `yaml:"dsn_file"`
	// Schema holds Osprey's tables; created if missing. Default "osprey".
	Schema string `yaml:"schema"`
	// MaxConns caps the connection pool.
	MaxConns int `yaml:"max_conns"`
}

// BusConfig configures the in-process message bus.
type BusConfig struct {
	// QueueSize is the number of batches each subscriber may have queued.
	QueueSize int `yaml:"queue_size"`
	// PublishTimeout is how long a publisher waits for queue space before
	// the batch is dropped for that subscriber and counted.
	PublishTimeout time.Duration `yaml:"publish_timeout"`
	// CoalesceEvents is the most events the correlator takes in one call
	// when batches of events queue up for it: it then handles them
	// together, paying its per-call costs (the store's transaction,
	// ranking the changed incidents) once. 1 delivers batch by batch.
	CoalesceEvents int `yaml:"coalesce_events"`
}

// DefaultSimilarity is correlate.similarity's default (docs/rca.md,
// "Text similarity").
const DefaultSimilarity = 0.8

// CorrelateConfig configures the built-in correlation stage.
type CorrelateConfig struct {
	// Window is how close in time an event must be to an open incident's
	// last activity to join it. After an incident's first Window, a new
	// alert of a group joins it only while a member of that group there
	// still fires.
	Window time.Duration `yaml:"window"`
	// GroupBy lists the labels whose shared value groups events into one
	// incident; the first label an event has is used.
	GroupBy []string `yaml:"group_by"`
	// ResolveGrace is how long every member of an incident must stay clear
	// before the incident resolves; a member firing again within it keeps
	// the incident open. Zero resolves as soon as the last member clears.
	ResolveGrace time.Duration `yaml:"resolve_grace"`
	// Burst lets an alert that neither its group nor the call graph places
	// join an unresolved incident opened at most this long before it
	// (one burst of onsets), unless the call graph knows both and they are
	// more than two calls apart. Zero, the default, disables it: on a
	// fleet where unrelated alerts start every minute it glues them
	// together (docs/noise.md).
	Burst time.Duration `yaml:"burst"`
	// Similarity lets a log anomaly that neither its group, the call
	// graph nor placement places join an incident holding a log anomaly
	// whose template text is at least this similar (Jaccard over words).
	// Zero disables it.
	Similarity float64 `yaml:"similarity"`
	// Inhibit lists inhibition rules: a firing signal that matches a
	// rule's target is suppressed while one that matches its source fires
	// with the same values of its equal labels.
	Inhibit []InhibitRuleConfig `yaml:"inhibit"`
	// Rules are user-defined grouping rules in CEL, first match wins
	// (correlate_rules.go).
	Rules []CorrelateRuleConfig `yaml:"rules"`
	// Flapping configures flapping detection of incident members.
	Flapping FlappingConfig `yaml:"flapping"`
	// Maintenance lists maintenance windows (more can be added through
	// the API).
	Maintenance []MaintenanceConfig `yaml:"maintenance"`
}

// InhibitRuleConfig is one inhibition rule. Matchers are written as in
// Alertmanager and amtool: name=value, name!=value, name=~regex,
// name!~regex (regular expressions anchored at both ends).
type InhibitRuleConfig struct {
	// Source matchers select the signals that inhibit.
	Source []string `yaml:"source"`
	// Target matchers select the signals that are inhibited.
	Target []string `yaml:"target"`
	// Equal lists labels whose values source and target must share.
	Equal []string `yaml:"equal"`
}

// TSDBConfig configures the embedded Prometheus TSDB.
type TSDBConfig struct {
	// Path is the TSDB directory; relative paths are under DataDir.
	// Default "tsdb".
	Path string `yaml:"path"`
	// Retention is how long samples are kept.
	Retention time.Duration `yaml:"retention"`
	// MaxSeries caps the active series (those written to in the last
	// hours, in the TSDB's head block); samples of further new series are
	// rejected and counted as cardinality_cap.
	MaxSeries int `yaml:"max_series"`
	// MaxSeriesPerMetric caps the active series of one metric name;
	// samples of further new series of that name are rejected and
	// counted as series_per_metric, so that one exploding metric cannot
	// take the whole of MaxSeries.
	MaxSeriesPerMetric int `yaml:"max_series_per_metric"`
}

// RemoteWriteConfig limits what the Prometheus remote_write receiver
// accepts. The compressed body is limited by server.max_body_bytes.
type RemoteWriteConfig struct {
	// MaxDecodedBytes caps the size of a request body once decompressed.
	MaxDecodedBytes int64 `yaml:"max_decoded_bytes"`
	// MaxLabelsPerSeries caps the labels of one series, __name__ included.
	MaxLabelsPerSeries int `yaml:"max_labels_per_series"`
	// MaxLabelBytes caps the length of one label name or value.
	MaxLabelBytes int `yaml:"max_label_bytes"`
	// MaxFuture is how far ahead of Osprey's clock a sample may be.
	MaxFuture time.Duration `yaml:"max_future"`
	// MaxCachedSeries bounds the receiver's cache of series seen before
	// (about 1 KiB each with ten labels; see docs/configuration.md).
	MaxCachedSeries int `yaml:"max_cached_series"`
}

// DetectConfig configures the metric anomaly detect stage.
type DetectConfig struct {
	// Enabled runs the streaming detector on every series received.
	Enabled bool `yaml:"enabled"`
	// MaxSeries bounds the series the detector keeps a model for (about
	// 2 KiB each); samples of further series are not scored.
	MaxSeries int `yaml:"max_series"`
	// SnapshotInterval is how often the detector's models are written to
	// <data_dir>/detect/metric.snap (and once more on shutdown), so that a
	// restart keeps what was learnt.
	SnapshotInterval time.Duration `yaml:"snapshot_interval"`
	// Traces configures the trace detect stage, which runs whether or not
	// the metric detector is enabled.
	Traces TraceDetectConfig `yaml:"traces"`
}

// QueryConfig limits the Prometheus-compatible query API.
type QueryConfig struct {
	// Timeout bounds one query's evaluation.
	Timeout time.Duration `yaml:"timeout"`
	// MaxSamples caps the samples one query may hold in memory at once.
	MaxSamples int `yaml:"max_samples"`
	// LookbackDelta is how far back an instant selector looks for a
	// sample, as Prometheus' --query.lookback-delta.
	LookbackDelta time.Duration `yaml:"lookback_delta"`
	// MaxConcurrent caps the queries evaluated at once; more wait.
	MaxConcurrent int `yaml:"max_concurrent"`
}

// LokiConfig limits what the Loki push receiver, POST /loki/api/v1/push,
// accepts. The body as sent is limited by server.max_body_bytes.
type LokiConfig struct {
	// MaxLineBytes rejects longer log lines (Loki's max_line_size).
	MaxLineBytes int `yaml:"max_line_bytes"`
	// MaxDecodedBytes caps the size of a request body once decompressed.
	MaxDecodedBytes int64 `yaml:"max_decoded_bytes"`
}

// OTLPConfig configures the OTLP receiver. OTLP/HTTP (POST /v1/metrics,
// /v1/logs, /v1/traces) is always served on server.listen; OTLP/gRPC runs
// on a port of its own when GRPCListen is set.
type OTLPConfig struct {
	// GRPCListen is the host:port of the OTLP/gRPC server; empty: none.
	GRPCListen string `yaml:"grpc_listen"`
	// MaxDecodedBytes caps a request body once gunzipped, and a gRPC
	// message.
	MaxDecodedBytes int64 `yaml:"max_decoded_bytes"`
	// RecentSpans bounds the window of recent spans kept per service,
	// which GET /api/v1/spans reads (internal/evidence).
	RecentSpans RecentSpansConfig `yaml:"recent_spans"`
}

// SyslogConfig configures the syslog listener (RFC 5424 and RFC 3164 over
// UDP and TCP). With no address, no listener runs.
type SyslogConfig struct {
	// UDP lists the host:port addresses to receive datagrams on.
	UDP []string `yaml:"udp"`
	// TCP lists the host:port addresses to accept connections on.
	TCP []string `yaml:"tcp"`
	// MaxMessageBytes bounds one message; longer ones are dropped.
	MaxMessageBytes int `yaml:"max_message_bytes"`
	// MaxConnections bounds the TCP connections open at once.
	MaxConnections int `yaml:"max_connections"`
	// IdleTimeout closes a TCP connection on which nothing arrives for
	// this long.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// BatchSize and FlushInterval: messages are handed on in batches of
	// BatchSize, or whatever has arrived every FlushInterval.
	BatchSize     int           `yaml:"batch_size"`
	FlushInterval time.Duration `yaml:"flush_interval"`
	// RFC3164Timezone is the IANA zone (or "Local", or "UTC") of RFC 3164
	// timestamps, which carry none.
	RFC3164Timezone string `yaml:"rfc3164_timezone"`
}

// Enabled reports whether any listen address is set.
func (c SyslogConfig) Enabled() bool { return len(c.UDP)+len(c.TCP) > 0 }

// LogsConfig configures the log-mining stage, which groups the lines of
// every source into templates and keeps them in the store.
type LogsConfig struct {
	// Enabled mines templates from every log line received.
	Enabled bool `yaml:"enabled"`
	// MaxTemplatesPerSource caps the templates of one source (aliases
	// included); lines that would start a further template get none.
	MaxTemplatesPerSource int `yaml:"max_templates_per_source"`
	// SaveInterval is how often the templates' counts and last-seen
	// times are written to the store; new and merged templates are
	// written at once.
	SaveInterval time.Duration `yaml:"save_interval"`
	// Anomalies reports log anomalies: new templates, template rate
	// surges and drops, error-level bursts.
	Anomalies bool `yaml:"anomalies"`
	// Bucket is the width, in record time, of the buckets lines are
	// counted in per template; the counts are the series
	// osprey_log_template_count that rate anomalies are found in.
	Bucket time.Duration `yaml:"bucket"`
	// NewTemplateWarmup and NewTemplateWarmupLines: a source reports no
	// new template until this much record time has passed since its first
	// line and it has sent this many lines.
	NewTemplateWarmup      time.Duration `yaml:"new_template_warmup"`
	NewTemplateWarmupLines int64         `yaml:"new_template_warmup_lines"`
	// MaxTemplateSeries caps the count series (per template, and error
	// lines per source and service) that get an anomaly model.
	MaxTemplateSeries int `yaml:"max_template_series"`
	// Recent bounds the window of recent lines kept per stream, which
	// GET /api/v1/logs reads (internal/evidence).
	Recent RecentLogsConfig `yaml:"recent"`
}

// LogConfig configures Osprey's own logging.
type LogConfig struct {
	// Level is debug, info, warn or error.
	Level string `yaml:"level"`
	// Format is text or json.
	Format string `yaml:"format"`
}

// Default returns the configuration used when no file is given: everything
// embedded, listening on loopback.
func Default() Config {
	return Config{
		DataDir: "osprey-data",
		Server: ServerConfig{
			Listen:              "127.0.0.1:9464",
			MaxBodyBytes:        4 << 20,
			MaxEventsPerRequest: 10000,
			MaxLabelsPerEvent:   64,
			MaxLabelValueBytes:  4096,
			ReadTimeout:         30 * time.Second,
			WriteTimeout:        30 * time.Second,
			ShutdownTimeout:     30 * time.Second,
		},
		Storage: StorageConfig{
			Driver:   DriverSQLite,
			SQLite:   SQLiteConfig{Path: "osprey.db"},
			Postgres: PostgresConfig{Schema: "osprey", MaxConns: 10},
			Retention: RetentionConfig{
				Interval: time.Hour, Events: 30 * 24 * time.Hour, Anomalies: 30 * 24 * time.Hour,
				Incidents: 90 * 24 * time.Hour, Noise: 90 * 24 * time.Hour, Audit: 365 * 24 * time.Hour,
				Silences: 30 * 24 * time.Hour,
			},
		},
		Bus:       BusConfig{QueueSize: 1024, PublishTimeout: 5 * time.Second, CoalesceEvents: 5000},
		Correlate: CorrelateConfig{Window: 5 * time.Minute, GroupBy: []string{"service", "host"}, ResolveGrace: 5 * time.Minute, Similarity: DefaultSimilarity, Flapping: defaultFlapping},
		Log:       LogConfig{Level: "info", Format: "text"},
		TSDB:      TSDBConfig{Path: "tsdb", Retention: 15 * 24 * time.Hour, MaxSeries: 1_000_000, MaxSeriesPerMetric: 50_000},
		RemoteWrite: RemoteWriteConfig{
			MaxDecodedBytes:    32 << 20,
			MaxLabelsPerSeries: 64,
			MaxLabelBytes:      4096,
			MaxFuture:          10 * time.Minute,
			MaxCachedSeries:    1_000_000,
		},
		Detect: DetectConfig{Enabled: true, MaxSeries: 100_000, SnapshotInterval: 5 * time.Minute, Traces: DefaultTraceDetect()},
		Query:  QueryConfig{Timeout: 20 * time.Second, MaxSamples: 50_000_000, LookbackDelta: 5 * time.Minute, MaxConcurrent: 20},
		Loki:   LokiConfig{MaxLineBytes: 256 << 10, MaxDecodedBytes: 64 << 20},
		Syslog: SyslogConfig{
			MaxMessageBytes: 64 << 10,
			MaxConnections:  256,
			IdleTimeout:     5 * time.Minute,
			BatchSize:       512,
			FlushInterval:   200 * time.Millisecond,
			RFC3164Timezone: "Local",
		},
		Logs: LogsConfig{Enabled: true, MaxTemplatesPerSource: 10_000, SaveInterval: 10 * time.Second,
			Anomalies: true, Bucket: time.Minute, NewTemplateWarmup: time.Hour, NewTemplateWarmupLines: 10_000,
			MaxTemplateSeries: 100_000, Recent: DefaultRecentLogs()},
		OTLP:        OTLPConfig{MaxDecodedBytes: 32 << 20, RecentSpans: DefaultRecentSpans()},
		Remediation: remediate.DefaultConfig(),
		Scrape:      DefaultScrape(),
		Tail:        DefaultTail(),
		Forecast:    DefaultForecast(),
		RCA:         DefaultRCA(),

		Notifications: notify.DefaultConfig(),
	}
}

// TSDBPath returns the TSDB directory, resolved against DataDir.
func (c *Config) TSDBPath() string {
	if filepath.IsAbs(c.TSDB.Path) {
		return c.TSDB.Path
	}
	return filepath.Join(c.DataDir, c.TSDB.Path)
}

// DetectSnapshotPath returns the file the metric detector's models are
// snapshotted to: detect/metric.snap in DataDir.
func (c *Config) DetectSnapshotPath() string {
	return filepath.Join(c.DataDir, "detect", "metric.snap")
}

// SQLitePath returns the database file path, resolved against DataDir.
func (c *Config) SQLitePath() string {
	if filepath.IsAbs(c.Storage.SQLite.Path) {
		return c.Storage.SQLite.Path
	}
	return filepath.Join(c.DataDir, c.Storage.SQLite.Path)
}
