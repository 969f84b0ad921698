package cli

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/client"
	"github.com/osprey-aiops/osprey/internal/config"
	"github.com/osprey-aiops/osprey/internal/logmine"
	"github.com/osprey-aiops/osprey/internal/logparse"
	"github.com/osprey-aiops/osprey/internal/progress"
)

// Defaults of osprey logs parse.
const (
	// defaultLogSource is the source the lines are mined as: the file
	// tailer's default source, so that a file parsed without --format
	// gets the template ids the same lines get when serve tails the file.
	defaultLogSource = "file"
	// defaultMaxLineBytes bounds one input line.
	defaultMaxLineBytes = 1 << 20
	// maxReportedMismatches is how many lines that do not match --format
	// are named one by one on stderr; the rest are counted.
	maxReportedMismatches = 5
)

func newLogsCmd(stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "logs",
		Short: "Parse log files into templates offline, or list a running Osprey's templates",
		Args:  groupArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newLogsParseCmd(stdout, stderr), newLogsTemplatesCmd(stdout))
	return cmd
}

// logsParseFlags are the flags of osprey logs parse.
type logsParseFlags struct {
	format       string
	raw          bool
	source       string
	out          string
	templates    string
	maxLineBytes int
}

func newLogsParseCmd(stdout, stderr io.Writer) *cobra.Command {
	var f logsParseFlags
	cmd := &cobra.Command{
		Use:   "parse [--format FMT] FILE --out OUT.csv",
		Short: "Mine the templates of a log file and write one row per line (LineId,EventId,EventTemplate)",
		Long: `Mine the templates of a log file offline, with the template miner and the miner
configuration that "osprey serve" uses, and write one CSV row per input line: LineId (from 1), EventId (the template id) and EventTemplate (the
template text, <*> for each variable), the Loghub convention. Each line's template
is its final one: templates that generalise or merge later in the file are
written in their last form.

Without --format the header of each line (JSON, logfmt, syslog, a leading
timestamp and level) is recognised and stripped automatically, as "osprey
serve" does before mining the lines of Loki push and tailed files (with
--source file, the default, the ids are those serve gives the lines of a
tailed file with no source of its own). With --format,
the header is given in logparser notation, for example
"<Date> <Time> <Level> <Component>: <Content>"; only <Content> is mined, and a
line that does not match is mined whole (and named on stderr). With --raw each
line is mined whole, header included.

FILE "-" reads standard input; --out "-" (the default) writes to standard output.
--templates writes the templates too (EventId,EventTemplate,Occurrences).`,
		Example: `  osprey logs parse app.log --out app_structured.csv
  osprey logs parse --format '<Date> <Time> <Pid> <Level> <Component>: <Content>' HDFS_2k.log --out hdfs.csv
  journalctl -o cat | osprey logs parse - --templates templates.csv --out /dev/null`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLogsParse(cmd.Context(), cmd.InOrStdin(), args[0], f, stdout, stderr)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.format, "format", "", "header format in logparser notation (default: detect JSON, logfmt, syslog, timestamps)")
	fl.BoolVar(&f.raw, "raw", false, "mine each line whole, without header parsing")
	fl.StringVar(&f.source, "source", defaultLogSource, "source name the lines are mined as (it enters the template ids)")
	fl.StringVar(&f.out, "out", "-", `CSV file of one row per line ("-" for standard output)`)
	fl.StringVar(&f.templates, "templates", "", "also write the templates to this CSV file")
	fl.IntVar(&f.maxLineBytes, "max-line-bytes", defaultMaxLineBytes, "longest line accepted")
	return cmd
}

