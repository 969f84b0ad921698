package storetest

import (
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/store"
)

// newIncident returns an incident with every field set, updated at
// base+updated.
func newIncident(id string, status osprey.IncidentStatus, updated time.Duration) osprey.Incident {
	inc := osprey.Incident{
		ID:        id,
		Title:     "checkout is slow on web-1",
		Status:    status,
		Severity:  osprey.SeverityError,
		Labels:    osprey.Labels{"service": "checkout", "host": "web-1"},
		Assignee:  "alice",
		OpenedAt:  at(-time.Hour),
		UpdatedAt: at(updated),
		Members: []osprey.Member{
			{
				Kind: osprey.MemberEvent, Fingerprint: osprey.Fingerprint(0x8000000000000001), Name: "HighLatency",
				Labels: osprey.Labels{"service": "checkout"}, Severity: osprey.SeverityCritical, Status: osprey.StatusFiring,
				FirstRef: "evt-1", LastRef: "evt-9", FirstSeen: at(-time.Hour), LastSeen: at(updated), Count: 9, LastSeq: 42,
			},
			{
				Kind: osprey.MemberAnomaly, Fingerprint: 7, Name: "latency_p99", Severity: osprey.SeverityWarning,
				Status: osprey.StatusResolved, FirstRef: "an-1", LastRef: "an-1", FirstSeen: at(-30 * time.Minute),
				LastSeen: at(-20 * time.Minute), Count: 1,
			},
		},
		Causes: []osprey.Cause{
			{Kind: osprey.CauseService, Name: "payments", Score: 0.875, Explanation: "payments degraded 2m earlier", EvidenceIDs: []string{"an-1", "evt-1"}},
			{Kind: osprey.CauseHost, Name: "web-1", Score: 0.25, Explanation: "only host affected"},
		},
	}
	if status == osprey.IncidentResolved {
		inc.ResolvedAt = at(updated)
	}
	return inc
}

// entry returns a timeline entry at base+d.
func entry(kind osprey.TimelineKind, msg string, d time.Duration) osprey.TimelineEntry {
	return osprey.TimelineEntry{At: at(d), Kind: kind, Actor: "osprey", Message: msg, Ref: "ref-" + msg}
}

func testIncidents(t *testing.T, open Opener) {
	t.Run("RoundTrip", func(t *testing.T) {
		st := open(t)
		inc := newIncident("inc-1", osprey.IncidentOpen, 0)
		minimal := osprey.Incident{ID: "inc-2", Status: osprey.IncidentOpen}
		for _, want := range []osprey.Incident{inc, minimal} {
			must(t, "save", st.SaveIncident(t.Context(), want))
			got, err := st.GetIncident(t.Context(), want.ID)
			must(t, "get", err)
			same(t, want.ID, got, want)
		}
	})

	t.Run("GetMissing", func(t *testing.T) {
		_, err := open(t).GetIncident(t.Context(), "nope")
		wantErr(t, "get missing incident", err, osprey.ErrNotFound)
	})

	t.Run("ReplaceKeepsTimeline", func(t *testing.T) {
		st := open(t)
		first := newIncident("inc-1", osprey.IncidentOpen, 0)
		opened := []osprey.TimelineEntry{entry(osprey.TimelineOpened, "opened", 0), entry(osprey.TimelineMemberJoined, "joined", time.Second)}
		must(t, "save", st.SaveIncident(t.Context(), first, opened...))

		second := newIncident("inc-1", osprey.IncidentResolved, time.Hour)
		second.Title, second.Assignee = "renamed", ""
		second.Members, second.Causes = second.Members[:1], nil
		// Timeline in the incident itself is ignored; only entries count.
		second.Timeline = []osprey.TimelineEntry{entry(osprey.TimelineComment, "ignored", 0)}
		resolved := []osprey.TimelineEntry{entry(osprey.TimelineStatus, "resolved", time.Hour)}
		must(t, "replace", st.SaveIncident(t.Context(), second, resolved...))

		got, err := st.GetIncident(t.Context(), "inc-1")
		must(t, "get", err)
		want := second
		want.Timeline = append(opened, resolved...)
		checkTimelineSeqs(t, got.Timeline)
		copySeqs(want.Timeline, got.Timeline)
		same(t, "replaced incident", got, want)
		if opened[0].Seq != got.Timeline[0].Seq || resolved[0].Seq != got.Timeline[2].Seq {
			t.Errorf("SaveIncident did not set the Seqs of the entries passed in: %+v %+v", opened, resolved)
		}
	})

	t.Run("AppendTimeline", func(t *testing.T) {
		st := open(t)
		must(t, "save", st.SaveIncident(t.Context(), newIncident("inc-1", osprey.IncidentOpen, 0), entry(osprey.TimelineOpened, "opened", 0)))
		must(t, "save other", st.SaveIncident(t.Context(), newIncident("inc-2", osprey.IncidentOpen, 0), entry(osprey.TimelineOpened, "other", 0)))
		more := []osprey.TimelineEntry{
			entry(osprey.TimelineRCA, "rca", time.Minute),
			entry(osprey.TimelineNotification, "notified", time.Minute), // same time: order is append order
			entry(osprey.TimelineAction, "restarted", 2*time.Minute),
		}
		must(t, "append", st.AppendTimeline(t.Context(), "inc-1", more[:2]...))
		must(t, "append", st.AppendTimeline(t.Context(), "inc-1", more[2]))
		got, err := st.GetIncident(t.Context(), "inc-1")
		must(t, "get", err)
		checkTimelineSeqs(t, got.Timeline)
		want := append([]osprey.TimelineEntry{entry(osprey.TimelineOpened, "opened", 0)}, more...)
		copySeqs(want, got.Timeline)
		same(t, "timeline", got.Timeline, want)
	})

	t.Run("AppendTimelineMissing", func(t *testing.T) {
		st := open(t)
		err := st.AppendTimeline(t.Context(), "nope", entry(osprey.TimelineComment, "hello", 0))
		wantErr(t, "append to missing incident", err, osprey.ErrNotFound)
		_, err = st.GetIncident(t.Context(), "nope")
		wantErr(t, "append must not create the incident", err, osprey.ErrNotFound)
	})

	t.Run("List", testListIncidents(open))
}

