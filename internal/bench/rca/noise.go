package rca

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/config"
	"github.com/osprey-aiops/osprey/internal/correlate"
	"github.com/osprey-aiops/osprey/internal/rca"
	"github.com/osprey-aiops/osprey/internal/store/sqlite"
)

// Background is the truth label of an alert outside every fault window.
const Background = "background"

// OptInBurst is the opt-in correlate.burst setting the bench measures next
// to the default (0, off): one scrape and evaluation interval at
// Prometheus' defaults (docs/rca.md, "Second round").
const OptInBurst = time.Minute

// noiseBursts are the correlate.burst settings every noise figure is
// measured with, the default first.
func noiseBursts() []time.Duration { return []time.Duration{0, OptInBurst} }

// burstName is the suffix of a noise run's name for a burst setting: none
// for the default.
func burstName(burst time.Duration) string {
	if burst <= 0 {
		return ""
	}
	s := burst.String()
	if burst%time.Minute == 0 {
		s = strings.TrimSuffix(s, "0s") // "1m", not "1m0s"
	}
	return ", burst " + s
}

// NoiseMember is one alert after correlation: the incident it landed in
// and the fault it belongs to (Background when none).
type NoiseMember struct {
	Incident string
	Truth    string
}

// NoiseStats is how much the correlator reduced an alert stream, and how
// clean the incidents are.
type NoiseStats struct {
	Alerts     int `json:"alerts"`
	Incidents  int `json:"incidents"`
	Background int `json:"background"`
	// Faults is how many faults have alerts: 1 − Faults/Alerts is the
	// reduction of a perfect correlator on a stream without background.
	Faults int `json:"faults"`
	// Reduction is 1 − Incidents/Alerts.
	Reduction float64 `json:"reduction"`
	// Purity is, per incident, the share of its members that belong to its
	// majority truth label, averaged weighted by members (= members in
	// their incident's majority label / all members).
	Purity float64 `json:"purity"`
}

// ScoreNoise computes NoiseStats over correlated alerts.
func ScoreNoise(members []NoiseMember) NoiseStats {
	s := NoiseStats{Alerts: len(members)}
	counts := map[string]map[string]int{}
	faults := map[string]bool{}
	for _, m := range members {
		if m.Truth == Background {
			s.Background++
		} else if !faults[m.Truth] {
			faults[m.Truth] = true
			s.Faults++
		}
		if counts[m.Incident] == nil {
			counts[m.Incident] = map[string]int{}
		}
		counts[m.Incident][m.Truth]++
	}
	s.Incidents = len(counts)
	if s.Alerts == 0 {
		return s
	}
	majority := 0
	for _, c := range counts {
		best := 0
		for _, n := range c {
			best = max(best, n)
		}
		majority += best
	}
	s.Reduction = 1 - float64(s.Incidents)/float64(s.Alerts)
	s.Purity = float64(majority) / float64(s.Alerts)
	return s
}

// FaultWindow is the ground-truth window of one fault: an alert opened in
// [From, To] belongs to it.
type FaultWindow struct {
	Name     string
	From, To time.Time
}

// truth returns the fault whose window contains t (the latest-injected
// one when windows overlap), else Background.
func truth(ws []FaultWindow, t time.Time) string {
	name := Background
	var from time.Time
	for _, w := range ws {
		if !t.Before(w.From) && !t.After(w.To) && (name == Background || w.From.After(from)) {
			name, from = w.Name, w.From
		}
	}
	return name
}

// CorrelateNoise feeds an anomaly stream (opens and resolves, in emission
// order, their times never decreasing) through the production correlator
// with its default configuration (config.Default().Correlate) on a virtual
// clock set to each anomaly's time, the anomalies of one instant in one
// ConsumeAnomalies call (as the detector emits those of one sample time),
// and returns each alert (distinct anomaly id that opened) with the
// incident it joined and its truth label. With windowsOnly, only the alerts
// opened inside a fault window are fed (the fault-derived stream). topo,
// if not nil, is the call graph the correlator may join neighbours by (as
// the app's learnt topology); burst is correlate.burst (0, the default,
// disables burst joins; OptInBurst is the setting docs/rca.md measures).
func CorrelateNoise(ctx context.Context, stream []osprey.Anomaly, ws []FaultWindow, windowsOnly bool, topo correlate.Topology, burst time.Duration) ([]NoiseMember, error) {
	var now time.Time
	if len(stream) > 0 {
		now = stream[0].StartsAt
	}
	label := map[string]string{}  // alert id → truth
	assign := map[string]string{} // alert id → incident id
	sink := osprey.IncidentConsumerFunc(func(_ context.Context, batch []osprey.Incident) error {
		for _, inc := range batch {
			for _, m := range inc.Members {
				for _, ref := range []string{m.FirstRef, m.LastRef} {
					if _, ok := label[ref]; ok {
						if _, done := assign[ref]; !done {
							assign[ref] = inc.ID
						}
					}
				}
			}
		}
		return nil
	})
	nc, cleanup, err := startNoiseCorrelator(ctx, defaultCorrelate(burst), topo, nil, func() time.Time { return now }, sink)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	corr := nc.c
	fed := map[string]bool{}
	var order []string
	var batch []osprey.Anomaly
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := corr.ConsumeAnomalies(ctx, batch)
		batch = batch[:0]
		if err != nil {
			return fmt.Errorf("noise: correlate: %w", err)
		}
		return nil
	}
	for _, a := range stream {
		at := a.StartsAt
		if a.Active() {
			t := truth(ws, a.StartsAt)
			if windowsOnly && t == Background {
				continue
			}
			if !fed[a.ID] {
				fed[a.ID] = true
				order = append(order, a.ID)
				label[a.ID] = t
			}
		} else {
			if !fed[a.ID] {
				continue
			}
			at = a.EndsAt
		}
		// The anomalies of one instant are one batch, as the detector
		// emits those of one sample time.
		if at.After(now) {
			if err := flush(); err != nil {
				return nil, err
			}
			now = at
		}
		batch = append(batch, a)
	}
	if err := flush(); err != nil {
		return nil, err
	}
	if err := corr.Shutdown(ctx); err != nil {
		return nil, fmt.Errorf("noise: %w", err)
	}
	out := make([]NoiseMember, 0, len(order))
	for _, id := range order {
		inc, ok := assign[id]
		if !ok {
			inc = "unassigned:" + id // suppressed: counts as its own incident
		}
		out = append(out, NoiseMember{Incident: inc, Truth: label[id]})
	}
	return out, nil
}

