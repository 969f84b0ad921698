package rca

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/config"
	"github.com/osprey-aiops/osprey/internal/detect/metric"
	"github.com/osprey-aiops/osprey/internal/ingest"
	"github.com/osprey-aiops/osprey/internal/metricstore"
	"github.com/osprey-aiops/osprey/internal/rca"
	"github.com/osprey-aiops/osprey/internal/topology"
)

// petshopNormalGap is the gap, in steps, left between two normal periods
// laid out one after another before an issue: more than the three steps
// across which rca.HistoryEvidence still joins samples into one segment,
// so that no change is taken across two periods (as the harness's
// refSet keeps each normal period a segment of its own).
const petshopNormalGap = 10

// petshopServeOptions are the PetShop serve path's ablation switches; the
// zero value is the default (docs/rca.md, "Session 9: PetShop through
// serve").
type petshopServeOptions struct {
	// poolAll lays out every normal period of the corpus before each
	// issue, as the harness's references do, not only the scenario's own
	// (when it has one).
	poolAll bool
	// noMetricLabel sends the alert without the symptom metric's name:
	// the comparison then reads every series of the services.
	noMetricLabel bool
	// alertAtDelivery has the alert received when the row holding the
	// symptom's timestamp is delivered (petshopAlertReceived), not at the
	// timestamp itself.
	alertAtDelivery bool
	// severity is the alert's; zero means osprey.SeverityCritical.
	severity osprey.Severity
	// prior also stores the scenario's earlier issues at their own times
	// (priorIssues), after the normal period. Measured in session 9
	// (docs/rca.md, "Session 9: alerts are symptoms"): AC@1 up, AC@3
	// down, Avg@5 about the same; not the default.
	prior bool
}

// PetShopServeStats counts what the serve path stored and computed over a
// scenario, for the bench's report.
type PetShopServeStats struct {
	// Samples stored in the metric store (normal periods and issue rows)
	// and Rejected by it.
	Samples, Rejected int
	// Computations of rca.HistoryEvidence, and the Evidence its last
	// computation per issue held, summed over the issues.
	Computations, Evidence int
	// NoIncident counts the issues for which no incident was opened.
	NoIncident int
}

// Add adds o's counts to s.
func (s *PetShopServeStats) Add(o PetShopServeStats) {
	s.Samples += o.Samples
	s.Rejected += o.Rejected
	s.Computations += o.Computations
	s.Evidence += o.Evidence
	s.NoIncident += o.NoIncident
}

// ReplayPetShopServe ranks every issue of a scenario through the
// production stages as osprey serve wires them, each issue in a fresh
// metric store on its own virtual clock (docs/rca.md, "Session 9: PetShop
// through serve"):
//
//   - the metric store (internal/metricstore) holds the issue's series as
//     {__name__: <metric>_<statistic>, service: <component>}, and before
//     them the normal period as "how the system normally behaves": the
//     scenario's own (normals, the corpus's pooled ones, for a scenario
//     without one), shifted in time to end one step before the issue's
//     first row (PetShop recorded its normal periods four months after
//     the issues, beyond rca.history.lookback). Several periods are laid
//     out one before the other with a gap, each a segment of its own;
//   - the call graph is graph.csv's calls, declared (topology.Options.
//     Declared, as topology.dependencies configures them): read through
//     Graph.RankGraph by the ranker and Graph.Neighbours by the
//     correlator;
//   - the symptom (target.json's node and metric, at its timestamp) is
//     one firing Alertmanager-like event, labelled service=<node> and
//     __name__=<metric>_<agg>, committed to the store and handed to the
//     correlator (config's correlate section) as the events receiver
//     does;
//   - the correlator ranks with rca.IncidentRanker (Config.RCA.Concurrent's
//     wrapping) whose Extra is rca.HistoryEvidence (config's rca.history):
//     the comparison of the coarse series of the incident's services and
//     their call-graph neighbours with their normal period.
//
// The issue's rows arrive as a cloud metrics exporter delivers them: a
// 5-minute row labelled t is stored at t + step; the alert at its
// timestamp. After each arrival the history's pending work (refresh and
// queued computations, each with its rerank) is run in this goroutine
// (HistoryEvidence.RunPending), so the run is deterministic. An issue's
// ranking is the causes of its incident in the last snapshot.
func ReplayPetShopServe(ctx context.Context, sc *PetShopScenario, normals []*Table, opt Options) (*ScenarioResult, PetShopServeStats, error) {
	return replayPetShopServe(ctx, sc, normals, opt, petshopServeOptions{})
}

