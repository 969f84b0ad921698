package rca

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/tsdb"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/correlate"
	"github.com/osprey-aiops/osprey/internal/ingest"
	"github.com/osprey-aiops/osprey/internal/ingest/alerts"
)

// ThresholdRules says how the threshold alert stream is derived from a
// Nezha day: one alerting rule per service and metric of the service's
// metric_threshold file (row 1 the mean, row 2 the standard deviation of
// the fault-free phase, as Nezha's alarm.py writes them), firing while the
// pod's metric exceeds mean + Sigma·std, evaluated with PromQL over a
// Prometheus TSDB holding the day's pod metrics, and sent as Prometheus
// sends alerts, to POST /api/v2/alerts, Osprey's production alert receiver.
//
// Prometheus' rules package cannot be linked here (its notifier needs
// Alertmanager modules Osprey does not depend on), so alertState mirrors
// its alerting rule life cycle (rules/alerting.go of Prometheus v0.316):
// pending → firing after For, resolved when the expression stops returning
// the series, a firing alert sent again once ResendDelay passed since it
// was last sent (endsAt = send time + 4·max(Interval, ResendDelay)), and a
// resolved one sent again likewise for 15 minutes.
type ThresholdRules struct {
	// Sigma is how many standard deviations above the mean fire.
	Sigma float64
	// For is the rules' "for" (pending) duration.
	For time.Duration
	// Interval is the rule group evaluation interval.
	Interval time.Duration
	// ResendDelay is Prometheus' --rules.alert.resend-delay.
	ResendDelay time.Duration
}

// DefaultThresholdRules are the rules the bench reports: the textbook
// 3-sigma band (alarm.py's own docstring), "for: 1m", and Prometheus'
// defaults for the evaluation interval (1m) and the resend delay (1m).
func DefaultThresholdRules() ThresholdRules {
	return ThresholdRules{Sigma: 3, For: time.Minute, Interval: time.Minute, ResendDelay: time.Minute}
}

// resolvedRetention is how long Prometheus keeps sending a resolved alert.
const resolvedRetention = 15 * time.Minute

// thresholdMetrics maps a metric_threshold column to the pod metric series
// it bounds. NetworkP90(ms) is computed from traces by Nezha, not recorded
// in the metric files, so it has no rule.
var thresholdMetrics = []struct{ column, series, alert string }{
	{"CpuUsageRate(%)", "pod_cpu_usage_rate_percent", "PodCPUUsageHigh"},
	{"MemoryUsageRate(%)", "pod_memory_usage_rate_percent", "PodMemoryUsageHigh"},
	{"SyscallRead", "pod_syscall_read", "PodSyscallReadHigh"},
	{"SyscallWrite", "pod_syscall_write", "PodSyscallWriteHigh"},
}

// PostableAlert is one alert of Alertmanager's API v2 (POST /api/v2/alerts),
// as Prometheus sends it.
type PostableAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// Notification is one alert as sent, at the evaluation time At.
type Notification struct {
	At    time.Time
	Alert PostableAlert
}

// alertState is one alert instance of a rule (rules.Alert).
type alertState struct {
	labels                                map[string]string
	value, limit                          float64
	firing                                bool // it fired (else pending); it stays set once resolved
	activeAt, firedAt, resolvedAt, sentAt time.Time
}

// ruleEval is the life cycle of every alert of the threshold rules.
type ruleEval struct {
	r      ThresholdRules
	active map[string]*alertState // by series labels
}

