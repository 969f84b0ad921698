package rca

import (
	"slices"
	"testing"
)

func TestReadOrder(t *testing.T) {
	// client → frontend → api → db → disk, frontend → cache, batch → db:
	// an incident of frontend.
	g := NewGraph()
	for _, e := range [][2]string{
		{"client", "frontend"}, {"frontend", "api"}, {"frontend", "cache"},
		{"api", "db"}, {"db", "disk"}, {"batch", "db"},
	} {
		g.AddCall(e[0], e[1], 1)
	}
	for _, tc := range []struct {
		name  string
		start []string
		limit int
		want  []string
	}{
		// Callees one call down, then the caller one call up (client,
		// counted as two, reached first) with the callee two down (db),
		// then three (disk), then batch (db's caller: two calls down and
		// one up, four).
		{"whole graph", []string{"frontend"}, 100, []string{"frontend", "api", "cache", "client", "db", "disk", "batch"}},
		{"limit", []string{"frontend"}, 5, []string{"frontend", "api", "cache", "client", "db"}},
		{"several services", []string{"db", "frontend"}, 100, []string{"db", "frontend", "disk", "api", "cache", "batch", "client"}},
		{"start beyond the limit", []string{"db", "frontend"}, 1, []string{"db", "frontend"}},
		{"unknown service", []string{"nowhere"}, 100, []string{"nowhere"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := readOrder(g, tc.start, tc.limit); !slices.Equal(got, tc.want) {
				t.Errorf("readOrder = %v, want %v", got, tc.want)
			}
		})
	}
	if got := readOrder(nil, []string{"a"}, 10); !slices.Equal(got, []string{"a"}) {
		t.Errorf("without a graph: %v", got)
	}
}