func replayPetShopServe(ctx context.Context, sc *PetShopScenario, normals []*Table, opt Options, so petshopServeOptions) (*ScenarioResult, PetShopServeStats, error) {
	if so.severity == osprey.SeverityUnknown {
		so.severity = osprey.SeverityCritical
	}
	cfg := config.Default()
	if opt.Config != nil {
		cfg = *opt.Config
	}
	rankCfg := rca.DefaultConfig()
	if opt.Ranker != nil {
		rankCfg = *opt.Ranker
	}
	refs := normals
	if sc.Normal != nil && !so.poolAll {
		refs = []*Table{sc.Normal}
	}
	refs = slices.DeleteFunc(slices.Clone(refs), func(t *Table) bool { return t == nil || len(t.Times) == 0 })
	res := &ScenarioResult{Warm: len(refs) > 0, Borrowed: len(refs) > 0 && sc.Normal == nil}
	var st PetShopServeStats
	var declared []topology.EdgeKey
	for _, caller := range sc.Graph.Services() {
		for _, callee := range sc.Graph.Callees(caller) {
			declared = append(declared, topology.EdgeKey{Caller: caller, Callee: callee})
		}
	}
	for i := range sc.Issues {
		if err := ctx.Err(); err != nil {
			return nil, st, err
		}
		is := &sc.Issues[i]
		var prior []*Table
		if so.prior {
			prior = priorIssues(sc.Issues, is)
		}
		causes, err := servePetShopIssue(ctx, sc.Dir, is, refs, prior, declared, &cfg, rankCfg, so, &st)
		if err != nil {
			return nil, st, fmt.Errorf("petshop serve %s/%s: %w", sc.Name, is.ID, err)
		}
		c := Case{ID: sc.Name + "/" + is.ID, Truth: is.RootCause, Type: sc.Name + " " + is.Target, Group: sc.Name}
		for _, cs := range causes {
			if !slices.Contains(c.Ranking, cs.Name) {
				c.Ranking = append(c.Ranking, cs.Name)
			}
		}
		res.Cases = append(res.Cases, c)
		res.Causes = append(res.Causes, causes)
		if opt.Progress != nil {
			opt.Progress(1)
		}
	}
	return res, st, nil
}

// petshopSeriesName is a column's metric name in the store:
// <metric>_<statistic>, with every character Prometheus does not allow in
// a metric name replaced by '_'.
func petshopSeriesName(metricName, statistic string) string {
	return sanitizeMetricName(metricName + "_" + statistic)
}

func sanitizeMetricName(s string) string {
	b := []byte(s)
	for i, c := range b {
		ok := c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9')
		if !ok {
			b[i] = '_'
		}
	}
	return string(b)
}

// tableSeries returns the rows [lo, hi) of t as series, their times
// shifted by shift; empty cells are left out.
func tableSeries(t *Table, lo, hi int, shift time.Duration) []osprey.Series {
	out := make([]osprey.Series, 0, len(t.Cols))
	for j, c := range t.Cols {
		s := osprey.Series{Labels: osprey.Labels{
			osprey.LabelMetric:  petshopSeriesName(c.Metric, c.Statistic),
			osprey.LabelService: c.Component,
		}}
		for i := lo; i < hi; i++ {
			v := t.Values[i][j]
			if math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			s.Samples = append(s.Samples, osprey.Sample{TimestampMs: t.Times[i].Add(shift).UnixMilli(), Value: v})
		}
		if len(s.Samples) > 0 {
			out = append(out, s)
		}
	}
	return out
}