// eval applies one evaluation at ts: above holds the series above their
// threshold (by key) with their labels, value and threshold. It returns the
// notifications to send, sorted by labels.
func (e *ruleEval) eval(ts time.Time, above map[string]*alertState) []PostableAlert {
	for k, a := range above {
		if cur, ok := e.active[k]; ok && cur.resolvedAt.IsZero() {
			cur.value = a.value
			continue
		}
		a.activeAt = ts
		e.active[k] = a
	}
	for k, a := range e.active {
		if _, ok := above[k]; !ok {
			if !a.firing && a.resolvedAt.IsZero() || !a.resolvedAt.IsZero() && ts.Sub(a.resolvedAt) > resolvedRetention {
				delete(e.active, k)
			}
			if a.resolvedAt.IsZero() && a.firing {
				a.resolvedAt = ts
			}
			continue
		}
		if !a.firing && ts.Sub(a.activeAt) >= e.r.For {
			a.firing, a.firedAt = true, ts
		}
	}
	keys := make([]string, 0, len(e.active))
	for k := range e.active {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var out []PostableAlert
	for _, k := range keys {
		a := e.active[k]
		if !a.firing || !a.resolvedAt.After(a.sentAt) && !a.sentAt.Add(e.r.ResendDelay).Before(ts) {
			continue // needsSending
		}
		a.sentAt = ts
		end := a.resolvedAt
		if end.IsZero() {
			end = ts.Add(4 * max(e.r.Interval, e.r.ResendDelay))
		}
		out = append(out, PostableAlert{
			Labels: a.labels,
			Annotations: map[string]string{"summary": fmt.Sprintf("%s of %s is %.4g, above %.4g (mean + %g sigma)",
				a.labels["metric"], a.labels["pod"], a.value, a.limit, e.r.Sigma)},
			StartsAt: a.firedAt, EndsAt: end,
			GeneratorURL: "http://prometheus:9090/graph?g0.expr=" + a.labels["alertname"],
		})
	}
	return out
}

// ThresholdNotifications evaluates the threshold rules over d's pod metrics
// every r.Interval and returns every alert notification Prometheus would
// send, in order. It returns nil when d has no metric_threshold folder.
func ThresholdNotifications(ctx context.Context, d *NezhaDay, r ThresholdRules) ([]Notification, error) {
	root := filepath.Dir(filepath.Dir(d.RCADir))
	thr, err := loadThresholds(filepath.Join(root, "metric_threshold"))
	if err != nil || len(thr) == 0 {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "osprey-bench-tsdb-")
	if err != nil {
		return nil, fmt.Errorf("threshold alerts: %w", err)
	}
	defer os.RemoveAll(dir)
	db, err := tsdb.Open(dir, slog.New(slog.DiscardHandler), nil, tsdb.DefaultOptions(), nil)
	if err != nil {
		return nil, fmt.Errorf("threshold alerts: %w", err)
	}
	defer db.Close()
	first, last, err := appendPodMetrics(ctx, db, d.RCADir)
	if err != nil {
		return nil, err
	}
	p := parser.NewParser(parser.Options{})
	engine := promql.NewEngine(promql.EngineOpts{MaxSamples: 1e7, Timeout: time.Minute, LookbackDelta: 5 * time.Minute, Parser: p})
	e := &ruleEval{r: r, active: map[string]*alertState{}}
	var out []Notification
	for ts := first.Truncate(r.Interval); !ts.After(last.Add(r.Interval)); ts = ts.Add(r.Interval) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		above := map[string]*alertState{}
		for _, m := range thresholdMetrics {
			// One query per metric returns every pod's latest sample;
			// comparing each with its service's threshold is what the
			// per-service rules "m{service="s"} > limit" evaluate.
			q, err := engine.NewInstantQuery(ctx, db, nil, m.series, ts)
			if err != nil {
				return nil, fmt.Errorf("threshold alerts: %w", err)
			}
			res := q.Exec(ctx)
			vec, verr := res.Vector()
			if res.Err != nil || verr != nil {
				q.Close()
				return nil, fmt.Errorf("threshold alerts: query %s: %w", m.series, errors.Join(res.Err, verr))
			}
			for _, smp := range vec {
				svc := smp.Metric.Get(osprey.LabelService)
				t, ok := thr[svc][m.column]
				if !ok || smp.F <= t.mean+r.Sigma*t.std {
					continue
				}
				l := map[string]string{"alertname": m.alert, "severity": "warning", "metric": m.column}
				smp.Metric.Range(func(lb labels.Label) {
					if lb.Name != labels.MetricName {
						l[lb.Name] = lb.Value
					}
				})
				above[m.alert+"\x00"+smp.Metric.String()] = &alertState{labels: l, value: smp.F, limit: t.mean + r.Sigma*t.std}
			}
			q.Close()
		}
		for _, a := range e.eval(ts, above) {
			out = append(out, Notification{At: ts, Alert: a})
		}
	}
	return out, nil
}

// threshold is one metric's band of one service.
type threshold struct{ mean, std float64 }