// runLogsParse is osprey logs parse: it mines the file, then writes the rows.
func runLogsParse(ctx context.Context, stdin io.Reader, path string, f logsParseFlags, stdout, stderr io.Writer) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if f.maxLineBytes <= 0 {
		return usageError{fmt.Errorf("--max-line-bytes %d: must be positive", f.maxLineBytes)}
	}
	if f.source == "" {
		return usageError{errors.New("--source must not be empty")}
	}
	if f.raw && f.format != "" {
		return usageError{errors.New("give --format or --raw, not both")}
	}
	var format *logparse.Format
	if f.format != "" {
		var err error
		if format, err = logparse.Compile(f.format); err != nil {
			return usageError{fmt.Errorf("--format: %w", err)}
		}
	}
	in, name, size := stdin, "<stdin>", int64(0)
	if path != "-" {
		file, err := os.Open(path)
		if err != nil {
			return err
		}
		defer file.Close()
		if fi, err := file.Stat(); err == nil && fi.Mode().IsRegular() {
			size = fi.Size()
		}
		in, name = file, path
	}

	// The miner and its configuration are serve's (config.Default's
	// logs.max_templates_per_source, logmine's defaults otherwise).
	def := config.Default()
	miner := logmine.NewMiner(f.source, logmine.Config{MaxTemplates: def.Logs.MaxTemplatesPerSource})
	var bar *progress.Bar
	if size > 0 {
		// The bar follows the bytes read; it draws only on a terminal.
		bar = progress.New(stderr, "parse "+filepath.Base(name), size)
		in = &progressReader{r: in, bar: bar}
	}
	res, err := mineLines(ctx, in, name, format, f.raw, miner, f.maxLineBytes, stderr)
	if bar != nil {
		bar.Finish()
	}
	if err != nil {
		return err
	}
	if res.mismatched > 0 {
		fmt.Fprintf(stderr, "osprey: %s: %d of %d lines did not match --format and were mined whole\n",
			name, res.mismatched, len(res.index))
	}
	if res.overflow > 0 {
		fmt.Fprintf(stderr, "osprey: %s: %d lines got no template: the source reached %d templates\n",
			name, res.overflow, def.Logs.MaxTemplatesPerSource)
	}

	if err := writeFile(f.out, stdout, func(w io.Writer) error { return writeStructured(w, miner, res.index) }); err != nil {
		return err
	}
	if f.templates != "" {
		if err := writeFile(f.templates, stdout, func(w io.Writer) error { return writeTemplates(w, miner, res.index) }); err != nil {
			return err
		}
	}
	return nil
}

// progressReader advances a progress bar by the bytes read through it.
type progressReader struct {
	r   io.Reader
	bar *progress.Bar
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.bar.Add(int64(n))
	return n, err
}

// mineResult is what mineLines found.
type mineResult struct {
	// index holds each line's Match.Index (-1 for a line that got no
	// template).
	index      []int32
	mismatched int
	overflow   int
}

// mineLines mines every line of in (named name in errors) with miner:
// the whole line with raw, else the content found by format, or by
// logparse.Detect without one.
func mineLines(ctx context.Context, in io.Reader, name string, format *logparse.Format, raw bool, miner *logmine.Miner,
	maxLine int, stderr io.Writer,
) (mineResult, error) {
	var res mineResult
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, min(64<<10, maxLine)), maxLine)
	var fields []string
	var zero time.Time
	for sc.Scan() {
		n := len(res.index) + 1
		if n&4095 == 0 {
			if err := ctx.Err(); err != nil {
				return res, err
			}
		}
		b := sc.Bytes()
		if len(b) > 0 && b[len(b)-1] == '\r' {
			b = b[:len(b)-1]
		}
		line := string(b)
		var content string
		t := zero
		switch {
		case raw:
			content = line
		case format != nil:
			var ok bool
			content, fields, ok = format.Content(line, fields)
			if !ok {
				res.mismatched++
				if res.mismatched <= maxReportedMismatches {
					fmt.Fprintf(stderr, "osprey: %s:%d: does not match --format; mined whole\n", name, n)
				}
			}
		default:
			h := logparse.Detect(line)
			content, t = h.Message, h.Time
		}
		m := miner.Add(t, content)
		if m.Overflow {
			res.overflow++
		}
		res.index = append(res.index, int32(m.Index))
	}
	if err := sc.Err(); err != nil {
		line := len(res.index) + 1
		if errors.Is(err, bufio.ErrTooLong) {
			return res, fmt.Errorf("%s:%d: line longer than %d bytes (--max-line-bytes)", name, line, maxLine)
		}
		return res, fmt.Errorf("%s:%d: read: %w", name, line, err)
	}
	return res, nil
}