// servePetShopIssue replays one issue (see ReplayPetShopServe) and returns
// the causes of its incident's last snapshot (nil if none opened).
func servePetShopIssue(ctx context.Context, scDir string, is *PetShopIssue, refs, prior []*Table, declared []topology.EdgeKey, cfg *config.Config, rankCfg rca.Config,
	so petshopServeOptions, st *PetShopServeStats) (causes []osprey.Cause, err error) {
	t := is.Metrics
	if len(t.Times) == 0 {
		return nil, nil
	}
	sym, err := readPetShopSymptom(filepath.Join(scDir, filepath.FromSlash(is.ID), "target.json"))
	if err != nil {
		return nil, err
	}
	step := medianStep(t.Times)
	if step <= 0 {
		step = 5 * time.Minute
	}
	dir, err := os.MkdirTemp("", "osprey-bench-petshop-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	ms, err := metricstore.New(metricstore.Options{Dir: dir})
	if err != nil {
		return nil, err
	}
	if err := ms.Start(ctx); err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, ms.Shutdown(context.WithoutCancel(ctx))) }()
	store := func(batch []osprey.Series) error {
		r, err := ms.AppendSeries(ctx, batch)
		if err != nil {
			return fmt.Errorf("store samples: %w", err)
		}
		st.Samples += r.Appended()
		st.Rejected += r.Rejected()
		return nil
	}
	// The normal periods, the last ending one step before the issue's
	// first row, each earlier one a gap before the next; stored oldest
	// first (the store takes a series' samples in time order).
	var laid []*Table
	var shifts []time.Duration
	first := t.Times[0]
	if len(prior) > 0 {
		first = prior[0].Times[0]
	}
	end := first.Add(-step)
	for k := len(refs) - 1; k >= 0; k-- {
		n := refs[k]
		if medianStep(n.Times) != step {
			continue // the comparison needs the issue's step
		}
		shift := end.Sub(n.Times[len(n.Times)-1])
		laid, shifts = append(laid, n), append(shifts, shift)
		end = n.Times[0].Add(shift).Add(-petshopNormalGap * step)
	}
	for k := len(laid) - 1; k >= 0; k-- {
		if err := store(tableSeries(laid[k], 0, len(laid[k].Times), shifts[k])); err != nil {
			return nil, err
		}
	}
	// The scenario's earlier issues at their own times: the system's
	// recent past as a metric store would hold it (priorIssues).
	for _, p := range prior {
		if err := store(tableSeries(p, 0, len(p.Times), 0)); err != nil {
			return nil, err
		}
	}

	// The virtual clock starts when the first row of the issue arrives.
	now := t.Times[0].Add(step)
	clock := func() time.Time { return now }
	graph := topology.New(topology.Options{Now: clock, Declared: declared})
	incidents := &incidentLog{last: map[string]*snapshot{}}
	base := rca.IncidentRanker{Graph: graph.RankGraph, Config: rankCfg}
	var hist *rca.HistoryEvidence
	var rerank func(context.Context, string) error
	if hc := cfg.RCA.History; hc.Enabled {
		o := hc.Options(cfg.Detect.Enabled)
		o.History = rca.TSDBHistory{Queryable: ms}
		o.Graph = graph.RankGraph
		o.Warmup = metric.DefaultConfig().Warmup
		o.Rerank = func(ctx context.Context, id string) error { return rerank(ctx, id) }
		o.Now = clock
		hist, err = rca.NewHistoryEvidence(o)
		if err != nil {
			return nil, fmt.Errorf("rca.history: %w", err)
		}
		base.Extra = hist
	}
	nc, cleanup, err := startNoiseCorrelator(ctx, cfg.Correlate, graph, cfg.RCA.Concurrent.Ranker(base), clock, incidents)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	rerank = nc.c.Rerank
	commit, err := ingest.NewCommitter(ingest.CommitterOptions{Store: nc.store, Next: nc.c})
	if err != nil {
		return nil, err
	}
	pending := func() {
		if hist != nil {
			st.Computations += hist.RunPending(ctx)
		}
	}

	onset := is.Onset
	if onset.IsZero() {
		onset = now // no timestamp: alerted when the first row arrives
	}
	recv := onset
	if so.alertAtDelivery {
		recv = petshopAlertReceived(t.Times, step, onset)
	}
	alerted := false
	send := func() error {
		if recv.After(now) {
			now = recv
		}
		alerted = true
		if err := sendPetShopAlert(ctx, commit, sym, onset, now, so, &cfg.Server); err != nil {
			return err
		}
		pending()
		return nil
	}
	for i := range t.Times {
		at := t.Times[i].Add(step) // a row is delivered when its period ended
		if !alerted && recv.Before(at) {
			if err := send(); err != nil {
				return nil, err
			}
		}
		if at.After(now) {
			now = at
		}
		if err := store(tableSeries(t, i, i+1, 0)); err != nil {
			return nil, err
		}
		pending()
		if !alerted && !recv.After(at) {
			if err := send(); err != nil {
				return nil, err
			}
		}
	}
	if !alerted {
		if err := send(); err != nil {
			return nil, err
		}
	}
	if err := nc.c.Shutdown(ctx); err != nil {
		return nil, err
	}
	incs := incidents.inOrder()
	if len(incs) == 0 {
		st.NoIncident++
		return nil, nil
	}
	inc := incs[0]
	if hist != nil {
		st.Evidence += len(hist.Evidence(&inc))
	}
	return inc.Causes, nil
}

