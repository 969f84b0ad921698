package correlate_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/topology"
)

// placed returns a real topology graph with declared placements and calls.
func placed(calls []topology.EdgeKey, pl ...topology.Placement) *topology.Graph {
	return topology.New(topology.Options{Now: func() time.Time { return t0 }, Declared: calls, Placed: pl})
}

func TestPlacementJoinsHostAndService(t *testing.T) {
	g := placed([]topology.EdgeKey{{Caller: "checkout", Callee: "postgres"}},
		topology.Placement{Host: "db-1", Service: "postgres"})
	hostDisk := osprey.Labels{"host": "db-1", "mountpoint": "/var/lib/postgresql"}

	t.Run("host signal joins its service's incident", func(t *testing.T) {
		r := newRig(t, rigOptions{topo: g})
		r.send(ev{at: 0, name: "SlowQueries", labels: osprey.Labels{"service": "postgres"}})
		r.send(ev{at: time.Minute, name: "DiskFull", labels: hostDisk})
		inc := r.memberOfName("DiskFull")
		if len(inc.Members) != 2 {
			t.Fatalf("DiskFull is in an incident of %d members, want postgres's (2)", len(inc.Members))
		}
		if !timelineSays(inc, "host db-1 runs service postgres") {
			t.Fatalf("timeline does not say why: %+v", inc.Timeline)
		}
	})
	t.Run("service signal joins its host's incident, its caller through the declared call", func(t *testing.T) {
		r := newRig(t, rigOptions{topo: g})
		r.send(ev{at: 0, name: "DiskFull", labels: hostDisk})
		r.send(ev{at: time.Minute, name: "SlowQueries", labels: osprey.Labels{"service": "postgres"}})
		r.send(ev{at: 2 * time.Minute, name: "Errors", labels: osprey.Labels{"service": "checkout"}})
		inc := r.memberOfName("DiskFull")
		if len(inc.Members) != 3 {
			t.Fatalf("the host's incident has %d members, want 3", len(inc.Members))
		}
		if !timelineSays(inc, "service postgres runs on host db-1") || !timelineSays(inc, "checkout calls postgres") {
			t.Fatalf("timeline does not say why: %+v", inc.Timeline)
		}
	})
	t.Run("another host's signal and a late one open their own", func(t *testing.T) {
		r := newRig(t, rigOptions{topo: g})
		r.send(ev{at: 0, name: "SlowQueries", labels: osprey.Labels{"service": "postgres"}})
		r.send(ev{at: time.Minute, name: "DiskFull", labels: osprey.Labels{"host": "web-1"}})
		// Past half the window after the incident's last onset: it has
		// stopped spreading.
		r.send(ev{at: 4 * time.Minute, name: "HighLoad", labels: osprey.Labels{"host": "db-1"}})
		if n := len(r.memberOfName("DiskFull").Members); n != 1 {
			t.Fatalf("web-1's DiskFull joined an incident of %d members", n)
		}
		if n := len(r.memberOfName("HighLoad").Members); n != 1 {
			t.Fatalf("the late HighLoad joined an incident of %d members", n)
		}
	})
	t.Run("without placement a host signal opens its own", func(t *testing.T) {
		r := newRig(t, rigOptions{topo: callGraph(t, [2]string{"checkout", "postgres"})})
		r.send(ev{at: 0, name: "SlowQueries", labels: osprey.Labels{"service": "postgres"}})
		r.send(ev{at: time.Minute, name: "DiskFull", labels: hostDisk})
		if n := len(r.memberOfName("DiskFull").Members); n != 1 {
			t.Fatalf("DiskFull joined an incident of %d members without placement", n)
		}
	})
}

// memberOfName returns the incident (from the store) holding an alert
// named name.
func (r *rig) memberOfName(name string) osprey.Incident {
	r.t.Helper()
	for _, inc := range incidents(r.t, r.st) {
		if slices.ContainsFunc(inc.Members, func(m *osprey.Member) bool { return m.Name == name }) {
			return r.get(inc.ID)
		}
	}
	r.t.Fatalf("no incident holds %s", name)
	return osprey.Incident{}
}

// timelineSays reports whether an entry of inc's timeline contains s.
func timelineSays(inc osprey.Incident, s string) bool {
	return slices.ContainsFunc(inc.Timeline, func(e osprey.TimelineEntry) bool { return strings.Contains(e.Message, s) })
}
