package rca

import (
	"context"
	"encoding/gob"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/correlate"
	"github.com/osprey-aiops/osprey/internal/detect/metric"
	"github.com/osprey-aiops/osprey/internal/rca"
)

// noiseCache is what TestNoiseStreams needs of a Nezha day: the metric
// detector's anomaly stream, the call graph's edges and the threshold
// alert notifications, saved so that grouping changes can be measured on
// one fixed stream (the detector changes under other work).
type noiseCache struct {
	Stream        []osprey.Anomaly
	Edges         [][2]string
	Notifications []Notification
	Windows       []FaultWindow
	// Warm is the anomaly stream of the day with the detector warmed by
	// the day's fault-free tail first (warmStream); nil unless
	// OSPREY_NOISE_WARM was set when the cache was built.
	Warm []osprey.Anomaly
}

// TestNoiseStreams measures the correlator on the noise streams of the
// unpacked Nezha folder named by OSPREY_NOISE_NEZHA, as the bench does,
// but with the streams cached in the gob file OSPREY_NOISE_CACHE (built on
// the first run): the A/B tool behind docs/rca.md "Noise reduction". With
// -v it lists each incident of the anomaly stream with the call graph.
// It skips without the variables.
func TestNoiseStreams(t *testing.T) {
	dir, cache := os.Getenv("OSPREY_NOISE_NEZHA"), os.Getenv("OSPREY_NOISE_CACHE")
	if dir == "" || cache == "" {
		t.Skip("skipping: set OSPREY_NOISE_NEZHA and OSPREY_NOISE_CACHE")
	}
	ctx := context.Background()
	var c noiseCache
	if f, err := os.Open(cache); err == nil {
		err = gob.NewDecoder(f).Decode(&c)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
	} else {
		days, err := FindNezha(dir)
		if err != nil || len(days) == 0 {
			t.Fatal(err, len(days))
		}
		d := &days[0]
		_, c.Stream, _, _, err = replayMetrics(ctx, d, func() {})
		if err != nil {
			t.Fatal(err)
		}
		seen := map[[2]string]bool{}
		for _, s := range loadSpans(d, func() {}) {
			e := [2]string{s.callerSvc, s.service}
			if s.callerSvc != "" && !seen[e] {
				seen[e] = true
				c.Edges = append(c.Edges, e)
			}
		}
		if c.Notifications, err = ThresholdNotifications(ctx, d, DefaultThresholdRules()); err != nil {
			t.Fatal(err)
		}
		c.Windows = faultWindows(d.Faults)
		if os.Getenv("OSPREY_NOISE_WARM") != "" {
			if c.Warm, err = warmStream(ctx, d); err != nil {
				t.Fatal(err)
			}
		}
		f, err := os.Create(cache)
		if err != nil {
			t.Fatal(err)
		}
		if err := gob.NewEncoder(f).Encode(&c); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	g := rca.NewGraph()
	for _, e := range c.Edges {
		g.AddCall(e[0], e[1], 1)
	}
	topo := graphTopology{g}
	ws := c.Windows
	for _, v := range []struct {
		name string
		only bool
		topo correlate.Topology
		warm bool
	}{{"anomalies, fault windows, by service", true, nil, false}, {"anomalies, fault windows, by service + call graph", true, topo, false}, {"anomalies, all day, by service + call graph", false, topo, false},
		{"warm anomalies, fault windows, by service", true, nil, true}, {"warm anomalies, fault windows, by service + call graph", true, topo, true}, {"warm anomalies, all day, by service + call graph", false, topo, true}} {
		stream := c.Stream
		if v.warm {
			if c.Warm == nil {
				continue
			}
			stream = c.Warm
		}
		for _, burst := range noiseBursts() {
			m, err := CorrelateNoise(ctx, stream, ws, v.only, v.topo, burst)
			if err != nil {
				t.Fatal(err)
			}
			s, name := ScoreNoise(m), v.name+burstName(burst)
			t.Logf("noise (%s): %d alerts, %d incidents, reduction %.1f %%, purity %.3f, faults %d, background %d", name, s.Alerts, s.Incidents, 100*s.Reduction, s.Purity, s.Faults, s.Background)
			if testing.Verbose() && os.Getenv("OSPREY_NOISE_LIST") == name {
				listIncidents(t, stream, ws, v.only, m)
			}
		}
	}
	if os.Getenv("OSPREY_NOISE_ANOMALIES_ONLY") != "" {
		return
	}
	for _, v := range []struct {
		name string
		only bool
		topo correlate.Topology
	}{{"fault windows, by service", true, nil}, {"fault windows, by service + call graph", true, topo}, {"all day, by service + call graph", false, topo}} {
		for _, burst := range noiseBursts() {
			notes, distinct, err := CorrelateNotifications(ctx, c.Notifications, ws, v.only, v.topo, burst)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range []struct {
				what string
				m    []NoiseMember
			}{{"every notification", notes}, {"distinct alerts", distinct}} {
				s := ScoreNoise(r.m)
				t.Logf("noise (threshold alerts, %s%s, %s): %d alerts, %d incidents, reduction %.1f %%, purity %.3f, faults %d, background %d", v.name, burstName(burst), r.what, s.Alerts, s.Incidents, 100*s.Reduction, s.Purity, s.Faults, s.Background)
			}
		}
	}
}

// listIncidents logs the incidents of a CorrelateNoise run with their
// members (onset, end or "open" when the stream never ends it, service,
// metric, truth, and whether the anomaly began with an escalation), in
// opening order.
func listIncidents(t *testing.T, stream []osprey.Anomaly, ws []FaultWindow, only bool, m []NoiseMember) {
	var alerts []osprey.Anomaly
	fed := map[string]bool{}
	ends := map[string]time.Time{}
	for _, a := range stream {
		if !a.Active() {
			ends[a.ID] = a.EndsAt
		}
		if !a.Active() || fed[a.ID] || only && truth(ws, a.StartsAt) == Background {
			continue
		}
		fed[a.ID] = true
		alerts = append(alerts, a)
	}
	byInc := map[string][]int{}
	var incs []string
	for i := range m {
		if _, ok := byInc[m[i].Incident]; !ok {
			incs = append(incs, m[i].Incident)
		}
		byInc[m[i].Incident] = append(byInc[m[i].Incident], i)
	}
	sort.SliceStable(incs, func(i, j int) bool { return byInc[incs[i]][0] < byInc[incs[j]][0] })
	for _, id := range incs {
		var b strings.Builder
		fmt.Fprintf(&b, "incident %s (%d)\n", id[max(0, len(id)-6):], len(byInc[id]))
		for _, i := range byInc[id] {
			a := alerts[i]
			esc := ""
			if a.Escalates() {
				esc = " (escalation)"
			}
			end := "open    "
			if e, ok := ends[a.ID]; ok {
				end = e.Format(time.TimeOnly)
			}
			fmt.Fprintf(&b, "   %s-%s %-32s %-28s %s%s\n", a.StartsAt.Format(time.TimeOnly), end, a.Labels.Get(osprey.LabelService), a.Labels.Get(osprey.LabelMetric), m[i].Truth, esc)
		}
		t.Log(b.String())
	}
}

// TestNoiseGraphDump logs the cached call graph (OSPREY_NOISE_CACHE).
func TestNoiseGraphDump(t *testing.T) {
	cache := os.Getenv("OSPREY_NOISE_CACHE")
	f, err := os.Open(cache)
	if err != nil {
		t.Skip("skipping: set OSPREY_NOISE_CACHE to a cache TestNoiseStreams wrote")
	}
	defer f.Close()
	var c noiseCache
	if err := gob.NewDecoder(f).Decode(&c); err != nil {
		t.Fatal(err)
	}
	for _, e := range c.Edges {
		t.Logf("%s -> %s", e[0], e[1])
	}
}

// warmStream replays d's pod metrics through the production detector as
// replayMetrics does, but first replays the day's fault-free tail (the
// samples more than 15 minutes after the last fault window) shifted in
// virtual time to end one minute before the day's first sample, as a
// detector that ran before the day would have seen it. It returns what the
// detector emitted for the day itself (anomalies opened at or after its
// first sample, and their resolutions). A measuring tool for the warm-up
// the bench's replay lacks (docs/rca.md "Noise reduction").
func warmStream(ctx context.Context, d *NezhaDay) ([]osprey.Anomaly, error) {
	labels, points, err := loadMetricPoints(d, func() {})
	if err != nil {
		return nil, err
	}
	if len(points) == 0 {
		return nil, nil
	}
	first, last := points[0].ts, points[len(points)-1].ts
	var quiet int64
	for _, f := range d.Faults {
		quiet = max(quiet, f.Time.Add(WindowAfter+15*time.Minute).UnixMilli())
	}
	shift := first - time.Minute.Milliseconds() - last
	var warm []metricPoint
	for _, p := range points {
		if p.ts > quiet {
			warm = append(warm, metricPoint{p.ts + shift, p.series, p.v})
		}
	}
	var all []osprey.Anomaly
	day := map[string]bool{}
	sink := osprey.AnomalyConsumerFunc(func(_ context.Context, batch []osprey.Anomaly) error {
		for _, a := range batch {
			if a.Active() && a.StartsAt.UnixMilli() >= first {
				day[a.ID] = true
			}
			if day[a.ID] {
				all = append(all, a)
			}
		}
		return nil
	})
	eng, err := metric.NewEngine(metric.DefaultConfig(), sink, 0)
	if err != nil {
		return nil, err
	}
	feed := func(ps []metricPoint) error { return feedMetricPoints(ctx, eng, labels, ps) }
	if err := feed(warm); err != nil {
		return nil, err
	}
	if err := feed(points); err != nil {
		return nil, err
	}
	return all, nil
}