// sendPetShopAlert commits the issue's symptom as one firing alert,
// received at onset, and hands it to the correlator (through commit, as
// the events receiver does).
func sendPetShopAlert(ctx context.Context, commit *ingest.Committer, sym petshopSymptom, onset, received time.Time, so petshopServeOptions, lim *config.ServerConfig) error {
	labels := osprey.Labels{osprey.LabelService: sym.Node}
	if !so.noMetricLabel && sym.Metric != "" {
		labels[osprey.LabelMetric] = petshopSeriesName(sym.Metric, sym.Agg)
	}
	name := "SLOViolation"
	if sym.Metric != "" {
		name = strings.ToUpper(sym.Metric[:1]) + sym.Metric[1:] + "SLOViolation"
	}
	ev := osprey.Event{
		Source:      "alertmanager",
		Name:        name,
		Labels:      labels,
		Annotations: map[string]string{"summary": fmt.Sprintf("%s %s (%s) violates its SLO", sym.Node, sym.Metric, sym.Agg)},
		Severity:    so.severity,
		Status:      osprey.StatusFiring,
		StartsAt:    onset,
	}
	if err := ingest.PrepareEvent(&ev, lim, received); err != nil {
		return fmt.Errorf("alert: %w", err)
	}
	return commit.ConsumeEvents(ctx, []osprey.Event{ev})
}

// petshopSymptom is target.json's target: the node and the metric (with
// its statistic) whose SLO violation was observed.
type petshopSymptom struct {
	Node, Metric, Agg string
}

// readPetShopSymptom reads an issue's target.json.
func readPetShopSymptom(path string) (petshopSymptom, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return petshopSymptom{}, err
	}
	var tg struct {
		Target petshopSymptom `json:"target"`
	}
	if err := json.Unmarshal(b, &tg); err != nil {
		return petshopSymptom{}, fmt.Errorf("%s: %w", path, err)
	}
	return tg.Target, nil
}

// petshopAlertReceived is when an alert on the symptom reaches Osprey: an
// alerting rule over 5-minute cloud metrics sees the violating value only
// once the row holding the symptom's timestamp is delivered, at the end
// of its period (rows are labelled with their start). An onset outside
// the rows is received at once.
func petshopAlertReceived(times []time.Time, step time.Duration, onset time.Time) time.Time {
	for _, ts := range times {
		if !onset.Before(ts) && onset.Before(ts.Add(step)) {
			return ts.Add(step)
		}
	}
	return onset
}

// priorIssues returns the tables of the issues of issues (a scenario's)
// whose rows all come before is's first row, oldest first. They are the
// system's recent past at their own times, as its metric store would
// hold them when is happens: the scenario's normal period was recorded
// months after its issues (PetShop's noissue folder), so with it alone
// every series whose level moved in between deviates in every comparison.
// That they hold other faults is what a production history holds too;
// the comparison is robust to them (medians, segments).
func priorIssues(issues []PetShopIssue, is *PetShopIssue) []*Table {
	if len(is.Metrics.Times) == 0 {
		return nil
	}
	start := is.Metrics.Times[0]
	var out []*Table
	for i := range issues {
		t := issues[i].Metrics
		if &issues[i] == is || len(t.Times) == 0 || !t.Times[len(t.Times)-1].Before(start) {
			continue
		}
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b *Table) int { return a.Times[0].Compare(b.Times[0]) })
	// Overlapping windows: keep the earlier, so the store gets each
	// series' samples in time order.
	kept := out[:0]
	for _, t := range out {
		if len(kept) > 0 && !kept[len(kept)-1].Times[len(kept[len(kept)-1].Times)-1].Before(t.Times[0]) {
			continue
		}
		kept = append(kept, t)
	}
	return kept
}
