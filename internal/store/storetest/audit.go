package storetest

import (
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
)

func auditEntry(action string, d time.Duration) osprey.AuditEntry {
	return osprey.AuditEntry{At: at(d), Actor: "alice", Action: action, Object: "incident/inc-1", Detail: `{"status":"acknowledged"}`}
}

func testAudit(t *testing.T, open Opener) {
	t.Run("AppendAndList", func(t *testing.T) {
		st := open(t)
		first := []osprey.AuditEntry{auditEntry("one", 0), auditEntry("two", time.Minute), auditEntry("three", 2*time.Minute)}
		must(t, "append", st.AppendAudit(t.Context(), first...))
		must(t, "append", st.AppendAudit(t.Context(), auditEntry("four", 3*time.Minute), osprey.AuditEntry{At: at(4 * time.Minute), Action: "five"}))
		must(t, "append nothing", st.AppendAudit(t.Context()))

		all, err := st.ListAudit(t.Context(), time.Time{}, 0)
		must(t, "list", err)
		sameIDs(t, "all newest first", ids(all, auditAction), []string{"five", "four", "three", "two", "one"})
		var next int64
		for i := len(all) - 1; i >= 0; i-- {
			if all[i].Seq <= next {
				t.Errorf("entry %s: Seq %d after %d, want increasing in append order", all[i].Action, all[i].Seq, next)
			}
			next = all[i].Seq
		}
		if len(all) == 5 {
			want := auditEntry("four", 3*time.Minute)
			want.Seq = all[1].Seq
			same(t, "round trip", all[1], want)
			if first[2].Seq != all[2].Seq {
				t.Errorf("AppendAudit did not set the Seq of the entries passed in: %+v", first)
			}
		}

		cases := []struct {
			name  string
			since time.Time
			limit int
			want  []string
		}{
			{"since is inclusive", at(2 * time.Minute), 0, []string{"five", "four", "three"}},
			{"limit", time.Time{}, 2, []string{"five", "four"}},
			{"none", at(time.Hour), 0, nil},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				got, err := st.ListAudit(t.Context(), tc.since, tc.limit)
				must(t, "list", err)
				sameIDs(t, "audit", ids(got, auditAction), tc.want)
			})
		}
	})
}
