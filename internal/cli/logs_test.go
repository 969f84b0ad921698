package cli

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/bench/loghub"
	"github.com/osprey-aiops/osprey/internal/client"
	"github.com/osprey-aiops/osprey/internal/config"
	"github.com/osprey-aiops/osprey/internal/logmine"
	"github.com/osprey-aiops/osprey/internal/testenv"
)

// readCSV parses a CSV file (or text) into rows, failing on malformed CSV.
func readCSV(t *testing.T, text string) [][]string {
	t.Helper()
	r := csv.NewReader(strings.NewReader(text))
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatalf("output is not valid CSV: %v\n%s", err, text)
	}
	return rows
}

func writeTemp(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLogsParseDetect parses lines of several header layouts without
// --format: the headers are stripped, lines of one message share an id,
// the final (generalised) template is written for every line, and text
// with commas and quotes survives the CSV round trip.
func TestLogsParseDetect(t *testing.T) {
	var b strings.Builder
	users := []string{"alice", "bob", "carol", "dave", "erin", "frank"}
	for i, u := range users {
		// An ISO timestamp and a level word, then the message.
		b.WriteString("2026-11-26T09:0" + strconv.Itoa(i) + ":00Z INFO user " + u + " logged in from 10.0.0." + strconv.Itoa(i) + "\n")
	}
	for i := range 3 {
		// JSON lines: the msg field is mined.
		b.WriteString(`{"ts":"2026-11-26T10:00:0` + strconv.Itoa(i) + `Z","level":"error","msg":"disk /dev/sd` + string(rune('a'+i)) + ` is full, \"writes\" refused"}` + "\r\n")
	}
	b.WriteString("\n")
	in := writeTemp(t, "app.log", b.String())
	out := filepath.Join(t.TempDir(), "out.csv")
	tmpls := filepath.Join(t.TempDir(), "templates.csv")

	code, stdout, stderr := runCLI(t, "logs", "parse", in, "--out", out, "--templates", tmpls)
	if code != ExitOK {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	rows := readCSV(t, string(raw))
	if got := strings.Join(rows[0], ","); got != "LineId,EventId,EventTemplate" {
		t.Fatalf("header = %q", got)
	}
	rows = rows[1:]
	if len(rows) != len(users)+3+1 {
		t.Fatalf("%d rows, want one per input line (%d)", len(rows), len(users)+4)
	}
	for i, r := range rows {
		if r[0] != strconv.Itoa(i+1) {
			t.Errorf("row %d: LineId %q", i, r[0])
		}
	}
	login, disk := rows[0], rows[len(users)]
	for _, r := range rows[:len(users)] {
		if r[1] != login[1] || r[2] != login[2] {
			t.Errorf("login lines got different templates: %q vs %q", r, login)
		}
	}
	if login[2] != "user <*> logged in from <*>" {
		t.Errorf("login template = %q (header not stripped, or not generalised)", login[2])
	}
	for _, r := range rows[len(users) : len(users)+3] {
		if r[1] != disk[1] {
			t.Errorf("disk lines got different ids: %q vs %q", r, disk)
		}
	}
	if disk[2] != `disk <*> is full, "writes" refused` {
		t.Errorf("disk template = %q", disk[2])
	}
	if disk[1] == login[1] || len(login[1]) < 16 {
		t.Errorf("ids: login %q, disk %q", login[1], disk[1])
	}

	raw, err = os.ReadFile(tmpls)
	if err != nil {
		t.Fatal(err)
	}
	trows := readCSV(t, string(raw))
	if strings.Join(trows[0], ",") != "EventId,EventTemplate,Occurrences" || len(trows) < 3 {
		t.Fatalf("templates file:\n%s", raw)
	}
	if trows[1][0] != login[1] || trows[1][2] != strconv.Itoa(len(users)) || trows[2][0] != disk[1] || trows[2][2] != "3" {
		t.Errorf("templates rows = %q", trows[1:])
	}

	// A device is written in place, never replaced by a file.
	if code, _, stderr := runCLI(t, "logs", "parse", in, "--out", os.DevNull); code != ExitOK {
		t.Errorf("--out %s: exit %d: %s", os.DevNull, code, stderr)
	}
	if fi, err := os.Stat(os.DevNull); err != nil || fi.Mode().IsRegular() {
		t.Fatalf("%s is no longer a device: %v %v", os.DevNull, fi, err)
	}

	// The same lines from standard input, to standard output, give the
	// same CSV.
	var sout, serr bytes.Buffer
	root := newRoot(&sout, &serr)
	root.SetIn(strings.NewReader(b.String()))
	root.SetArgs([]string{"logs", "parse", "-"})
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("stdin: %v\n%s", err, serr.String())
	}
	fileCSV, _ := os.ReadFile(out)
	if sout.String() != string(fileCSV) {
		t.Errorf("stdin output differs from the file's:\n%s\nvs\n%s", sout.String(), fileCSV)
	}
}

// TestLogsParseRaw checks that --raw gives every line the template (id and
// text) that serve's miner (a logmine.Set with serve's configuration, the
// file tailer's source) ends up giving it.
func TestLogsParseRaw(t *testing.T) {
	var b strings.Builder
	for i := range 40 {
		fmt.Fprintf(&b, "2026-11-26T09:%02d:00Z INFO worker %d finished job %d in %d ms\n", i, i%3, 1000+i, 10*i)
		if i%4 == 0 {
			fmt.Fprintf(&b, "2026-11-26T09:%02d:30Z WARN queue depth %d above %d\n", i, 50+i, 40)
		}
	}
	in := writeTemp(t, "raw.log", b.String())
	code, stdout, stderr := runCLI(t, "logs", "parse", "--raw", in)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	rows := readCSV(t, stdout)[1:]

	set := logmine.NewSet(logmine.SetOptions{Config: logmine.Config{MaxTemplates: config.Default().Logs.MaxTemplatesPerSource}})
	var ids []string
	for _, line := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
		r := osprey.LogRecord{Labels: osprey.Labels{"source": "file"}, Body: line}
		ids = append(ids, set.Mine(&r).ID)
	}
	if len(rows) != len(ids) {
		t.Fatalf("%d rows for %d lines", len(rows), len(ids))
	}
	for i, id := range ids {
		live, ok := set.Lookup("file", id)
		if !ok || rows[i][1] != live.ID || rows[i][2] != live.Template {
			t.Fatalf("line %d: CSV %q, serve's miner %+v", i+1, rows[i], live)
		}
	}
	if code, _, stderr := runCLI(t, "logs", "parse", "--raw", "--format", "<Content>", in); code != ExitUsage || !strings.Contains(stderr, "not both") {
		t.Errorf("--raw with --format: exit %d, %s", code, stderr)
	}
}

