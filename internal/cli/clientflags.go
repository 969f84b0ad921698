package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/osprey-aiops/osprey/internal/buildinfo"
	"github.com/osprey-aiops/osprey/internal/client"
)

// Defaults and environment variables of the client commands.
const (
	defaultServerURL = "http://127.0.0.1:9464"
	envServerURL     = "OSPREY_URL"
	envToken         = "OSPREY_TOKEN"
	defaultTimeout   = 30 * time.Second
	// completionTimeout bounds the server call that completes an id, so
	// that a down server does not hang the shell.
	completionTimeout = 3 * time.Second
	// maxTokenFileBytes bounds --token-file.
	maxTokenFileBytes = 64 << 10
)

// Output formats of the client commands.
const (
	outputTable = "table"
	outputJSON  = "json"
)

// clientFlags are the persistent flags of a client command group
// (incidents, silence, runbook, anomalies): where the server is, how to
// authenticate, and how to print.
type clientFlags struct {
	server    string
	token     string
	tokenFile string
	output    string
	timeout   time.Duration
	// now is the clock of the relative times in tables.
	now func() time.Time
	// getenv reads the environment (OSPREY_URL, OSPREY_TOKEN).
	getenv func(string) string
}

// addClientFlags registers the client flags on group's persistent flags and
// returns them.
func addClientFlags(group *cobra.Command) *clientFlags {
	f := &clientFlags{now: time.Now, getenv: os.Getenv}
	fl := group.PersistentFlags()
	fl.StringVar(&f.server, "server", defaultServerURL, "Osprey's URL (env "+envServerURL+")")
	fl.StringVar(&f.token, "token", "", "bearer token (env "+envToken+"; prefer --token-file or the env, a flag shows in ps)")
	fl.StringVar(&f.tokenFile, "token-file", "", "file holding the bearer token")
	fl.StringVarP(&f.output, "output", "o", outputTable, "output format: table or json")
	fl.DurationVar(&f.timeout, "timeout", defaultTimeout, "give up on the server after this long")
	_ = group.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{outputTable, outputJSON}, cobra.ShellCompDirectiveNoFileComp))
	return f
}

// check validates the flags that need no server: a usage error if one is
// wrong.
func (f *clientFlags) check() error {
	if f.output != outputTable && f.output != outputJSON {
		return usageError{fmt.Errorf("--output %q: want table or json", f.output)}
	}
	if f.timeout <= 0 {
		return usageError{fmt.Errorf("--timeout %v: must be positive", f.timeout)}
	}
	if f.token != "" && f.tokenFile != "" {
		return usageError{errors.New("give --token or --token-file, not both")}
	}
	return nil
}

// client returns a client for the server the flags name: --server, else
// $OSPREY_URL, else the default; --token, else --token-file, else
// $OSPREY_TOKEN.
func (f *clientFlags) client(cmd *cobra.Command) (*client.Client, error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	server := f.server
	if !cmd.Flags().Changed("server") {
		if env := f.getenv(envServerURL); env != "" {
			server = env
		}
	}
	base, err := client.ParseBaseURL(server)
	if err != nil {
		return nil, usageError{err}
	}
	token, err := f.resolveToken()
	if err != nil {
		return nil, err
	}
	return &client.Client{
		BaseURL:   base,
		Token:     token,
		HTTP:      &http.Client{Timeout: f.timeout},
		UserAgent: "osprey-cli/" + buildinfo.Get().Version,
	}, nil
}