// defaultCorrelate is config.Default()'s correlate section (window,
// group-by, resolve grace, flapping; no rules or maintenance) with burst as
// correlate.burst: the settings of every noise figure.
func defaultCorrelate(burst time.Duration) config.CorrelateConfig {
	cc := config.Default().Correlate
	cc.Burst = burst
	return cc
}

// noiseCorrelator is a production correlator on a fresh SQLite store.
type noiseCorrelator struct {
	c     *correlate.Correlator
	store *sqlite.Store
}

// startNoiseCorrelator starts correlate.New with the correlate settings cc
// (no silences), on a fresh SQLite store in a temporary directory, on the
// clock now. causes, if not nil, ranks each
// incident's root-cause candidates (as serve's rca.IncidentRanker). cleanup
// closes the store and removes the directory.
func startNoiseCorrelator(ctx context.Context, cc config.CorrelateConfig, topo correlate.Topology, causes correlate.CauseRanker, now func() time.Time, out osprey.IncidentConsumer) (*noiseCorrelator, func(), error) {
	dir, err := os.MkdirTemp("", "osprey-bench-noise-")
	if err != nil {
		return nil, nil, fmt.Errorf("noise: %w", err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(dir, "osprey.db"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, fmt.Errorf("noise: %w", err)
	}
	cleanup := func() {
		st.Close()
		os.RemoveAll(dir)
	}
	opts, err := cc.Options()
	if err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("noise: %w", err)
	}
	opts.Store, opts.Topology, opts.Causes = st, topo, causes
	opts.Now, opts.Out, opts.CatchUpInterval = now, out, 24*time.Hour
	corr, err := correlate.New(opts)
	if err == nil {
		err = corr.Start(ctx)
	}
	if err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("noise: %w", err)
	}
	return &noiseCorrelator{c: corr, store: st}, func() {
		_ = corr.Shutdown(context.WithoutCancel(ctx)) // idempotent
		cleanup()
	}, nil
}

// faultWindows returns the ground-truth windows of d's faults: the same
// [inject − WindowBefore, inject + WindowAfter] the ranker's evidence uses
// (Nezha gives no fault duration, and effects precede inject_time).
func faultWindows(faults []Fault) []FaultWindow {
	ws := make([]FaultWindow, 0, len(faults))
	for _, f := range faults {
		ws = append(ws, FaultWindow{Name: f.Timestamp, From: f.Time.Add(-WindowBefore), To: f.Time.Add(WindowAfter)})
	}
	sort.Slice(ws, func(i, j int) bool { return ws[i].From.Before(ws[j].From) })
	return ws
}

// SumNoise pools the stats of several days (incidents never span days):
// counts add, reduction and purity are recomputed over the pooled alerts.
func SumNoise(days []NoiseStats) NoiseStats {
	var s NoiseStats
	var majority float64
	for _, d := range days {
		s.Alerts += d.Alerts
		s.Incidents += d.Incidents
		s.Background += d.Background
		s.Faults += d.Faults
		majority += d.Purity * float64(d.Alerts)
	}
	if s.Alerts > 0 {
		s.Reduction = 1 - float64(s.Incidents)/float64(s.Alerts)
		s.Purity = majority / float64(s.Alerts)
	}
	return s
}

// NoiseRun is one named noise figure of a day.
type NoiseRun struct {
	Name  string
	Stats NoiseStats
}

// SumNoiseRuns pools the runs of several days by name (SumNoise), in the
// order the names first appear.
func SumNoiseRuns(days [][]NoiseRun) []NoiseRun {
	var names []string
	by := map[string][]NoiseStats{}
	for _, runs := range days {
		for _, r := range runs {
			if _, ok := by[r.Name]; !ok {
				names = append(names, r.Name)
			}
			by[r.Name] = append(by[r.Name], r.Stats)
		}
	}
	out := make([]NoiseRun, 0, len(names))
	for _, n := range names {
		out = append(out, NoiseRun{Name: n, Stats: SumNoise(by[n])})
	}
	return out
}

// graphTopology is an rca.Graph as the correlator's Topology.
type graphTopology struct{ g *rca.Graph }

// Neighbours returns the callers and callees of service.
func (t graphTopology) Neighbours(service string) (callers, callees []string) {
	return t.g.Callers(service), t.g.Callees(service)
}
