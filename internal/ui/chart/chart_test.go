package chart

import (
	"encoding/xml"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestUnitOf(t *testing.T) {
	tests := []struct {
		metric string
		want   Unit
		rate   bool
	}{
		{"http_request_duration_seconds", UnitSeconds, false},
		{"process_resident_memory_bytes", UnitBytes, false},
		{"cache_hit_ratio", UnitRatio, false},
		{"http_requests_total", UnitPerSecond, true},
		{"process_cpu_seconds_total", UnitPerSecond, true},
		{"queue_depth", UnitNone, false},
	}
	for _, tt := range tests {
		u, rate := UnitOf(tt.metric)
		if u != tt.want || rate != tt.rate {
			t.Errorf("UnitOf(%q) = %v, %v; want %v, %v", tt.metric, u, rate, tt.want, tt.rate)
		}
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		u    Unit
		v    float64
		want string
	}{
		{UnitSeconds, 0.25, "250 ms"},
		{UnitSeconds, 0.0000123, "12.3 µs"},
		{UnitSeconds, 3.5, "3.5 s"},
		{UnitSeconds, 600, "10 min"},
		{UnitBytes, 512, "512 B"},
		{UnitBytes, 3 << 20, "3 MiB"},
		{UnitBytes, 1.5 * (1 << 30), "1.5 GiB"},
		{UnitRatio, 0.257, "25.7%"},
		{UnitPerSecond, 12.5, "12.5/s"},
		{UnitPerSecond, 25000, "25k/s"},
		{UnitNone, 1234567, "1.23M"},
		{UnitNone, 0, "0"},
	}
	for _, tt := range tests {
		if got := tt.u.Format(tt.v); got != tt.want {
			t.Errorf("%v.Format(%v) = %q, want %q", tt.u, tt.v, got, tt.want)
		}
	}
}

func TestValueTicks(t *testing.T) {
	ticks, labels := valueTicks(0, 0.95, 5, UnitSeconds)
	want := []string{"0 ms", "200 ms", "400 ms", "600 ms", "800 ms"}
	if !slices.Equal(labels, want) {
		t.Errorf("labels = %q, want %q (ticks %v)", labels, want, ticks)
	}
	_, labels = valueTicks(0.1, 0.35, 5, UnitRatio)
	if labels[0] != "10%" || labels[len(labels)-1] != "35%" {
		t.Errorf("ratio labels = %q", labels)
	}
	_, labels = valueTicks(-1.5, 2.5, 4, UnitNone)
	if !slices.Equal(labels, []string{"-1", "0", "1", "2"}) {
		t.Errorf("signed labels = %q", labels)
	}
}

func TestTimeTicks(t *testing.T) {
	kathmandu, err := time.LoadLocation("Asia/Kathmandu") // +05:45
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	from := time.Date(2026, 3, 1, 10, 7, 0, 0, time.UTC)
	ticks, layout := TimeTicks(from, from.Add(3*time.Hour), kathmandu, 6)
	if layout != "15:04" {
		t.Errorf("layout %q", layout)
	}
	for _, tk := range ticks {
		if m := tk.In(kathmandu).Minute(); m%30 != 0 {
			t.Errorf("tick %s not on a half hour in Asia/Kathmandu", tk.In(kathmandu))
		}
	}
	if len(ticks) < 4 || len(ticks) > 7 {
		t.Errorf("%d ticks for three hours", len(ticks))
	}
	_, layout = TimeTicks(from, from.Add(48*time.Hour), time.UTC, 6)
	if layout != "Jan 2 15:04" {
		t.Errorf("two days: layout %q", layout)
	}
}

func TestRate(t *testing.T) {
	t0 := time.Unix(1000, 0)
	pts := []Point{{t0, 10}, {t0.Add(10 * time.Second), 30}, {t0.Add(20 * time.Second), 5}}
	got := Rate(pts)
	if len(got) != 2 || got[0].V != 2 || got[1].V != 0.5 {
		t.Errorf("Rate = %v, want 2/s then 0.5/s after the reset", got)
	}
}

func TestDownsampleKeepsSpikes(t *testing.T) {
	t0 := time.Unix(0, 0)
	var pts []Point
	for i := range 10000 {
		v := 1.0
		if i == 5003 {
			v = 100
		}
		pts = append(pts, Point{t0.Add(time.Duration(i) * time.Second), v})
	}
	out := downsample(pts, 500)
	if len(out) > 1000 {
		t.Errorf("%d points after downsampling to 500 columns", len(out))
	}
	if !slices.ContainsFunc(out, func(p Point) bool { return p.V == 100 }) {
		t.Error("the spike was lost")
	}
}

func TestSVG(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var pts []Point
	for i := range 120 {
		pts = append(pts, Point{t0.Add(time.Duration(i) * 15 * time.Second), 0.1 + 0.01*math.Sin(float64(i))})
	}
	svg := string(SVG(Chart{
		Title: `latency{service="<script>alert(1)</script>"}`,
		Unit:  UnitSeconds,
		Lines: []Line{{Name: "p99 <b>", Points: pts}},
		Bands: []Band{{From: t0.Add(20 * time.Minute), To: t0.Add(25 * time.Minute), Lower: 0.08, Upper: 0.12, Expected: 0.1}},
		Marks: []Mark{{From: t0.Add(20 * time.Minute), Label: "anomaly"}},
		Dots:  []Dot{{T: t0.Add(20 * time.Minute), V: 0.5, Label: "observed"}},
	}))
	if strings.Contains(svg, "<script") || strings.Contains(svg, "<b>") {
		t.Fatalf("unescaped text in %s", svg)
	}
	for _, want := range []string{`class="band"`, `class="anomaly"`, `class="dot"`, "time (UTC)", "ms</text>", "12:15"} {
		if !strings.Contains(svg, want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
	// Well-formed XML.
	dec := xml.NewDecoder(strings.NewReader(svg))
	for {
		if _, err := dec.Token(); err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("SVG is not well-formed: %v", err)
			}
			break
		}
	}
	empty := string(SVG(Chart{Title: "nothing"}))
	if !strings.Contains(empty, "no samples") {
		t.Errorf("empty chart: %s", empty)
	}
}

func BenchmarkSVG(b *testing.B) {
	t0 := time.Unix(0, 0)
	pts := make([]Point, 2000)
	for i := range pts {
		pts[i] = Point{t0.Add(time.Duration(i) * 15 * time.Second), float64(i % 37)}
	}
	c := Chart{Title: "x", Lines: []Line{{Name: "x", Points: pts}}}
	b.ReportAllocs()
	for b.Loop() {
		_ = SVG(c)
	}
}
