package storetest

import "testing"

func testCheckpoints(t *testing.T, open Opener) {
	st := open(t)
	steps := []struct {
		name string
		set  map[string]int64 // positions to set, in no particular order
		want map[string]int64
	}{
		{"unset is zero", nil, map[string]int64{"correlate": 0}},
		{"set", map[string]int64{"correlate": 41}, map[string]int64{"correlate": 41, "notify": 0}},
		{"overwrite", map[string]int64{"correlate": 42}, map[string]int64{"correlate": 42}},
		{"backwards", map[string]int64{"correlate": 7}, map[string]int64{"correlate": 7}},
		{"names are independent", map[string]int64{"notify": 1 << 40}, map[string]int64{"correlate": 7, "notify": 1 << 40}},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			for name, pos := range step.set {
				must(t, "set "+name, st.SetCheckpoint(t.Context(), name, pos))
			}
			for name, want := range step.want {
				got, err := st.Checkpoint(t.Context(), name)
				must(t, "get "+name, err)
				if got != want {
					t.Errorf("checkpoint %s = %d, want %d", name, got, want)
				}
			}
		})
	}
}
