package cli

import (
	"strings"
	"testing"

	"github.com/osprey-aiops/osprey/internal/client"
)

// testTopology reads the declared call and placement of startOsprey's
// configuration back through osprey topology.
func testTopology(t *testing.T, s *ospreyServer) {
	out := s.mustRun(t, "topology")
	for _, want := range []string{"CALLER", "checkout", "postgres", "config", "HOST", "db-1"} {
		if !strings.Contains(out, want) {
			t.Errorf("topology lacks %q:\n%s", want, out)
		}
	}
	var topo client.Topology
	decodeJSON(t, s.mustRun(t, "topology", "-o", "json"), &topo)
	if len(topo.Edges) != 1 || topo.Edges[0].Caller != "checkout" || !topo.Edges[0].Declared ||
		len(topo.Placement) != 1 || topo.Placement[0].Host != "db-1" || !topo.Placement[0].Declared {
		t.Errorf("topology -o json = %+v", topo)
	}
	decodeJSON(t, s.mustRun(t, "topology", "-o", "json", "--service", "cart"), &topo)
	if len(topo.Edges) != 0 || len(topo.Placement) != 0 || topo.Edges == nil {
		t.Errorf("topology --service cart = %+v, want empty lists", topo)
	}
	if out := s.mustRun(t, "topology", "--service", "db-1"); !strings.Contains(out, "No calls.") || !strings.Contains(out, "postgres") {
		t.Errorf("topology --service db-1:\n%s", out)
	}
}
