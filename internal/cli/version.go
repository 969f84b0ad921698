package cli

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/osprey-aiops/osprey/internal/buildinfo"
)

func newVersionCmd(stdout io.Writer) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version of this binary",
		Args:  exactArgs(0),
		RunE: func(*cobra.Command, []string) error {
			info := buildinfo.Get()
			if asJSON {
				return json.NewEncoder(stdout).Encode(info)
			}
			_, err := fmt.Fprintln(stdout, info.String())
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return cmd
}