// resolveToken returns the token from --token, --token-file or the
// environment, in that order.
func (f *clientFlags) resolveToken() (string, error) {
	if f.token != "" {
		return strings.TrimSpace(f.token), nil
	}
	if f.tokenFile != "" {
		fh, err := os.Open(f.tokenFile)
		if err != nil {
			return "", fmt.Errorf("--token-file: %w", err)
		}
		defer fh.Close()
		data, err := io.ReadAll(io.LimitReader(fh, maxTokenFileBytes+1))
		if err != nil {
			return "", fmt.Errorf("--token-file %s: %w", f.tokenFile, err)
		}
		if len(data) > maxTokenFileBytes {
			return "", fmt.Errorf("--token-file %s: larger than %d bytes, not a token", f.tokenFile, maxTokenFileBytes)
		}
		tok := strings.TrimSpace(string(data))
		if tok == "" {
			return "", fmt.Errorf("--token-file %s: empty", f.tokenFile)
		}
		return tok, nil
	}
	return strings.TrimSpace(f.getenv(envToken)), nil
}

// context returns the command's context bounded by --timeout.
func (f *clientFlags) context(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	return context.WithTimeout(ctx, f.timeout)
}

// json reports whether -o json was asked for.
func (f *clientFlags) json() bool { return f.output == outputJSON }

// call runs fn with a client and a bounded context: the body of every
// client command.
func (f *clientFlags) call(cmd *cobra.Command, fn func(ctx context.Context, c *client.Client) error) error {
	c, err := f.client(cmd)
	if err != nil {
		return err
	}
	ctx, cancel := f.context(cmd)
	defer cancel()
	err = fn(ctx, c)
	var ae *client.APIError
	if c.Token == "" && errors.As(err, &ae) && ae.StatusCode == http.StatusUnauthorized {
		return fmt.Errorf("%w (this server needs a token: --token-file, --token or $%s)", err, envToken)
	}
	return err
}

// completeWith returns a ValidArgsFunction that offers the ids list
// returns, as "id\tdescription" pairs, for the first maxArgs arguments
// (any number if negative), leaving out ids already given. Any failure (no
// server, bad flags) offers nothing rather than an error: completion must
// never get in the way.
func (f *clientFlags) completeWith(maxArgs int, list func(ctx context.Context, c *client.Client) ([]string, error)) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
		const dir = cobra.ShellCompDirectiveNoFileComp
		if maxArgs >= 0 && len(args) >= maxArgs {
			return nil, dir
		}
		c, err := f.client(cmd)
		if err != nil {
			return nil, dir
		}
		ctx := cmd.Context()
		if ctx == nil {
			ctx = context.Background()
		}
		ctx, cancel := context.WithTimeout(ctx, min(f.timeout, completionTimeout))
		defer cancel()
		ids, err := list(ctx, c)
		if err != nil {
			return nil, dir
		}
		given := make(map[string]bool, len(args))
		for _, a := range args {
			given[a] = true
		}
		out := make([]cobra.Completion, 0, len(ids))
		for _, id := range ids {
			if !given[strings.SplitN(id, "\t", 2)[0]] {
				out = append(out, id)
			}
		}
		return out, dir
	}
}

// groupArgs refuses arguments to a command group ("osprey incidents foo")
// with a usage error naming the unknown subcommand.
func groupArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Errorf("unknown command %q for %q; see %q", args[0], cmd.CommandPath(), cmd.CommandPath()+" --help")}
	}
	return nil
}

// minArgs is cobra.MinimumNArgs returning a usage error.
func minArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.MinimumNArgs(n)(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}

// eachID calls do for every id and goes on past failures: it prints the
// line do returns for each success (or, with -o json, the results as one
// array) and returns the failures joined, each named "<verb> <id>".
func eachID[T any](f *clientFlags, stdout io.Writer, ids []string, verb string, do func(id string) (T, string, error)) error {
	var done []T
	var errs []error
	for _, id := range ids {
		v, line, err := do(id)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", verb, cell(id, maxCellWidth), err))
			continue
		}
		done = append(done, v)
		if !f.json() {
			fmt.Fprintln(stdout, line)
		}
	}
	if f.json() {
		if err := printJSON(stdout, nonNil(done)); err != nil {
			return err
		}
	}
	return errors.Join(errs...)
}