// TestLogsParseErrors checks that problems name the file and line.
func TestLogsParseErrors(t *testing.T) {
	format := "<Date> <Time> <Level> <Component>: <Content>"
	in := writeTemp(t, "app.log", "2026-11-26 09:00:00 INFO db: opened connection 17 to 10.0.0.1\n"+
		"garbage without a header\n"+
		"2026-11-26 09:00:01 INFO db: opened connection 18 to 10.0.0.2\n")
	out := filepath.Join(t.TempDir(), "out.csv")
	code, _, stderr := runCLI(t, "logs", "parse", "--format", format, in, "--out", out)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, in+":2: does not match --format") || !strings.Contains(stderr, "1 of 3 lines did not match") {
		t.Errorf("stderr does not name the mismatched line:\n%s", stderr)
	}
	raw, _ := os.ReadFile(out)
	rows := readCSV(t, string(raw))
	if len(rows) != 4 || rows[1][2] != "opened connection <*> to <*>" || rows[3][1] != rows[1][1] || rows[2][2] != "garbage without a header" {
		t.Errorf("rows = %q", rows)
	}

	long := writeTemp(t, "long.log", "short line\nanother\n"+strings.Repeat("x", 200)+"\n")
	code, _, stderr = runCLI(t, "logs", "parse", long, "--max-line-bytes", "100", "--out", filepath.Join(t.TempDir(), "x.csv"))
	if code != ExitError || !strings.Contains(stderr, long+":3: line longer than 100 bytes") {
		t.Errorf("long line: exit %d, stderr %s", code, stderr)
	}
	code, _, stderr = runCLI(t, "logs", "parse", "--format", "<Date> <Date>", in)
	if code != ExitUsage || !strings.Contains(stderr, "--format") {
		t.Errorf("bad format: exit %d, stderr %s", code, stderr)
	}
	code, _, stderr = runCLI(t, "logs", "parse", filepath.Join(t.TempDir(), "missing.log"))
	if code != ExitError || !strings.Contains(stderr, "missing.log") {
		t.Errorf("missing file: exit %d, stderr %s", code, stderr)
	}
	code, _, _ = runCLI(t, "logs", "parse")
	if code != ExitUsage {
		t.Errorf("no file: exit %d, want %d", code, ExitUsage)
	}
}

