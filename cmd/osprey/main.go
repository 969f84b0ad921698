// Command osprey is the Osprey AIOps engine: it collects metrics, logs, traces
// and alerts, detects anomalies, correlates them into incidents, and runs
// remediation. See `osprey --help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/osprey-aiops/osprey/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
