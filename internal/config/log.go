package config

import (
	"io"
	"log/slog"
)

// SlogLevel returns the configured level; an unknown level (which Validate
// rejects) is info.
func (c LogConfig) SlogLevel() slog.Level {
	switch c.Level {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

// Handler returns a slog handler that writes records at or above the
// configured level to w, as JSON lines when the format is json and as
// logfmt-style text otherwise.
func (c LogConfig) Handler(w io.Writer) slog.Handler {
	opts := &slog.HandlerOptions{Level: c.SlogLevel()}
	if c.Format == "json" {
		return slog.NewJSONHandler(w, opts)
	}
	return slog.NewTextHandler(w, opts)
}