// TestLogsParseLoghub runs the command on every Loghub-2k system with its
// format and checks that it writes, line for line, the templates the
// benchmark harness's run of the same miner gives (loghub.Run), and that
// they round-trip through CSV however the template text is quoted.
func TestLogsParseLoghub(t *testing.T) {
	dir := testenv.SharedData(t, "loghub")
	systems, err := loghub.Load(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	formats := map[string]string{}
	for _, s := range systems {
		formats[s.Name] = s.Format.String()
	}
	for _, sys := range systems {
		t.Run(sys.Name, func(t *testing.T) {
			want := loghub.Run(sys, logmine.Config{}, nil)
			out := filepath.Join(t.TempDir(), "out.csv")
			in := filepath.Join(dir, sys.Name, sys.Name+"_2k.log")
			code, _, stderr := runCLI(t, "logs", "parse", "--format", formats[sys.Name], "--source", sys.Name, in, "--out", out)
			if code != ExitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			raw, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			rows := readCSV(t, string(raw))[1:]
			if len(rows) != len(want.Pred) {
				t.Fatalf("%d rows, %d lines", len(rows), len(want.Pred))
			}
			for i, r := range rows {
				if r[2] != want.Pred[i] {
					t.Fatalf("line %d: template %q, the harness mined %q", i+1, r[2], want.Pred[i])
				}
			}
			got := make([]string, len(rows))
			for i, r := range rows {
				got[i] = r[2]
			}
			if s := loghub.Score(got, sys.Truth); s.GA != want.Scores.GA || s.PA != want.Scores.PA {
				t.Errorf("scores of the CSV: GA %.3f PA %.3f, harness GA %.3f PA %.3f", s.GA, s.PA, want.Scores.GA, want.Scores.PA)
			}
		})
	}
}

// lokiPush sends lines to s's Loki push route as one JSON stream.
func (s *ospreyServer) lokiPush(t *testing.T, stream map[string]string, lines ...string) {
	t.Helper()
	now := time.Now()
	values := make([][2]string, len(lines))
	for i, l := range lines {
		values[i] = [2]string{strconv.FormatInt(now.Add(time.Duration(i)*time.Millisecond).UnixNano(), 10), l}
	}
	body, err := json.Marshal(map[string]any{"streams": []any{map[string]any{"stream": stream, "values": values}}})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, s.url+"/loki/api/v1/push", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+operatorToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("POST /loki/api/v1/push = %d", resp.StatusCode)
	}
}

// testLogTemplates lists, through osprey logs templates, the templates
// the server mined from lines pushed over Loki.
func testLogTemplates(t *testing.T, s *ospreyServer) {
	if out := s.mustRun(t, "logs", "templates", "--source", "loki"); out != "No log templates.\n" {
		t.Errorf("logs templates before any line: %q", out)
	}
	var lines []string
	for i := range 6 {
		lines = append(lines, fmt.Sprintf("payment %d declined for order %d", 100+i, 7000+i))
	}
	lines = append(lines, "cache warmed in 3 ms")
	s.lokiPush(t, map[string]string{"service": "payments"}, lines...)
	eventually(t, "the templates mined", func() bool {
		l, err := s.client.ListTemplates(context.Background(), client.TemplateQuery{Source: "loki"})
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		for _, tpl := range l {
			n += tpl.Count
		}
		return n == int64(len(lines))
	})

	out := s.mustRun(t, "logs", "templates", "--source", "loki")
	rows := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(rows) != 3 || !regexp.MustCompile(`^ID +SOURCE +COUNT +LAST SEEN +TEMPLATE$`).MatchString(rows[0]) {
		t.Fatalf("logs templates:\n%s", out)
	}
	if !regexp.MustCompile(`^[0-9a-f]{16} +loki +6 +(just now|\d+s ago) +payment <\*> declined for order <\*>$`).MatchString(rows[1]) {
		t.Errorf("most frequent template row: %q", rows[1])
	}

	var list []osprey.LogTemplate
	decodeJSON(t, s.mustRun(t, "logs", "templates", "--q", "cache warmed", "-o", "json"), &list)
	if len(list) != 1 || list[0].Count != 1 || list[0].Source != "loki" || list[0].Sample != "cache warmed in 3 ms" {
		t.Errorf("logs templates --q -o json = %+v", list)
	}
	got, err := s.client.GetTemplate(context.Background(), "loki", list[0].ID)
	if err != nil || got.Template != list[0].Template {
		t.Errorf("GetTemplate = %+v, %v", got, err)
	}
	if out := s.mustRun(t, "logs", "templates", "--source", "syslog"); out != "No log templates.\n" {
		t.Errorf("logs templates of a source without lines: %q", out)
	}
	s.wantFail(t, ExitUsage, []string{"logs", "templates", "--limit", "-1"}, "--limit -1")
}