// loadThresholds reads every <service>.csv of dir: header, mean row, std
// row. A metric whose std is 0 (it never varied, e.g. a syscall count that
// was always 0) gets no rule: any value above a constant would fire.
func loadThresholds(dir string) (map[string]map[string]threshold, error) {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("metric thresholds: %w", err)
	}
	out := map[string]map[string]threshold{}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".csv")
		if !ok {
			continue
		}
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("metric thresholds: %w", err)
		}
		recs, err := csv.NewReader(f).ReadAll()
		f.Close()
		if err != nil || len(recs) < 3 {
			return nil, fmt.Errorf("metric thresholds %s: want a header, a mean and a std row (%v)", e.Name(), err)
		}
		for i, col := range recs[0] {
			if i >= len(recs[1]) || i >= len(recs[2]) {
				break
			}
			mean, err1 := strconv.ParseFloat(recs[1][i], 64)
			std, err2 := strconv.ParseFloat(recs[2][i], 64)
			if err1 != nil || err2 != nil || std <= 0 || math.IsNaN(mean+std) {
				continue
			}
			if out[name] == nil {
				out[name] = map[string]threshold{}
			}
			out[name][col] = threshold{mean, std}
		}
	}
	return out, nil
}

// appendPodMetrics writes the columns that have rules, of every pod metric
// file of dir/metric, into db in time order (the head only takes samples
// close to its newest), and returns the first and last sample times.
func appendPodMetrics(ctx context.Context, db *tsdb.DB, dir string) (time.Time, time.Time, error) {
	type sample struct {
		ts     int64
		series int
		v      float64
	}
	var (
		series  []labels.Labels
		samples []sample
	)
	for _, path := range csvFiles(filepath.Join(dir, "metric"), ".csv") {
		ids := map[string]int{}
		_, err := readCSV(path, func(col map[string]int, rec []string) {
			pi, ok := col["PodName"]
			ti, ok2 := col["TimeStamp"]
			if !ok || !ok2 {
				return
			}
			sec, err := strconv.ParseFloat(rec[ti], 64)
			if err != nil {
				return
			}
			for _, m := range thresholdMetrics {
				i, ok := col[m.column]
				if !ok {
					continue
				}
				v, err := strconv.ParseFloat(rec[i], 64)
				if err != nil || math.IsNaN(v) {
					continue
				}
				key := rec[pi] + "\x00" + m.series
				id, ok := ids[key]
				if !ok {
					id = len(series)
					ids[key] = id
					series = append(series, labels.FromStrings("__name__", m.series, "namespace", "ts",
						"pod", rec[pi], osprey.LabelService, Deployment(rec[pi])))
				}
				samples = append(samples, sample{int64(sec * 1000), id, v})
			}
		})
		if err != nil {
			return time.Time{}, time.Time{}, err
		}
	}
	if len(samples) == 0 {
		return time.Time{}, time.Time{}, fmt.Errorf("threshold alerts: no pod metrics under %s", dir)
	}
	slices.SortStableFunc(samples, func(a, b sample) int { return int(a.ts - b.ts) })
	app := db.Appender(ctx)
	for i, s := range samples {
		if _, err := app.Append(0, series[s.series], s.ts, s.v); err != nil {
			// Duplicates of a series and time are skipped, as a scrape would.
			continue
		}
		if i%10000 == 9999 {
			if err := app.Commit(); err != nil {
				return time.Time{}, time.Time{}, fmt.Errorf("threshold alerts: append: %w", err)
			}
			app = db.Appender(ctx)
		}
	}
	if err := app.Commit(); err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("threshold alerts: append: %w", err)
	}
	return time.UnixMilli(samples[0].ts).UTC(), time.UnixMilli(samples[len(samples)-1].ts).UTC(), nil
}

