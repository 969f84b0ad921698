package osprey_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencyRules keeps the architecture honest: the vocabulary package
// imports only the standard library, and the stage packages reach databases and
// brokers only through the store and bus interfaces, never their drivers.
func TestDependencyRules(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	const mod = "github.com/osprey-aiops/osprey"
	drivers := []string{"github.com/jackc/pgx", "modernc.org/sqlite", "github.com/nats-io"}
	tests := []struct {
		pkg       string
		stdOnly   bool
		forbidden []string
	}{
		{pkg: mod, stdOnly: true},
		{pkg: mod + "/internal/correlate", forbidden: drivers},
		{pkg: mod + "/internal/bus", forbidden: drivers},
		{pkg: mod + "/internal/api", forbidden: drivers},
		{pkg: mod + "/internal/store", forbidden: drivers},
		{pkg: mod + "/internal/ingest", forbidden: drivers},
		{pkg: mod + "/internal/ingest/alerts", forbidden: drivers},
		{pkg: mod + "/internal/ingest/promremote", forbidden: drivers},
		{pkg: mod + "/internal/metricstore", forbidden: drivers},
		{pkg: mod + "/internal/query", forbidden: drivers},
		{pkg: mod + "/internal/detect/metric", forbidden: drivers},
		{pkg: mod + "/internal/detect/trace", forbidden: drivers},
		{pkg: mod + "/internal/logmine", forbidden: drivers},
		{pkg: mod + "/internal/remediate", forbidden: drivers},
	}
	for _, tc := range tests {
		t.Run(tc.pkg, func(t *testing.T) {
			out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", tc.pkg).Output()
			if err != nil {
				t.Fatalf("go list %s: %v", tc.pkg, err)
			}
			for _, dep := range strings.Fields(string(out)) {
				if tc.stdOnly && dep != tc.pkg {
					t.Errorf("%s must import only the standard library, but depends on %s", tc.pkg, dep)
				}
				for _, f := range tc.forbidden {
					if strings.HasPrefix(dep, f) {
						t.Errorf("%s depends on driver %s; use the store or bus interface", tc.pkg, dep)
					}
				}
			}
		})
	}
}
