package storetest

import (
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
)

func oneOffWindow(id string) osprey.MaintenanceWindow {
	return osprey.MaintenanceWindow{
		ID:   id,
		Name: "db upgrade " + id,
		Matchers: []osprey.Matcher{
			{Name: "service", Type: osprey.MatchEqual, Value: "db"},
			{Name: "host", Type: osprey.MatchRegexp, Value: "db-[0-9]+"},
		},
		StartsAt:  at(time.Hour),
		EndsAt:    at(3 * time.Hour),
		CreatedBy: "alice",
		CreatedAt: at(0),
		Comment:   "planned",
	}
}

func weeklyWindow(id string) osprey.MaintenanceWindow {
	return osprey.MaintenanceWindow{
		ID:        id,
		Matchers:  []osprey.Matcher{{Name: "cluster", Type: osprey.MatchEqual, Value: "batch"}},
		Schedule:  &osprey.WeeklySchedule{Days: []string{"sat", "sun"}, Start: "02:00", Duration: "2h0m0s", Timezone: "Europe/Berlin"},
		CreatedBy: "bob",
		CreatedAt: at(time.Minute),
	}
}

func testMaintenance(t *testing.T, open Opener) {
	t.Run("RoundTripAndReplace", func(t *testing.T) {
		st := open(t)
		one, weekly := oneOffWindow("m1"), weeklyWindow("m2")
		must(t, "save", st.SaveMaintenance(t.Context(), one))
		must(t, "save", st.SaveMaintenance(t.Context(), weekly))
		got, err := st.ListMaintenance(t.Context())
		must(t, "list", err)
		same(t, "saved", got, []osprey.MaintenanceWindow{one, weekly})

		one.EndsAt, one.Comment, one.Matchers = at(4*time.Hour), "", one.Matchers[:1]
		must(t, "replace", st.SaveMaintenance(t.Context(), one))
		g, err := st.GetMaintenance(t.Context(), "m1")
		must(t, "get", err)
		same(t, "replaced", g, one)
		g, err = st.GetMaintenance(t.Context(), "m2")
		must(t, "get", err)
		same(t, "weekly", g, weekly)
		_, err = st.GetMaintenance(t.Context(), "nope")
		wantErr(t, "get unknown", err, osprey.ErrNotFound)
	})

	t.Run("NoID", func(t *testing.T) {
		st := open(t)
		if err := st.SaveMaintenance(t.Context(), oneOffWindow("")); err == nil {
			t.Fatal("saved a window without an id")
		}
	})

	t.Run("Delete", func(t *testing.T) {
		st := open(t)
		must(t, "save", st.SaveMaintenance(t.Context(), oneOffWindow("m1")))
		must(t, "save", st.SaveMaintenance(t.Context(), weeklyWindow("m2")))
		must(t, "delete", st.DeleteMaintenance(t.Context(), "m1"))
		got, err := st.ListMaintenance(t.Context())
		must(t, "list", err)
		sameIDs(t, "after delete", ids(got, func(w osprey.MaintenanceWindow) string { return w.ID }), []string{"m2"})
		wantErr(t, "delete again", st.DeleteMaintenance(t.Context(), "m1"), osprey.ErrNotFound)
		wantErr(t, "delete unknown", st.DeleteMaintenance(t.Context(), "nope"), osprey.ErrNotFound)
	})
}
