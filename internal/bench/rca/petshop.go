package rca

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/detect/metric"
	"github.com/osprey-aiops/osprey/internal/rca"
)

// PetShopScenario is one scenario folder of the PetShop dataset:
// graph.csv, noissue/metrics.csv (absent for some scenarios) and
// {train,test}/issue_N/{metrics.csv,target.json}.
type PetShopScenario struct {
	Name, Dir string
	Graph     *rca.Graph
	// Normal is the normal-period table, nil when absent.
	Normal *Table
	Issues []PetShopIssue
}

// PetShopIssue is one injected issue.
type PetShopIssue struct {
	// ID is "<split>/issue_N".
	ID string
	// Metrics is the issue's table.
	Metrics *Table
	// RootCause is the injected component; Target the observed symptom's
	// metric (latency or availability).
	RootCause, Target string
	// Onset is the target's timestamp: when the symptom was observed, the
	// incident's start (zero if absent).
	Onset time.Time
}

// Table is a PetShop metrics.csv: one column per (component, metric,
// statistic), one row per timestamp.
type Table struct {
	Cols  []Column
	Times []time.Time
	// Values[row][col]; NaN where empty.
	Values [][]float64
}

// Column names a table column.
type Column struct{ Component, Metric, Statistic string }

// FindPetShop finds every scenario (a folder with graph.csv) under dir.
func FindPetShop(dir string) ([]PetShopScenario, error) {
	var out []PetShopScenario
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || d.Name() != "graph.csv" {
			return nil
		}
		sc, err := loadScenario(filepath.Dir(path))
		if err != nil {
			return err
		}
		out = append(out, sc)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no PetShop scenario (graph.csv) under %s", dir)
	}
	slices.SortFunc(out, func(a, b PetShopScenario) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func loadScenario(dir string) (PetShopScenario, error) {
	sc := PetShopScenario{Name: filepath.Base(dir), Dir: dir}
	g, err := loadAdjacency(filepath.Join(dir, "graph.csv"))
	if err != nil {
		return sc, err
	}
	sc.Graph = g
	if t, err := loadTable(filepath.Join(dir, "noissue", "metrics.csv")); err == nil {
		sc.Normal = t
	}
	for _, split := range []string{"train", "test"} {
		ents, _ := os.ReadDir(filepath.Join(dir, split))
		for _, e := range ents {
			if !e.IsDir() {
				continue
			}
			idir := filepath.Join(dir, split, e.Name())
			t, err := loadTable(filepath.Join(idir, "metrics.csv"))
			if err != nil {
				continue // degrade: an unreadable issue is skipped
			}
			b, err := os.ReadFile(filepath.Join(idir, "target.json"))
			if err != nil {
				continue
			}
			var tg struct {
				Target struct {
					Metric    string
					Timestamp float64
				} `json:"target"`
				RootCause struct{ Node string } `json:"root_cause"`
			}
			if err := json.Unmarshal(b, &tg); err != nil {
				return sc, fmt.Errorf("%s: %w", idir, err)
			}
			is := PetShopIssue{ID: split + "/" + e.Name(), Metrics: t, RootCause: tg.RootCause.Node, Target: tg.Target.Metric}
			if tg.Target.Timestamp > 0 {
				is.Onset = time.Unix(int64(tg.Target.Timestamp), 0).UTC()
			}
			sc.Issues = append(sc.Issues, is)
		}
	}
	slices.SortFunc(sc.Issues, func(a, b PetShopIssue) int { return naturalCompare(a.ID, b.ID) })
	return sc, nil
}

// naturalCompare orders "test/issue_2" before "test/issue_10".
func naturalCompare(a, b string) int {
	ia, ib := strings.LastIndexByte(a, '_'), strings.LastIndexByte(b, '_')
	if ia > 0 && ib > 0 && a[:ia] == b[:ib] {
		na, e1 := strconv.Atoi(a[ia+1:])
		nb, e2 := strconv.Atoi(b[ib+1:])
		if e1 == nil && e2 == nil {
			return na - nb
		}
	}
	return strings.Compare(a, b)
}

// loadAdjacency reads a dataset's graph.csv, an adjacency matrix whose
// cells say that a call exists (0 or 1), not how many were made: its calls
// are declared ones (rca.Graph.AddDeclaredCall), as the serve path's
// topology.dependencies makes them (docs/rca.md, "Session 10: a declared
// call's share of the walk").
func loadAdjacency(path string) (*rca.Graph, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	g := rca.NewGraph()
	if len(recs) == 0 {
		return g, nil
	}
	head := recs[0]
	for _, row := range recs[1:] {
		if len(row) == 0 {
			continue
		}
		g.AddService(row[0])
		for j := 1; j < len(row) && j < len(head); j++ {
			if w, err := strconv.ParseFloat(row[j], 64); err == nil && w != 0 {
				g.AddDeclaredCall(row[0], head[j], math.Abs(w))
			}
		}
	}
	return g, nil
}

func loadTable(path string) (*Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(recs) < 4 {
		return nil, fmt.Errorf("%s: want three header rows", path)
	}
	t := &Table{}
	n := len(recs[0])
	for j := 1; j < n; j++ {
		t.Cols = append(t.Cols, Column{recs[0][j], at(recs[1], j), at(recs[2], j)})
	}
	for _, row := range recs[3:] {
		sec, err := strconv.ParseFloat(at(row, 0), 64)
		if err != nil {
			continue // the unix_timestamp label row
		}
		vals := make([]float64, n-1)
		for j := 1; j < n; j++ {
			v, err := strconv.ParseFloat(at(row, j), 64)
			if err != nil {
				v = math.NaN()
			}
			vals[j-1] = v
		}
		t.Times = append(t.Times, time.Unix(int64(sec), 0).UTC())
		t.Values = append(t.Values, vals)
	}
	return t, nil
}

func at(row []string, j int) string {
	if j < len(row) {
		return row[j]
	}
	return ""
}

// ScenarioResult is the outcome of one scenario.
type ScenarioResult struct {
	Cases  []Case
	Causes [][]osprey.Cause
	// Warm says whether the issues were compared with a normal period;
	// without one the harness falls back to the change against the
	// issue's first row. Borrowed says the normal periods were other
	// scenarios' (the scenario has none of its own).
	Warm, Borrowed bool
}

// PetShopNormals returns the normal periods of the scenarios that have
// one: the fault-free recordings of the system, under each scenario's
// traffic.
func PetShopNormals(scs []PetShopScenario) []*Table {
	var out []*Table
	for i := range scs {
		if scs[i].Normal != nil {
			out = append(out, scs[i].Normal)
		}
	}
	return out
}

// ReplayPetShop ranks every issue of a scenario; normals are the
// corpus's normal periods (PetShopNormals). See replayPetShop.
func ReplayPetShop(sc *PetShopScenario, normals []*Table, cfg rca.Config) *ScenarioResult {
	return replayPetShop(sc, normals, cfg, petshopOptions{})
}

// replayPetShop ranks every issue of a scenario with the scenario's call
// graph. A series whose own normal period runs up to the issue (no gap
// longer than a few steps, at least the detector's warm-up) would be
// judged by the production streaming detector: the issue continues from a
// copy of the model fed the normal period (a Model is a plain value), and
// the alarms its rows raise are the evidence. Every other series, and all
// of PetShop's (its normal periods were recorded months after the
// issues), is compared with its references directly (refSet.evidence):
// the detector, cold or fed a period that does not reach the issue, would
// see the issue's few 5-minute rows as its first. The references of a
// series are all of the corpus's normal periods of it (normals: the same
// system recorded fault-free under each scenario's traffic), so a
// scenario without a normal period of its own is still compared; with no
// normal period at all, the harness degrades to the change against the
// issue's first row.
func replayPetShop(sc *PetShopScenario, normals []*Table, cfg rca.Config, opt petshopOptions) *ScenarioResult {
	mcfg := metric.DefaultConfig()
	own := sc.Normal
	var refs *refSet
	switch {
	case opt.noOthers, opt.ownNormal && own != nil:
		refs = newRefSet(own)
	default:
		refs = newRefSet(normals...)
	}
	res := &ScenarioResult{Warm: len(refs.refs) > 0}
	res.Borrowed = res.Warm && own == nil
	// The streaming models are built only if some issue can use them.
	stream := func(is *PetShopIssue) bool {
		return own != nil && len(own.Times) > mcfg.Warmup && (opt.stream || reaches(own.Times, is.Metrics.Times, mcfg.Warmup))
	}
	warm := map[Column]*metric.Model{}
	if slices.ContainsFunc(sc.Issues, func(is PetShopIssue) bool { return stream(&is) }) {
		for j, c := range own.Cols {
			m := &metric.Model{}
			for i, ts := range own.Times {
				m.Update(&mcfg, ts.UnixMilli(), own.Values[i][j])
			}
			warm[c] = m
		}
	}
	for _, is := range sc.Issues {
		var ev []rca.Evidence
		switch {
		case stream(&is):
			ev = streamEvidence(&is, warm, &mcfg, opt)
		case res.Warm:
			ev = refs.evidence(&is, opt)
		default:
			ev = changeEvidence(&is, opt)
		}
		causes := rca.Rank(sc.Graph, ev, cfg)
		c := Case{ID: sc.Name + "/" + is.ID, Truth: is.RootCause, Type: sc.Name + " " + is.Target, Group: sc.Name}
		for _, cs := range causes {
			c.Ranking = append(c.Ranking, cs.Name)
		}
		res.Cases = append(res.Cases, c)
		res.Causes = append(res.Causes, causes)
	}
	return res
}

// symptomMetric reports whether column c counts for the issue: a series
// of the metric of the issue's symptom (every metric when the issue names
// none, or with allMetrics).
func symptomMetric(is *PetShopIssue, c Column, opt petshopOptions) bool {
	return opt.allMetrics || is.Target == "" || c.Metric == is.Target
}

// streamEvidence feeds the issue's rows into copies of the streaming
// models fed the normal period; the alarms are the evidence.
func streamEvidence(is *PetShopIssue, warm map[Column]*metric.Model, mcfg *metric.Config, opt petshopOptions) []rca.Evidence {
	var ev []rca.Evidence
	t := is.Metrics
	for j, c := range t.Cols {
		m0, ok := warm[c]
		if !ok || !symptomMetric(is, c, opt) {
			continue
		}
		labels := osprey.Labels{osprey.LabelService: c.Component, osprey.LabelMetric: c.Metric + "_" + c.Statistic}
		m := *m0
		for i, ts := range t.Times {
			v := t.Values[i][j]
			r := m.Update(mcfg, ts.UnixMilli(), v)
			if r.Warm && r.Score >= mcfg.Threshold {
				a := metric.NewAnomaly(mcfg, labels, labels.Fingerprint(), osprey.Sample{TimestampMs: ts.UnixMilli(), Value: v}, &r)
				a.ID = fmt.Sprintf("%s/%s/%d", c.Component, labels[osprey.LabelMetric], ts.Unix())
				if e, ok := rca.FromAnomaly(&a, osprey.LabelService); ok {
					ev = append(ev, e)
				}
			}
		}
	}
	return ev
}

// changeEvidence is the degraded evidence without any normal period: each
// row's relative change against the issue's first row.
func changeEvidence(is *PetShopIssue, opt petshopOptions) []rca.Evidence {
	var ev []rca.Evidence
	t := is.Metrics
	for j, c := range t.Cols {
		if !symptomMetric(is, c, opt) {
			continue
		}
		name := c.Metric + "_" + c.Statistic
		for i := 1; i < len(t.Times); i++ {
			if s := relChange(t.Values[0][j], t.Values[i][j]); s > 0 {
				ev = append(ev, rca.Evidence{ID: fmt.Sprintf("%s/%s/%d", c.Component, name, t.Times[i].Unix()), Service: c.Component, Kind: rca.KindMetric,
					Signal: name + " changed against the issue's first row", Score: s, Onset: t.Times[i]})
			}
		}
	}
	return ev
}

// relChange scores the relative change of v against ref: 0 below a 50 %
// change, rising to 1 at a 16-fold change.
func relChange(ref, v float64) float64 {
	if math.IsNaN(ref) || math.IsNaN(v) {
		return 0
	}
	r := math.Abs(v-ref) / (math.Abs(ref) + 1e-9)
	if r < 0.5 {
		return 0
	}
	return min(1, 0.5+0.5*math.Log2(1+r)/4)
}
