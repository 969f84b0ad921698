package config

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestPostgresDSN(t *testing.T) {
	tests := []struct {
		name    string
		pg      PostgresConfig
		want    string
		wantErr string
	}{
		{name: "inline", pg: PostgresConfig{DSN: "postgres://db/osprey"}, want: "postgres://db/osprey"},
		{name: "file is trimmed", pg: PostgresConfig{DSNFile: writeFile(t, "\n  postgres://u:p@db/osprey \n")}, want: "postgres://u:p@db/osprey"},
		{name: "empty file", pg: PostgresConfig{DSNFile: writeFile(t, " \n")}, wantErr: "is empty"},
		{name: "missing file", pg: PostgresConfig{DSNFile: filepath.Join(t.TempDir(), "nope")}, wantErr: "read storage.postgres.dsn_file: open"},
		{name: "neither", pg: PostgresConfig{}, wantErr: "neither dsn nor dsn_file is set"},
		{name: "both", pg: PostgresConfig{DSN: "x", DSNFile: "y"}, wantErr: "both dsn and dsn_file are set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Default()
			cfg.Storage.Postgres = tt.pg
			got, err := cfg.PostgresDSN()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("PostgresDSN() error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("PostgresDSN() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestTokenHash(t *testing.T) {
	want := sha256.Sum256([]byte("foo"))
	tests := []struct {
		name    string
		token   TokenConfig
		wantErr string
	}{
		{name: "file", token: TokenConfig{TokenFile: writeFile(t, "foo")}},
		{name: "file with newline", token: TokenConfig{TokenFile: writeFile(t, " foo\r\n")}},
		{name: "hash", token: TokenConfig{SHA256: testHash}},
		{name: "upper-case hash", token: TokenConfig{SHA256: " " + strings.ToUpper(testHash) + "\n"}},
		{name: "empty file", token: TokenConfig{Name: "ci", TokenFile: writeFile(t, "\n")}, wantErr: `token "ci": token_file`},
		{name: "missing file", token: TokenConfig{Name: "ci", TokenFile: filepath.Join(t.TempDir(), "x")}, wantErr: `token "ci": read token_file: open`},
		{name: "bad hex", token: TokenConfig{SHA256: "xyz"}, wantErr: "decode sha256"},
		{name: "short hash", token: TokenConfig{SHA256: "abcd"}, wantErr: "got 2 bytes, want 32"},
		{name: "neither", token: TokenConfig{}, wantErr: "neither token_file nor sha256"},
		{name: "both", token: TokenConfig{TokenFile: "x", SHA256: testHash}, wantErr: "both token_file and sha256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.token.Hash()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Hash() error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != want {
				t.Errorf("Hash() = %x, %v; want %x", got, err, want)
			}
		})
	}
	_, err := TokenConfig{TokenFile: filepath.Join(t.TempDir(), "x")}.Hash()
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Hash() of a missing file = %v, want fs.ErrNotExist", err)
	}
}

func TestLogHandler(t *testing.T) {
	tests := []struct {
		name       string
		c          LogConfig
		wantLevel  slog.Level
		wantPrefix string
	}{
		{"debug text", LogConfig{Level: "debug", Format: "text"}, slog.LevelDebug, "time="},
		{"info json", LogConfig{Level: "info", Format: "json"}, slog.LevelInfo, `{"time":`},
		{"warn", LogConfig{Level: "warn", Format: "text"}, slog.LevelWarn, "time="},
		{"error", LogConfig{Level: "error", Format: "json"}, slog.LevelError, `{"time":`},
		{"invalid falls back to info text", LogConfig{Level: "loud", Format: "xml"}, slog.LevelInfo, "time="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(tt.c.Handler(&buf))
			if !log.Enabled(t.Context(), tt.wantLevel) || log.Enabled(t.Context(), tt.wantLevel-1) {
				t.Errorf("handler level is not %v", tt.wantLevel)
			}
			log.Error("hello", "k", "v")
			if !strings.HasPrefix(buf.String(), tt.wantPrefix) {
				t.Errorf("output %q does not start with %q", buf.String(), tt.wantPrefix)
			}
		})
	}
}

func TestSQLitePath(t *testing.T) {
	tests := []struct{ name, dataDir, path, want string }{
		{"relative", "/var/lib/osprey", "osprey.db", "/var/lib/osprey/osprey.db"},
		{"relative subdirectory", "data", "db/osprey.db", "data/db/osprey.db"},
		{"absolute", "/var/lib/osprey", "/srv/osprey.db", "/srv/osprey.db"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Default()
			cfg.DataDir, cfg.Storage.SQLite.Path = tt.dataDir, tt.path
			if got := cfg.SQLitePath(); got != tt.want {
				t.Errorf("SQLitePath() = %q, want %q", got, tt.want)
			}
		})
	}
}
