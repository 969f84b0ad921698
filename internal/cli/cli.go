// Package cli defines Osprey's command line: the cobra command tree and the
// mapping of its outcome to an exit code. The process entry point
// (cmd/osprey) only sets up signals and calls Main.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// Exit codes.
const (
	ExitOK    = 0
	ExitError = 1
	ExitUsage = 2
)

// usageError marks errors in how the command was called.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

// Main runs the command line with args and returns the process exit code. ctx
// is cancelled on SIGINT/SIGTERM.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	fmt.Fprintf(stderr, "osprey: %v\n", err)
	var ue usageError
	if errors.As(err, &ue) {
		return ExitUsage
	}
	return ExitError
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "osprey",
		Short: "Osprey is an AIOps engine: collect, detect, correlate, remediate",
		Long: `Osprey watches an infrastructure and turns its signals into explained incidents.

It takes in metrics, logs, traces and alerts (collect), finds anomalies in them
(detect), groups alerts and anomalies into incidents with a ranked root cause
(correlate), and runs runbooks behind guardrails to fix them (remediate).

Run "osprey serve" to start it with embedded storage and no configuration.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		newServeCmd(stderr),
		newDemoCmd(stdout, stderr),
		newCheckConfigCmd(stdout),
		newVersionCmd(stdout),
		newBenchCmd(stdout, stderr),
		newLoadgenCmd(stdout, stderr),
		newAgentCmd(stderr),
		newIncidentsCmd(stdout),
		newSilenceCmd(stdout),
		newMaintenanceCmd(stdout),
		newStatsCmd(stdout),
		newRunbookCmd(stdout),
		newAnomaliesCmd(stdout),
		newTopologyCmd(stdout),
		newReplayCmd(stdout, stderr),
		newLogsCmd(stdout, stderr),
	)
	return root
}

// exactArgs is cobra.ExactArgs returning a usage error.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}
