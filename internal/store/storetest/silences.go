package storetest

import (
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
)

func newSilence(id string, start, end time.Duration) osprey.Silence {
	return osprey.Silence{
		ID: id,
		Matchers: []osprey.Matcher{
			{Name: "service", Type: osprey.MatchEqual, Value: "checkout"},
			{Name: "env", Type: osprey.MatchNotEqual, Value: "prod"},
			{Name: "host", Type: osprey.MatchRegexp, Value: "web-[0-9]+"},
			{Name: "alertname", Type: osprey.MatchNotRegexp, Value: "Watchdog|Info.*"},
		},
		StartsAt:  at(start),
		EndsAt:    at(end),
		CreatedBy: "alice",
		Comment:   "maintenance of " + id,
	}
}

func testSilences(t *testing.T, open Opener) {
	t.Run("RoundTripAndReplace", func(t *testing.T) {
		st := open(t)
		s := newSilence("s1", 0, time.Hour)
		must(t, "save", st.SaveSilence(t.Context(), s))
		got, err := st.ListSilences(t.Context(), time.Time{})
		must(t, "list", err)
		same(t, "saved", got, []osprey.Silence{s})

		s.EndsAt, s.Matchers, s.Comment = at(2*time.Hour), s.Matchers[:1], ""
		must(t, "replace", st.SaveSilence(t.Context(), s))
		got, err = st.ListSilences(t.Context(), time.Time{})
		must(t, "list", err)
		same(t, "replaced", got, []osprey.Silence{s})
	})

	t.Run("ListAt", func(t *testing.T) {
		st := open(t)
		for _, s := range []osprey.Silence{
			newSilence("ended", -2*time.Hour, -time.Hour),
			newSilence("ends-now", -time.Hour, 0),
			newSilence("active", -time.Hour, time.Hour),
			newSilence("future", time.Hour, 2*time.Hour),
		} {
			must(t, "save", st.SaveSilence(t.Context(), s))
		}
		cases := []struct {
			name string
			at   time.Time
			want []string
		}{
			{"zero time lists all, soonest end first", time.Time{}, []string{"ended", "ends-now", "active", "future"}},
			{"an end at the time has ended", at(0), []string{"active", "future"}},
			{"before any end", at(-3 * time.Hour), []string{"ended", "ends-now", "active", "future"}},
			{"only the future one", at(90 * time.Minute), []string{"future"}},
			{"after all", at(3 * time.Hour), nil},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				got, err := st.ListSilences(t.Context(), tc.at)
				must(t, "list", err)
				sameIDs(t, "silences", ids(got, silenceID), tc.want)
			})
		}
	})

	t.Run("Get", func(t *testing.T) {
		st := open(t)
		s := newSilence("s1", -time.Hour, time.Hour)
		must(t, "save", st.SaveSilence(t.Context(), s))
		must(t, "save", st.SaveSilence(t.Context(), newSilence("s2", 0, time.Hour)))
		got, err := st.GetSilence(t.Context(), "s1")
		must(t, "get", err)
		same(t, "got", got, s)
		_, err = st.GetSilence(t.Context(), "nope")
		wantErr(t, "get unknown", err, osprey.ErrNotFound)
	})

	t.Run("Delete", func(t *testing.T) {
		st := open(t)
		must(t, "save", st.SaveSilence(t.Context(), newSilence("s1", 0, time.Hour)))
		must(t, "save", st.SaveSilence(t.Context(), newSilence("s2", 0, 2*time.Hour)))
		must(t, "delete", st.DeleteSilence(t.Context(), "s1"))
		got, err := st.ListSilences(t.Context(), time.Time{})
		must(t, "list", err)
		sameIDs(t, "after delete", ids(got, silenceID), []string{"s2"})
		wantErr(t, "delete again", st.DeleteSilence(t.Context(), "s1"), osprey.ErrNotFound)
		wantErr(t, "delete unknown", st.DeleteSilence(t.Context(), "nope"), osprey.ErrNotFound)
	})
}
