package agent

import (
	"strings"
	"testing"
)

// TestHostCollector reads this machine's /proc and checks the
// node_exporter names and labels.
func TestHostCollector(t *testing.T) {
	h, err := newHostCollector("/proc", "/sys", map[string]string{"instance": "h", "job": "node"})
	if err != nil {
		t.Fatal(err)
	}
	series, err := h.collect(1000)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]int{}
	for _, s := range series {
		var name string
		prev := ""
		for _, l := range s.Labels {
			if l.Name <= prev {
				t.Fatalf("labels not sorted: %v", s.Labels)
			}
			prev = l.Name
			if l.Name == "__name__" {
				name = l.Value
			}
		}
		names[name]++
		if len(s.Samples) != 1 || s.Samples[0].Timestamp != 1000 {
			t.Fatalf("%s: samples %v", name, s.Samples)
		}
	}
	for _, want := range []string{"node_cpu_seconds_total", "node_memory_MemAvailable_bytes", "node_memory_MemTotal_bytes",
		"node_load1", "node_load15", "node_network_receive_bytes_total", "node_network_transmit_errs_total",
		"node_procs_running", "node_processes_pids", "node_boot_time_seconds"} {
		if names[want] == 0 {
			t.Errorf("no %s in %v", want, names)
		}
	}
	if names["node_cpu_seconds_total"]%8 != 0 {
		t.Errorf("node_cpu_seconds_total: %d series, want 8 modes per CPU", names["node_cpu_seconds_total"])
	}
	if fs := rootFSType(t); fs != "" && !ignoredFSTypes.MatchString(fs) && names["node_filesystem_avail_bytes"] == 0 {
		t.Errorf("no node_filesystem_avail_bytes although / is %s", fs)
	}
	for name := range names {
		if strings.HasPrefix(name, "node_filesystem") {
			for _, s := range series {
				for _, l := range s.Labels {
					if l.Name == "mountpoint" && (l.Value == "/proc" || strings.HasPrefix(l.Value, "/sys")) {
						t.Errorf("pseudo file system %s reported", l.Value)
					}
				}
			}
			break
		}
	}
}

// BenchmarkCollect measures one collection and its encoded remote_write
// body.
func BenchmarkCollect(b *testing.B) {
	h, err := newHostCollector("/proc", "/sys", map[string]string{"instance": "h", "job": "node"})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var size, n int
	for b.Loop() {
		series, err := h.collect(1000)
		if err != nil {
			b.Fatal(err)
		}
		body, err := encodeWrite(series)
		if err != nil {
			b.Fatal(err)
		}
		size, n = len(body), len(series)
	}
	b.ReportMetric(float64(size), "bytes/request")
	b.ReportMetric(float64(n), "series/request")
}