// CorrelateNotifications posts the notifications (each evaluation's alerts
// in one request, as Prometheus' notifier batches them) to Osprey's
// POST /api/v2/alerts receiver, which commits them to the store and hands
// them to the production correlator (as CorrelateNoise configures it), on a
// virtual clock at each evaluation's time. With windowsOnly, only alerts
// that started inside a fault window are sent. It scores twice: every
// notification received (each repeat and resolution counted, in the
// incident its alert was in), and every distinct alert (a fingerprint's
// firing episode, by its startsAt). burst is correlate.burst.
func CorrelateNotifications(ctx context.Context, ns []Notification, ws []FaultWindow, windowsOnly bool, topo correlate.Topology, burst time.Duration) (notifications, distinct []NoiseMember, err error) {
	var now time.Time
	if len(ns) > 0 {
		now = ns[0].At
	}
	fpIncident := map[osprey.Fingerprint]string{}
	out := osprey.IncidentConsumerFunc(func(_ context.Context, batch []osprey.Incident) error {
		for _, inc := range batch {
			for _, m := range inc.Members {
				fpIncident[m.Fingerprint] = inc.ID
			}
		}
		return nil
	})
	corr, cleanup, err := startNoiseCorrelator(ctx, defaultCorrelate(burst), topo, nil, func() time.Time { return now }, out)
	if err != nil {
		return nil, nil, err
	}
	defer cleanup()
	var handed []osprey.Event
	commit, err := ingest.NewCommitter(ingest.CommitterOptions{
		Store: corr.store,
		Next: osprey.EventConsumerFunc(func(ctx context.Context, batch []osprey.Event) error {
			handed = append(handed, batch...)
			return corr.c.ConsumeEvents(ctx, batch)
		}),
	})
	if err != nil {
		return nil, nil, fmt.Errorf("noise: %w", err)
	}
	recv, err := alerts.New(alerts.Options{Events: commit, Now: func() time.Time { return now }})
	if err != nil {
		return nil, nil, fmt.Errorf("noise: %w", err)
	}
	var v2 http.Handler
	for _, rt := range recv.Routes() {
		if rt.Pattern == alerts.RouteAlertmanagerV2 {
			v2 = rt.Handler
		}
	}
	type episode struct {
		fp    osprey.Fingerprint
		start time.Time
	}
	seen := map[episode]bool{}
	for i := 0; i < len(ns); {
		at := ns[i].At
		var batch []PostableAlert
		for ; i < len(ns) && ns[i].At.Equal(at); i++ {
			if windowsOnly && truth(ws, ns[i].Alert.StartsAt) == Background {
				continue
			}
			batch = append(batch, ns[i].Alert)
		}
		if len(batch) == 0 {
			continue
		}
		now = at
		body, err := json.Marshal(batch)
		if err != nil {
			return nil, nil, fmt.Errorf("noise: %w", err)
		}
		req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/api/v2/alerts", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "Prometheus/3.5.0")
		rec := httptest.NewRecorder()
		handed = handed[:0]
		v2.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			return nil, nil, fmt.Errorf("noise: POST /api/v2/alerts: %d %s", rec.Code, rec.Body.String())
		}
		for _, ev := range handed {
			inc, ok := fpIncident[ev.Fingerprint]
			if !ok {
				inc = "unassigned:" + ev.ID
			}
			m := NoiseMember{Incident: inc, Truth: truth(ws, ev.StartsAt)}
			notifications = append(notifications, m)
			if k := (episode{ev.Fingerprint, ev.StartsAt}); ev.Status == osprey.StatusFiring && !seen[k] {
				seen[k] = true
				distinct = append(distinct, m)
			}
		}
	}
	if err := corr.c.Shutdown(ctx); err != nil {
		return nil, nil, fmt.Errorf("noise: %w", err)
	}
	return notifications, distinct, nil
}

// ThresholdNoise derives d's threshold alert stream (DefaultThresholdRules)
// and correlates it as the anomaly stream is: the alerts that started in
// fault windows by service, the same with topo, and the whole day with
// topo; each with correlate.burst off (the default) and at OptInBurst, and
// scored over every notification received and over distinct alerts. It
// returns nil when d has no metric_threshold folder.
func ThresholdNoise(ctx context.Context, d *NezhaDay, ws []FaultWindow, topo correlate.Topology) ([]NoiseRun, error) {
	ns, err := ThresholdNotifications(ctx, d, DefaultThresholdRules())
	if err != nil || len(ns) == 0 {
		return nil, err
	}
	var out []NoiseRun
	for _, v := range []struct {
		name string
		only bool
		topo correlate.Topology
	}{
		{"fault windows, by service", true, nil},
		{"fault windows, by service + call graph", true, topo},
		{"all day incl. background, by service + call graph", false, topo},
	} {
		for _, burst := range noiseBursts() {
			notes, distinct, err := CorrelateNotifications(ctx, ns, ws, v.only, v.topo, burst)
			if err != nil {
				return nil, err
			}
			name := "threshold alerts, " + v.name + burstName(burst)
			out = append(out,
				NoiseRun{Name: name + ", every notification", Stats: ScoreNoise(notes)},
				NoiseRun{Name: name + ", distinct alerts", Stats: ScoreNoise(distinct)})
		}
	}
	return out, nil
}
