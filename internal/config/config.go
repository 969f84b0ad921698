// Package config defines Osprey's configuration file: one YAML document decoded
// strictly (unknown keys are errors) over defaults, with every section
// validated and all problems reported at once with their key paths.
package config

import (
	"path/filepath"
	"time"
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
}

// CorrelateConfig configures the built-in correlation stage.
type CorrelateConfig struct {
	// Window is how close in time an event must be to an open incident's
	// last activity to join it.
	Window time.Duration `yaml:"window"`
	// GroupBy lists the labels whose shared value groups events into one
	// incident; the first label an event has is used.
	GroupBy []string `yaml:"group_by"`
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
		},
		Bus:       BusConfig{QueueSize: 1024, PublishTimeout: 5 * time.Second},
		Correlate: CorrelateConfig{Window: 5 * time.Minute, GroupBy: []string{"service"}},
		Log:       LogConfig{Level: "info", Format: "text"},
	}
}

// SQLitePath returns the database file path, resolved against DataDir.
func (c *Config) SQLitePath() string {
	if filepath.IsAbs(c.Storage.SQLite.Path) {
		return c.Storage.SQLite.Path
	}
	return filepath.Join(c.DataDir, c.Storage.SQLite.Path)
}
