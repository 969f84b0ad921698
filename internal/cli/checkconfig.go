package cli

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/osprey-aiops/osprey/internal/config"
)

func newCheckConfigCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "check-config FILE",
		Short: "Validate a configuration file offline and list every problem",
		Long: `Validate a configuration file without starting anything: unknown keys,
wrong types and invalid values are all reported at once with their key paths,
and the token and DSN files the config names are read to check they exist.
Exits 0 when the file is valid, 1 otherwise.`,
		Args: exactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			cfg, err := config.Load(args[0])
			if err != nil {
				return fmt.Errorf("%s is not valid:\n%w", args[0], err)
			}
			var errs []error
			for i, t := range cfg.Auth.Tokens {
				if _, err := t.Hash(); err != nil {
					errs = append(errs, fmt.Errorf("auth.tokens[%d]: %w", i, err))
				}
			}
			if cfg.Storage.Driver == config.DriverPostgres {
				if _, err := cfg.PostgresDSN(); err != nil {
					errs = append(errs, fmt.Errorf("storage.postgres: %w", err))
				}
			}
			if len(errs) > 0 {
				return fmt.Errorf("%s is valid, but:\n%w", args[0], errors.Join(errs...))
			}
			fmt.Fprintf(stdout, "%s: configuration is valid\n", args[0])
			return nil
		},
	}
}
