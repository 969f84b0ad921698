package cli

import (
	"io"

	"github.com/spf13/cobra"
)

// newBenchCmd groups the quality benchmark harnesses. Each runs the production
// code over a public corpus with ground truth and prints its scores.
func newBenchCmd(stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Run a quality benchmark harness over a public corpus",
		Args:  exactArgs(0),
	}
	cmd.AddCommand(newBenchNABCmd(stdout, stderr), newBenchLoghubCmd(stdout, stderr), newBenchRCACmd(stdout, stderr)) // one line per harness: cmd.AddCommand(newBenchXCmd(stdout, stderr))
	_, _ = stdout, stderr
	return cmd
}