// writeStructured writes the LineId,EventId,EventTemplate rows, each line
// with its template's final id and text.
func writeStructured(w io.Writer, miner *logmine.Miner, index []int32) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"LineId", "EventId", "EventTemplate"}); err != nil {
		return err
	}
	// The final id and text of each template index, computed once.
	type final struct{ id, text string }
	cache := map[int32]final{}
	rec := make([]string, 3)
	for i, idx := range index {
		fin, ok := cache[idx]
		if !ok {
			fin = final{id: miner.ID(int(idx)), text: miner.TemplateText(int(idx))}
			cache[idx] = fin
		}
		rec[0], rec[1], rec[2] = strconv.Itoa(i+1), fin.id, fin.text
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// writeTemplates writes the EventId,EventTemplate,Occurrences rows of the
// final templates, most frequent first.
func writeTemplates(w io.Writer, miner *logmine.Miner, index []int32) error {
	type tmpl struct {
		id, text string
		n        int
	}
	byID := map[string]*tmpl{}
	var list []*tmpl
	for _, idx := range index {
		id := miner.ID(int(idx))
		if id == "" {
			continue
		}
		t := byID[id]
		if t == nil {
			t = &tmpl{id: id, text: miner.TemplateText(int(idx))}
			byID[id] = t
			list = append(list, t)
		}
		t.n++
	}
	slices.SortStableFunc(list, func(a, b *tmpl) int { return b.n - a.n })
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"EventId", "EventTemplate", "Occurrences"}); err != nil {
		return err
	}
	for _, t := range list {
		if err := cw.Write([]string{t.id, t.text, strconv.Itoa(t.n)}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// writeFile calls write with path opened for writing, or stdout for "-".
// A regular file is written under a temporary name and renamed when
// complete, so that a failed run leaves no half-written CSV behind; a path
// that exists and is not a regular file (/dev/null, a pipe) is written to
// in place.
func writeFile(path string, stdout io.Writer, write func(io.Writer) error) error {
	if path == "-" {
		bw := bufio.NewWriterSize(stdout, 1<<16)
		if err := write(bw); err != nil {
			return fmt.Errorf("write standard output: %w", err)
		}
		return bw.Flush()
	}
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		bw := bufio.NewWriterSize(f, 1<<16)
		err = write(bw)
		if err == nil {
			err = bw.Flush()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	bw := bufio.NewWriterSize(tmp, 1<<16)
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func newLogsTemplatesCmd(stdout io.Writer) *cobra.Command {
	var (
		source, q string
		limit     int
	)
	cmd := &cobra.Command{
		Use:   "templates",
		Short: "List the log templates a running Osprey mined, most frequent first",
		Long: `List the log templates a running Osprey mined (GET /api/v1/log-templates), most
frequent first: id, source, line count, last seen, and the template text with <*>
for each variable. Templates merged into another are listed with the id they
now belong to.`,
		Example: `  osprey logs templates --source loki
  osprey logs templates --q "connection refused" -o json`,
		Args: exactArgs(0),
	}
	f := addClientFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if limit < 0 {
			return usageError{fmt.Errorf("--limit %d: must not be negative", limit)}
		}
		return f.call(cmd, func(ctx context.Context, c *client.Client) error {
			list, err := c.ListTemplates(ctx, client.TemplateQuery{Source: source, Text: q, Limit: limit})
			if err != nil {
				return err
			}
			if f.json() {
				return printJSON(stdout, nonNil(list))
			}
			return printTemplates(stdout, f, list)
		})
	}
	cmd.Flags().StringVar(&source, "source", "", "only this source's templates (loki, syslog, file, otlp)")
	cmd.Flags().StringVar(&q, "q", "", "only templates whose text contains this literally")
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many (server default 100)")
	return cmd
}

// printTemplates writes the templates table.
func printTemplates(w io.Writer, f *clientFlags, list []osprey.LogTemplate) error {
	if len(list) == 0 {
		_, err := fmt.Fprintln(w, "No log templates.")
		return err
	}
	now := f.now()
	tw := newTable(w)
	row(tw, "ID", "SOURCE", "COUNT", "LAST SEEN", "TEMPLATE")
	for _, t := range list {
		text := t.Template
		if t.AliasOf != "" {
			text = "(merged into " + t.AliasOf + ") " + text
		}
		row(tw, cell(t.ID, maxCellWidth), cell(t.Source, maxCellWidth), strconv.FormatInt(t.Count, 10),
			relTime(now, t.LastSeen), cell(text, 0))
	}
	return tw.Flush()
}
