package cli

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/osprey-aiops/osprey/internal/config"
	"github.com/osprey-aiops/osprey/internal/demo"
)

func newDemoCmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		dataDir, listen, logLevel string
		interval, first           time.Duration
		seed                      int64
		speed                     float64
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run Osprey against a built-in simulated shop with faults injected every few minutes",
		Long: `Run the Osprey engine (exactly what "osprey serve" runs) together with a
simulated web shop: six services that call each other and send Osprey their
metrics (Prometheus remote_write), logs (Loki push) and traces (OTLP) over
loopback. Half an hour of healthy history is backfilled first, so detection
works at once; then a fault is injected every --fault-interval (a disk
filling up, a crash loop, latency, errors, CPU saturation). Two runbooks act
on the shop: one restarts a crash-looping service (auto) and verifies, one
plans a log clean-up on a filling disk (dry-run).

Without --data-dir the data goes to a fresh temporary directory that is
removed on exit. SIGINT or SIGTERM stop the demo and the engine cleanly.
See docs/demo.md.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if interval < 10*time.Second {
				return usageError{fmt.Errorf("--fault-interval %s: must be at least 10s", interval)}
			}
			dir := dataDir
			if dir == "" {
				tmp, err := os.MkdirTemp("", "osprey-demo-")
				if err != nil {
					return fmt.Errorf("create temporary data directory: %w", err)
				}
				defer os.RemoveAll(tmp)
				dir = tmp
				fmt.Fprintf(stdout, "data in %s (temporary: removed on exit; use --data-dir to keep it)\n", dir)
			}
			log := newLogger(stderr, config.LogConfig{Level: logLevel, Format: "text"})
			return demo.Run(cmd.Context(), demo.Options{
				Listen:        listen,
				DataDir:       dir,
				Seed:          seed,
				FaultInterval: interval,
				FirstFault:    first,
				Speed:         speed,
				Out:           stdout,
				Logger:        log,
			})
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", "", "data directory (default: a temporary directory removed on exit)")
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:9464", "HTTP listen address")
	cmd.Flags().DurationVar(&interval, "fault-interval", 3*time.Minute, "time between injected faults")
	cmd.Flags().Int64Var(&seed, "seed", 1, "seed of the simulation's noise")
	cmd.Flags().StringVar(&logLevel, "log-level", "warn", "the engine's log level: debug, info, warn or error")
	// For development and tests: the time of the first fault, and a clock
	// (the engine's and the shop's) running faster than real time.
	cmd.Flags().DurationVar(&first, "first-fault", 30*time.Second, "time from going live to the first fault")
	cmd.Flags().Float64Var(&speed, "speed", 1, "run the shop and the engine's clock this many times faster than real time")
	_ = cmd.Flags().MarkHidden("first-fault")
	_ = cmd.Flags().MarkHidden("speed")
	return cmd
}
