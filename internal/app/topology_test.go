package app

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/osprey-aiops/osprey/internal/config"
)

// TestDeclaredTopologyGroupsAndRanksHost runs Osprey with a declared call
// (checkout → postgres, a database without tracing) and a declared
// placement (postgres on db-1). A host alert without a service label, the
// database's alert and its caller's alert open one incident, the host
// ranked first, and GET /api/v1/topology lists what was declared.
func TestDeclaredTopologyGroupsAndRanksHost(t *testing.T) {
	yaml := `data_dir: ` + filepath.Join(t.TempDir(), "data") + `
server:
  listen: 127.0.0.1:0
topology:
  dependencies:
    - caller: checkout
      callees: [postgres]
  placement:
    - host: db-1
      services: [postgres]
`
	cfg, err := config.Parse([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	base, stop := startRun(t, cfg)
	defer stop()
	for _, body := range []string{
		`[{"name": "DiskFull", "labels": {"host": "db-1", "mountpoint": "/var/lib/postgresql"}, "severity": "critical"}]`,
		`[{"name": "SlowQueries", "labels": {"service": "postgres"}, "severity": "warning"}]`,
		`[{"name": "CheckoutErrors", "labels": {"service": "checkout"}, "severity": "warning"}]`,
	} {
		postEvents(t, base, body)
	}
	type cause struct {
		Kind        string `json:"kind"`
		Name        string `json:"name"`
		Explanation string `json:"explanation"`
	}
	var list struct {
		Incidents []struct {
			ID      string            `json:"id"`
			Members []json.RawMessage `json:"members"`
			Causes  []cause           `json:"causes"`
		} `json:"incidents"`
	}
	waitFor(t, "one incident of three members, ranked", func() bool {
		getJSON(t, base+"/api/v1/incidents", &list)
		return len(list.Incidents) == 1 && len(list.Incidents[0].Members) == 3 && len(list.Incidents[0].Causes) == 3
	}, func() string { return fmt.Sprintf("%+v", list) })
	top := list.Incidents[0].Causes[0]
	if top.Kind != "host" || top.Name != "db-1" {
		t.Fatalf("first cause = %+v, want host db-1; causes %+v", top, list.Incidents[0].Causes)
	}
	t.Logf("db-1: %s", top.Explanation)

	var snap struct {
		Edges []struct {
			Caller   string `json:"caller"`
			Callee   string `json:"callee"`
			Declared bool   `json:"declared"`
		} `json:"edges"`
		Placement []struct {
			Host     string `json:"host"`
			Service  string `json:"service"`
			Declared bool   `json:"declared"`
		} `json:"placement"`
	}
	getJSON(t, base+"/api/v1/topology", &snap)
	if len(snap.Edges) != 1 || snap.Edges[0].Caller != "checkout" || snap.Edges[0].Callee != "postgres" || !snap.Edges[0].Declared {
		t.Errorf("topology edges = %+v", snap.Edges)
	}
	if len(snap.Placement) != 1 || snap.Placement[0].Host != "db-1" || !snap.Placement[0].Declared {
		t.Errorf("topology placement = %+v", snap.Placement)
	}
}
