package storetest

import (
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
)

func newTemplate(id, source, text string, count int64) osprey.LogTemplate {
	return osprey.LogTemplate{
		ID: id, Source: source, Template: text, Count: count,
		FirstSeen: at(-time.Hour), LastSeen: at(time.Duration(count) * time.Second),
		Sample: "sample of " + id,
	}
}

func testTemplates(t *testing.T, open Opener) {
	t.Run("RoundTripAndReplace", func(t *testing.T) {
		st := open(t)
		tpl := newTemplate("t1", "nginx", "GET <*> 200", 5)
		minimal := osprey.LogTemplate{ID: "t0"}
		must(t, "save", st.SaveTemplates(t.Context(), []osprey.LogTemplate{tpl, minimal}))
		got, err := st.ListTemplates(t.Context(), "", "", 0)
		must(t, "list", err)
		same(t, "saved", got, []osprey.LogTemplate{tpl, minimal})

		tpl.Count, tpl.LastSeen, tpl.AliasOf = 6, at(time.Hour), "t9"
		must(t, "replace", st.SaveTemplates(t.Context(), []osprey.LogTemplate{tpl}))
		got, err = st.ListTemplates(t.Context(), "nginx", "", 0)
		must(t, "list", err)
		same(t, "replaced", got, []osprey.LogTemplate{tpl})
	})

	t.Run("List", func(t *testing.T) {
		st := open(t)
		must(t, "save", st.SaveTemplates(t.Context(), []osprey.LogTemplate{
			newTemplate("t1", "nginx", "GET <*> 200", 50),
			newTemplate("t2", "nginx", "GET <*> 500", 70),
			newTemplate("t3", "app", "user <*> logged in", 10),
			newTemplate("t4", "app", "100% done_<*>", 5),
			newTemplate("t5", "app", "disk <*> full", 90),
		}))
		cases := []struct {
			name, source, q string
			limit           int
			want            []string
		}{
			{name: "all by count", want: []string{"t5", "t2", "t1", "t3", "t4"}},
			{name: "limit", limit: 2, want: []string{"t5", "t2"}},
			{name: "source", source: "nginx", want: []string{"t2", "t1"}},
			{name: "substring", q: "GET <*> 5", want: []string{"t2"}},
			{name: "source and substring", source: "app", q: "<*>", want: []string{"t5", "t3", "t4"}},
			{name: "percent is literal", q: "%", want: []string{"t4"}},
			{name: "underscore is literal", q: "_", want: []string{"t4"}},
			{name: "unknown source", source: "kafka", want: nil},
			{name: "no match", q: "timeout", want: nil},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				got, err := st.ListTemplates(t.Context(), tc.source, tc.q, tc.limit)
				must(t, "list", err)
				sameIDs(t, "templates", ids(got, templateID), tc.want)
			})
		}
	})
}