// checkTimelineSeqs fails unless the entries' Seqs are set and increase.
func checkTimelineSeqs(t *testing.T, tl []osprey.TimelineEntry) {
	t.Helper()
	var last int64
	for i, e := range tl {
		if e.Seq <= last {
			t.Fatalf("timeline entry %d (%s): Seq %d after %d, want increasing", i, e.Message, e.Seq, last)
		}
		last = e.Seq
	}
}

// copySeqs copies the store-assigned Seqs of got into want, matched by
// position; lengths are compared by the caller's same.
func copySeqs(want, got []osprey.TimelineEntry) {
	for i := range min(len(want), len(got)) {
		want[i].Seq = got[i].Seq
	}
}

func testListIncidents(open Opener) func(t *testing.T) {
	return func(t *testing.T) {
		st := open(t)
		incs := map[string]osprey.Incident{
			"a": newIncident("a", osprey.IncidentOpen, 1*time.Minute),
			"b": newIncident("b", osprey.IncidentAcknowledged, 3*time.Minute),
			"c": newIncident("c", osprey.IncidentResolved, 2*time.Minute),
			"d": newIncident("d", osprey.IncidentOpen, 4*time.Minute),
		}
		for _, id := range []string{"c", "a", "d", "b"} {
			must(t, "save", st.SaveIncident(t.Context(), incs[id], entry(osprey.TimelineOpened, "opened", 0)))
		}
		cases := []struct {
			name string
			q    store.IncidentQuery
			want []string
		}{
			{"all by update", store.IncidentQuery{}, []string{"d", "b", "c", "a"}},
			{"limit", store.IncidentQuery{Limit: 2}, []string{"d", "b"}},
			{"one status", store.IncidentQuery{Statuses: []osprey.IncidentStatus{osprey.IncidentOpen}}, []string{"d", "a"}},
			{"unresolved", store.IncidentQuery{Statuses: []osprey.IncidentStatus{osprey.IncidentOpen, osprey.IncidentAcknowledged}}, []string{"d", "b", "a"}},
			{"updated since is inclusive", store.IncidentQuery{UpdatedSince: at(2 * time.Minute)}, []string{"d", "b", "c"}},
			{"status and since", store.IncidentQuery{Statuses: []osprey.IncidentStatus{osprey.IncidentOpen}, UpdatedSince: at(2 * time.Minute)}, []string{"d"}},
			{"no match", store.IncidentQuery{Statuses: []osprey.IncidentStatus{"unknown"}}, nil},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				got, err := st.ListIncidents(t.Context(), tc.q)
				must(t, "list", err)
				sameIDs(t, "incidents", ids(got, incidentID), tc.want)
				for _, inc := range got {
					// Listed without timelines.
					same(t, "listed "+inc.ID, inc, incs[inc.ID])
				}
			})
		}
	}
}
