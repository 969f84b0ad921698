package cli

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/osprey-aiops/osprey/internal/agent"
	"github.com/osprey-aiops/osprey/internal/config"
)

func newAgentCmd(stderr io.Writer) *cobra.Command {
	var (
		server, token, tokenFile, dataDir, configPath, instance, logLevel string
		files                                                             []string
		interval                                                          time.Duration
		spoolMax                                                          int64
	)
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Collect this host's metrics and log files and ship them to an Osprey server",
		Long: `Run on a server to collect its metrics and logs for Osprey: CPU, memory,
load, disks, file systems, network and process count every --interval, named as
node_exporter names them (node_cpu_seconds_total, node_load1, ...) with the
instance label set to the host name; and the lines of the log files given with
--file (globs, repeatable) or in the files: section of --config.

Metrics go to the server's remote_write receiver, lines to its Loki push
receiver, labelled with instance, host and job="osprey-agent" (unless a files:
entry's labels set host or job) so that the server can tell them apart from
other Loki pushers' lines (GET /api/v1/logs?match[]={job="osprey-agent"}).
Everything is first written to a spool under --data-dir, so that
nothing is lost while the server is down or the agent restarts; beyond
--spool-max-bytes the oldest requests are dropped (and counted in
osprey_agent_spool_dropped_requests_total). Failed sends are retried with
exponential backoff. The token needs the operator role.`,
		Example: `  osprey agent --server http://osprey:9464 --token-file /etc/osprey/agent.token \
    --file '/var/log/nginx/*.log' --file /var/log/syslog`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if token != "" && tokenFile != "" {
				return usageError{errors.New("give --token or --token-file, not both")}
			}
			if interval <= 0 {
				return usageError{fmt.Errorf("--interval %v: must be positive", interval)}
			}
			tail := config.DefaultTail()
			var fcs []config.FileConfig
			if configPath != "" {
				cfg, err := config.Load(configPath)
				if err != nil {
					return fmt.Errorf("load config %s:\n%w", configPath, err)
				}
				if err := cfg.Validate(); err != nil {
					return fmt.Errorf("invalid configuration:\n%w", err)
				}
				fcs, tail = cfg.Files, cfg.Tail
			}
			for _, f := range files {
				fcs = append(fcs, config.FileConfig{Path: f})
			}
			if err := config.ValidateFiles(fcs); err != nil {
				return usageError{fmt.Errorf("--file: %w", err)}
			}
			if !cmd.Flags().Changed("server") {
				if env := os.Getenv(envServerURL); env != "" {
					server = env
				}
			}
			tok, err := (&clientFlags{token: token, tokenFile: tokenFile, getenv: os.Getenv}).resolveToken()
			if err != nil {
				return err
			}
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return usageError{fmt.Errorf("--log-level %q: want debug, info, warn or error", logLevel)}
			}
			a, err := agent.New(agent.Options{
				Server:        server,
				Token:         tok,
				Interval:      interval,
				DataDir:       dataDir,
				Instance:      instance,
				Files:         fcs,
				Tail:          tail,
				SpoolMaxBytes: spoolMax,
				Logger:        slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})),
			})
			if err != nil {
				return usageError{err}
			}
			return a.Run(cmd.Context())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&server, "server", defaultServerURL, "Osprey's URL (env "+envServerURL+")")
	fl.StringVar(&token, "token", "", "bearer token, operator role (env "+envToken+"; prefer --token-file or the env, a flag shows in ps)")
	fl.StringVar(&tokenFile, "token-file", "", "file holding the bearer token")
	fl.DurationVar(&interval, "interval", agent.DefaultInterval, "how often host metrics are collected")
	fl.StringVar(&dataDir, "data-dir", "osprey-agent-data", "directory of the spool and the file offsets")
	fl.StringArrayVar(&files, "file", nil, "log file or glob to tail (repeatable)")
	fl.StringVar(&configPath, "config", "", "Osprey YAML configuration whose files: and tail: sections say what to tail")
	fl.StringVar(&instance, "instance", "", "instance label (default: the host name)")
	fl.Int64Var(&spoolMax, "spool-max-bytes", agent.DefaultSpoolMaxBytes, "size cap of the spool; the oldest requests are dropped beyond it")
	fl.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	return cmd
}
