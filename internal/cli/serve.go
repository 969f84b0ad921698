package cli

import (
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/osprey-aiops/osprey/internal/app"
	"github.com/osprey-aiops/osprey/internal/config"
)

func newServeCmd(stderr io.Writer) *cobra.Command {
	var configPath, dataDir, listen string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Osprey engine (API, pipeline and embedded storage)",
		Long: `Run the Osprey engine in this process: the HTTP API, every pipeline stage,
and the store (embedded SQLite under the data directory unless the config
selects PostgreSQL).

With no --config, built-in defaults apply: data in ./osprey-data, the API on
127.0.0.1:9464. Without auth tokens configured, Osprey only listens on
loopback. SIGINT or SIGTERM shut it down gracefully: requests in flight
finish and everything acknowledged is stored. SIGHUP re-reads the
remediation section of --config (runbooks; see docs/remediation.md).`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(configPath)
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("data-dir") {
				cfg.DataDir = dataDir
			}
			if cmd.Flags().Changed("listen") {
				cfg.Server.Listen = listen
			}
			if err := cfg.Validate(); err != nil {
				return fmt.Errorf("invalid configuration:\n%w", err)
			}
			log := newLogger(stderr, cfg.Log)
			reload, stopReload := reloadSignal()
			defer stopReload()
			return app.Run(cmd.Context(), cfg, app.Options{Logger: log, ConfigPath: configPath, ReloadRemediation: reload})
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "YAML configuration file (default: built-in defaults)")
	cmd.Flags().StringVar(&dataDir, "data-dir", "", "data directory, overrides data_dir (default \"osprey-data\")")
	cmd.Flags().StringVar(&listen, "listen", "", "HTTP listen address, overrides server.listen (default \"127.0.0.1:9464\")")
	return cmd
}

// loadConfig reads path, or returns the defaults when path is empty.
func loadConfig(path string) (config.Config, error) {
	if path == "" {
		return config.Default(), nil
	}
	cfg, err := config.Load(path)
	if err != nil {
		return config.Config{}, fmt.Errorf("load config %s:\n%w", path, err)
	}
	return cfg, nil
}

func newLogger(w io.Writer, lc config.LogConfig) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(strings.ToUpper(lc.Level))) // validated by config
	opts := &slog.HandlerOptions{Level: level}
	if lc.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
