package replay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb"
	"go.uber.org/goleak"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/config"
	"github.com/osprey-aiops/osprey/internal/remediate"
	"github.com/osprey-aiops/osprey/internal/remediate/action"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// t0 is the first sample of the test series.
var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

const (
	nPoints = 300
	spikeAt = 250
)

// value is a deterministic noisy series with a spike at spikeAt.
func value(i int) float64 {
	v := 100 + 5*math.Sin(float64(i)/7) + float64(mix(uint64(i))%100)/50
	if i == spikeAt {
		v += 80
	}
	return v
}

func run(t *testing.T, inputs []Source, configs ...NamedConfig) *Report {
	t.Helper()
	if len(configs) == 0 {
		configs = []NamedConfig{{Name: "default", Config: config.Default()}}
	}
	rep, err := Run(context.Background(), Options{Inputs: inputs, Configs: configs, Window: Window{Step: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// spikeFound reports whether res has a metric anomaly starting at the spike.
func spikeFound(res *Result) bool {
	want := t0.Add(spikeAt * time.Minute)
	for _, a := range res.Anomalies.List {
		if a.Kind == "metric" && a.StartsAt.Equal(want) {
			return true
		}
	}
	return false
}

func writeCSV(t *testing.T, dir, name string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("timestamp,value\n")
	for i := range nPoints {
		fmt.Fprintf(&b, "%s,%g\n", t0.Add(time.Duration(i)*time.Minute).Format(time.DateTime), value(i))
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCSVSpike(t *testing.T) {
	path := writeCSV(t, t.TempDir(), "checkout-latency.csv")
	rep := run(t, []Source{CSVSource{Path: path}})
	res := &rep.Results[0]
	if !spikeFound(res) {
		t.Fatalf("no anomaly at the spike %s; anomalies: %+v", t0.Add(spikeAt*time.Minute), res.Anomalies.List)
	}
	if got := rep.Inputs[0]; got.Samples != nPoints || got.Series != 1 {
		t.Errorf("input counts %+v, want %d samples of 1 series", got, nPoints)
	}
	if got := res.Anomalies.List[0].Labels.Get(osprey.LabelMetric); got != "checkout_latency" {
		t.Errorf("series named %q, want checkout_latency", got)
	}
	if res.Incidents.Total == 0 || res.Noise.Incidents != res.Incidents.Total {
		t.Errorf("incidents %d, noise %+v", res.Incidents.Total, res.Noise)
	}
}

func TestTSDB(t *testing.T) {
	dir := t.TempDir()
	db, err := tsdb.Open(dir, nil, nil, tsdb.DefaultOptions(), nil)
	if err != nil {
		t.Fatal(err)
	}
	app := db.Appender(context.Background())
	for _, svc := range []string{"api", "db"} {
		l := labels.FromStrings("__name__", "requests", "service", svc)
		for i := range nPoints {
			v := value(i)
			if svc == "db" {
				v = value(i+1000) - 80*boolTo(i+1000 == spikeAt)
			}
			if _, err := app.Append(0, l, t0.Add(time.Duration(i)*time.Minute).UnixMilli(), v); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	rep := run(t, []Source{TSDBSource{Dir: dir}})
	res := &rep.Results[0]
	if got := rep.Inputs[0]; got.Samples != 2*nPoints || got.Series != 2 {
		t.Errorf("input counts %+v, want %d samples of 2 series", got, 2*nPoints)
	}
	if !spikeFound(res) {
		t.Fatalf("no anomaly at the spike; anomalies: %+v", res.Anomalies.List)
	}
	// --from/--to: only the first 100 minutes, before the spike.
	rep, err = Run(context.Background(), Options{Inputs: []Source{TSDBSource{Dir: dir}},
		Configs: []NamedConfig{{Name: "default", Config: config.Default()}},
		Window:  Window{From: t0, To: t0.Add(99 * time.Minute), Step: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	if got := rep.Inputs[0].Samples; got != 200 {
		t.Errorf("window replayed %d samples, want 200", got)
	}
}

func boolTo(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func TestLogBurstOfNewErrorTemplate(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	burst := t0.Add(150 * time.Minute)
	for i := range 180 {
		at := t0.Add(time.Duration(i) * time.Minute)
		for j := range 20 {
			fmt.Fprintf(&b, "%s INFO served request id=%d in %dms\n", at.Add(time.Duration(j)*time.Second).Format(time.RFC3339), i*100+j, 10+j)
			if j%5 == 0 {
				b.WriteString("    continuation line without a time\n")
			}
		}
		if !at.Before(burst) && at.Before(burst.Add(5*time.Minute)) {
			for j := range 40 {
				fmt.Fprintf(&b, "%s ERROR connection to db-%d refused: pool exhausted\n", at.Add(time.Duration(30+j/4)*time.Second).Format(time.RFC3339), j%3)
			}
		}
	}
	path := filepath.Join(dir, "checkout.log")
	if err := os.WriteFile(path, []byte("no time on the first line\n"+b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Logs.NewTemplateWarmup = 30 * time.Minute
	cfg.Logs.NewTemplateWarmupLines = 100
	rep := run(t, []Source{LogSource{Path: path}}, NamedConfig{Name: "default", Config: cfg})
	res := &rep.Results[0]
	if got := rep.Inputs[0].UntimedLines; got != 1 {
		t.Errorf("untimed lines %d, want 1", got)
	}
	var found *AnomalyItem
	for i, a := range res.Anomalies.List {
		if a.Kind == "log" && strings.Contains(a.Explanation, "never seen before") {
			found = &res.Anomalies.List[i]
			break
		}
	}
	if found == nil {
		t.Fatalf("no new-template anomaly; anomalies: %+v", res.Anomalies.List)
	}
	if !found.StartsAt.Equal(burst.Add(30*time.Second)) || found.Severity != "error" {
		t.Errorf("new template anomaly at %s (%s), want %s (error)", found.StartsAt, found.Severity, burst.Add(30*time.Second))
	}
	if found.Labels.Get(osprey.LabelService) != "checkout" || !strings.Contains(found.Explanation, "refused") {
		t.Errorf("anomaly %+v lacks the service or the template text", found)
	}
	if len(res.LogSources) != 1 || res.LogSources[0].Source != "checkout.log" || res.LogSources[0].Templates < 2 {
		t.Errorf("log sources %+v", res.LogSources)
	}
}

// eventLines is an events file: a deploy of payments, then alerts on
// payments and on checkout, which resolve.
func eventLines() string {
	at := func(m int) string { return t0.Add(time.Duration(m) * time.Minute).Format(time.RFC3339) }
	return strings.Join([]string{
		`{"source":"ci","name":"deploy","labels":{"service":"payments"},"severity":"info","startsAt":"` + at(0) + `"}`,
		`{"name":"HighErrorRate","labels":{"service":"payments"},"severity":"critical","startsAt":"` + at(1) + `"}`,
		`{"name":"HighLatency","labels":{"service":"payments","instance":"p-1"},"severity":"warning","startsAt":"` + at(2) + `"}`,
		``,
		`{"name":"HighErrorRate","labels":{"service":"payments"},"status":"resolved","startsAt":"` + at(1) + `","endsAt":"` + at(20) + `"}`,
		`{"name":"HighLatency","labels":{"service":"payments","instance":"p-1"},"status":"resolved","startsAt":"` + at(2) + `","endsAt":"` + at(21) + `"}`,
		`{"source":"ci","name":"deploy","labels":{"service":"payments"},"severity":"info","status":"resolved","startsAt":"` + at(0) + `","endsAt":"` + at(22) + `"}`,
	}, "\n") + "\n"
}

func remediationConfig() remediate.Config {
	rc := remediate.DefaultConfig()
	rc.ExecAllow = []string{"/usr/bin/true"}
	rc.Runbooks = []remediate.Runbook{{
		Name:    "restart-payments",
		Trigger: `incident.labels.service == "payments" && incident.severity == "critical"`,
		Mode:    remediate.ModeAuto,
		Steps:   []remediate.Step{{Name: "restart", Exec: action.ExecSpec{Argv: []string{"/usr/bin/true", "restart"}}}},
	}}
	return rc
}

func TestEventsIncidentWithCauseAndDryRun(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "alerts.jsonl")
	if err := os.WriteFile(path, []byte(eventLines()), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Remediation = remediationConfig()
	// The data ends with the last resolution: without a grace period the
	// incident resolves within it (TestResolveGraceInVirtualTime has one).
	cfg.Correlate.ResolveGrace = 0
	rep := run(t, []Source{EventsSource{Path: path}}, NamedConfig{Name: "default", Config: cfg})
	res := &rep.Results[0]
	if res.Incidents.Total != 1 {
		t.Fatalf("%d incidents, want 1: %+v", res.Incidents.Total, res.Incidents.List)
	}
	inc := res.Incidents.List[0]
	if len(inc.Members) != 3 || inc.Status != "resolved" {
		t.Errorf("incident %s has %d members, status %s; want 3, resolved", inc.Ref, len(inc.Members), inc.Status)
	}
	if len(inc.Causes) == 0 || inc.Causes[0].Name != "payments" || inc.Causes[0].Explanation == "" {
		t.Fatalf("causes %+v, want payments first with an explanation", inc.Causes)
	}
	for _, ev := range inc.Causes[0].Evidence {
		if !strings.HasPrefix(ev, "E") {
			t.Errorf("cause evidence %q is not an event ref", ev)
		}
	}
	if res.Noise.Events != 6 || res.Noise.Signals != 6 || res.Noise.CompressionRatio != 6 {
		t.Errorf("noise %+v, want 6 events into 1 incident", res.Noise)
	}
	rb := res.Runbooks
	if !rb.DryRunForced || len(rb.Runs) != 1 || rb.Runs[0].Status != string(remediate.StatusPlanned) || rb.Runs[0].Mode != "auto" {
		t.Fatalf("runbook runs %+v, want one planned (dry run) run of an auto runbook", rb)
	}
	if got := rb.Runs[0].Actions[0]; got.Args[1] != "restart" || got.Status != string(remediate.StatusPlanned) {
		t.Errorf("planned action %+v", got)
	}
	if !strings.Contains(strings.Join(inc.Runs, ","), "R1") {
		t.Errorf("incident runs %v, want R1", inc.Runs)
	}
}

func TestConfigDiff(t *testing.T) {
	path := writeCSV(t, t.TempDir(), "latency.csv")
	a := config.Default()
	b := config.Default()
	b.Detect.Enabled = false
	rep := run(t, []Source{CSVSource{Path: path}}, NamedConfig{Name: "A", Config: a}, NamedConfig{Name: "B", Config: b})
	if len(rep.Results) != 2 || rep.Diff == nil {
		t.Fatalf("results %d, diff %v", len(rep.Results), rep.Diff)
	}
	d := rep.Diff
	if n := rep.Results[0].Anomalies.Total; n == 0 || len(d.Anomalies.OnlyA) != n || len(d.Anomalies.OnlyB) != 0 || d.Anomalies.Both != 0 {
		t.Errorf("anomaly diff %+v for %d anomalies in A and none in B", d.Anomalies, n)
	}
	if len(d.Incidents.OnlyA) != rep.Results[0].Incidents.Total || len(d.Incidents.OnlyB) != 0 {
		t.Errorf("incident diff %+v", d.Incidents)
	}
	if rep.Results[1].Noise.UnscoredSamples != nPoints {
		t.Errorf("B unscored %d, want %d", rep.Results[1].Noise.UnscoredSamples, nPoints)
	}
	// The same configuration twice: everything in both.
	rep = run(t, []Source{CSVSource{Path: path}}, NamedConfig{Name: "A", Config: a}, NamedConfig{Name: "B", Config: a})
	if d := rep.Diff; len(d.Anomalies.OnlyA)+len(d.Anomalies.OnlyB) != 0 || d.Anomalies.Both != rep.Results[0].Anomalies.Total {
		t.Errorf("same config diff %+v", d.Anomalies)
	}
}

// TestReportGolden replays every input kind and compares the report, without
// its header, with testdata/report.golden.md; the JSON report must carry
// the documented fields.
func TestReportGolden(t *testing.T) {
	dir := t.TempDir()
	csvPath := writeCSV(t, dir, "payments-latency.csv")
	evPath := filepath.Join(dir, "alerts.jsonl")
	if err := os.WriteFile(evPath, []byte(eventLines()), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Remediation = remediationConfig()
	cfg.Notifications = notifyConfig(t)
	rep := run(t, []Source{CSVSource{Path: csvPath}, EventsSource{Path: evPath}}, NamedConfig{Name: "default", Config: cfg})
	if rep.Header == nil || len(rep.Header.Timings) != 1 {
		t.Fatalf("header %+v", rep.Header)
	}
	rep.Header = nil
	// Paths differ between runs.
	for i := range rep.Inputs {
		rep.Inputs[i].Name = filepath.Base(rep.Inputs[i].Name)
	}
	var md bytes.Buffer
	if err := rep.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "report.golden.md")
	if *update {
		if err := os.WriteFile(golden, md.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if md.String() != string(want) {
		t.Errorf("markdown report differs from %s (go test -update to accept):\n%s", golden, md.String())
	}

	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"schema", "from", "to", "inputs", "results"} {
		if _, ok := doc[key]; !ok {
			t.Errorf("report lacks %q", key)
		}
	}
	res := doc["results"].([]any)[0].(map[string]any)
	for _, key := range []string{"config", "settings", "noise", "anomalies", "incidents", "runbooks", "notifications"} {
		if _, ok := res[key]; !ok {
			t.Errorf("result lacks %q", key)
		}
	}
	inc := res["incidents"].(map[string]any)["list"].([]any)[0].(map[string]any)
	for _, key := range []string{"ref", "title", "status", "severity", "openedAt", "members", "causes", "timeline"} {
		if _, ok := inc[key]; !ok {
			t.Errorf("incident lacks %q", key)
		}
	}
	if doc["schema"].(float64) != SchemaVersion {
		t.Errorf("schema %v", doc["schema"])
	}
	// Two replays of the same data give the same body.
	rep2 := run(t, []Source{CSVSource{Path: csvPath}, EventsSource{Path: evPath}}, NamedConfig{Name: "default", Config: cfg})
	rep2.Header = nil
	for i := range rep2.Inputs {
		rep2.Inputs[i].Name = filepath.Base(rep2.Inputs[i].Name)
	}
	var js2 bytes.Buffer
	if err := rep2.WriteJSON(&js2); err != nil {
		t.Fatal(err)
	}
	if js.String() != js2.String() {
		a, b := strings.Split(js.String(), "\n"), strings.Split(js2.String(), "\n")
		for i := range min(len(a), len(b)) {
			if a[i] != b[i] {
				t.Errorf("line %d: %s\nvs %s", i, a[i], b[i])
				break
			}
		}
		t.Error("two replays of the same data gave different JSON reports")
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name string
		src  Source
		want string
	}{
		{"csv value", CSVSource{Path: write("a.csv", "timestamp,value\n2026-01-01 00:00:00,1\n2026-01-01 00:01:00,abc\n")}, "a.csv:3: value: \"abc\" is not a number"},
		{"csv time", CSVSource{Path: write("b.csv", "timestamp,value\n2026-01-01 00:00:00,1\nyesterday,2\n")}, "b.csv:3: timestamp: \"yesterday\" is not a time"},
		{"csv columns", CSVSource{Path: write("c.csv", "timestamp,value\n2026-01-01 00:00:00\n")}, "c.csv:2: value: missing"},
		{"jsonl syntax", EventsSource{Path: write("a.jsonl", `{"name":"x","startsAt":"2026-01-01T00:00:00Z"}`+"\n{not json\n")}, "a.jsonl:2: not a JSON object"},
		{"jsonl unknown field", EventsSource{Path: write("b.jsonl", `{"name":"x","startsAt":"2026-01-01T00:00:00Z","colour":"red"}`+"\n")}, "b.jsonl:1: colour: unknown field"},
		{"jsonl type", EventsSource{Path: write("c.jsonl", `{"name":"x","startsAt":"2026-01-01T00:00:00Z","labels":{"a":1}}`+"\n")}, "c.jsonl:1: labels: number is not a string"},
		{"jsonl severity", EventsSource{Path: write("d.jsonl", `{"name":"x","startsAt":"2026-01-01T00:00:00Z","severity":"meh"}`+"\n")}, "d.jsonl:1: severity: unknown severity"},
		{"jsonl no time", EventsSource{Path: write("e.jsonl", `{"name":"x"}`+"\n")}, "e.jsonl:1: startsAt: required"},
		{"jsonl name", EventsSource{Path: write("f.jsonl", `{"name":"","startsAt":"2026-01-01T00:00:00Z"}`+"\n")}, "f.jsonl:1: name: must not be empty"},
		{"prom-json type", PromJSONSource{Path: write("a.json", `{"status":"success","data":{"resultType":"vector","result":[]}}`)}, "a.json: data.resultType: \"vector\" is not matrix"},
		{"prom-json value", PromJSONSource{Path: write("b.json", `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"up"},"values":[[1,"1"],[2,"x"]]}]}}`)}, "b.json: data.result[0].values[1]: value \"x\" is not a number"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Run(context.Background(), Options{Inputs: []Source{c.src}, Configs: []NamedConfig{{Name: "default", Config: config.Default()}}})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Errorf("error %T is not an *InputError", err)
			}
		})
	}
}

func TestPromJSON(t *testing.T) {
	var vals []string
	for i := range nPoints {
		vals = append(vals, fmt.Sprintf(`[%d.5,"%g"]`, t0.Add(time.Duration(i)*time.Minute).Unix(), value(i)))
	}
	doc := `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"latency","service":"web"},"values":[` + strings.Join(vals, ",") + `]}]}}`
	path := filepath.Join(t.TempDir(), "q.json")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	rep := run(t, []Source{PromJSONSource{Path: path}})
	want := t0.Add(spikeAt*time.Minute + 500*time.Millisecond)
	found := false
	for _, a := range rep.Results[0].Anomalies.List {
		found = found || a.StartsAt.Equal(want)
	}
	if !found {
		t.Errorf("no anomaly at %s: %+v", want, rep.Results[0].Anomalies.List)
	}
}

func TestSynthetic(t *testing.T) {
	s, err := ParseSynthetic("120x400")
	if err != nil {
		t.Fatal(err)
	}
	rep := run(t, []Source{s})
	if got := rep.Inputs[0]; got.Samples != 120*400 || got.Series != 120 || len(got.Injected) != 3 {
		t.Fatalf("input %+v", got)
	}
	// The step injected into svc-01 at sample 240 is found on its series.
	want := SyntheticStart.Add(240 * time.Minute)
	n := 0
	for _, a := range rep.Results[0].Anomalies.List {
		if a.Labels.Get(osprey.LabelService) == "svc-01" && !a.StartsAt.Before(want) && a.StartsAt.Before(want.Add(10*time.Minute)) {
			n++
		}
	}
	if n == 0 {
		t.Errorf("no anomaly on svc-01 at the injected step %s", want)
	}
	for _, bad := range []string{"", "10", "x5", "0x5", "5x-1"} {
		if _, err := ParseSynthetic(bad); err == nil {
			t.Errorf("ParseSynthetic(%q) accepted", bad)
		}
	}
}

func TestDataDirKeepsStore(t *testing.T) {
	dir := t.TempDir()
	path := writeCSV(t, t.TempDir(), "x.csv")
	opts := Options{Inputs: []Source{CSVSource{Path: path}}, Configs: []NamedConfig{{Name: "default", Config: config.Default()}}, DataDir: dir}
	if _, err := Run(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "osprey.db")); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), opts); err == nil || !strings.Contains(err.Error(), "already holds a store") {
		t.Errorf("second replay into the same data dir: %v", err)
	}
}

// TestCorrelateSettingsApply checks that replay's correlator takes serve's
// correlate settings beyond the window: an inhibition rule whose source is
// any payments signal keeps HighLatency of instance p-1 out of the incident.
func TestCorrelateSettingsApply(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "alerts.jsonl")
	if err := os.WriteFile(path, []byte(eventLines()), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Correlate.Inhibit = []config.InhibitRuleConfig{{
		Source: []string{`service="payments"`},
		Target: []string{`instance="p-1"`},
		Equal:  []string{"service"},
	}}
	rep := run(t, []Source{EventsSource{Path: path}}, NamedConfig{Name: "inhibit", Config: cfg})
	res := &rep.Results[0]
	if res.Incidents.Total != 1 {
		t.Fatalf("%d incidents, want 1: %+v", res.Incidents.Total, res.Incidents.List)
	}
	for _, m := range res.Incidents.List[0].Members {
		if m.Name == "HighLatency" {
			t.Errorf("inhibited HighLatency is a member: %+v", res.Incidents.List[0].Members)
		}
	}
}

// The configuration's declared calls and placements group the replayed
// alerts as in serve: a host's disk alert, the database on it and its
// caller are one incident, without them three.
func TestDeclaredTopologyApplies(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "alerts.jsonl")
	at := func(m int) string { return t0.Add(time.Duration(m) * time.Minute).Format(time.RFC3339) }
	lines := strings.Join([]string{
		`{"name":"DiskFull","labels":{"host":"db-1"},"severity":"critical","startsAt":"` + at(0) + `"}`,
		`{"name":"SlowQueries","labels":{"service":"postgres"},"severity":"warning","startsAt":"` + at(1) + `"}`,
		`{"name":"CheckoutErrors","labels":{"service":"checkout"},"severity":"warning","startsAt":"` + at(2) + `"}`,
	}, "\n") + "\n"
	if err := os.WriteFile(path, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	declared := config.Default()
	declared.Topology = config.TopologyConfig{
		Dependencies: []config.DependencyConfig{{Caller: "checkout", Callees: []string{"postgres"}}},
		Placement:    []config.PlacementConfig{{Host: "db-1", Services: []string{"postgres"}}},
	}
	rep := run(t, []Source{EventsSource{Path: path}}, NamedConfig{Name: "plain", Config: config.Default()}, NamedConfig{Name: "declared", Config: declared})
	if n := rep.Results[0].Incidents.Total; n != 3 {
		t.Errorf("without the topology section: %d incidents, want 3", n)
	}
	res := &rep.Results[1]
	if res.Incidents.Total != 1 {
		t.Fatalf("with it: %d incidents, want 1: %+v", res.Incidents.Total, res.Incidents.List)
	}
	if c := res.Incidents.List[0].Causes; len(c) == 0 || c[0].Name != "db-1" {
		t.Errorf("causes %+v, want the host db-1 first", c)
	}
}
