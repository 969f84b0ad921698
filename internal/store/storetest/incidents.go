package storetest

import (
	"fmt"
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
		Members: []*osprey.Member{
			{
				Kind: osprey.MemberEvent, Fingerprint: osprey.Fingerprint(0x8000000000000001), Name: "HighLatency",
				Labels: osprey.Labels{"service": "checkout"}, Severity: osprey.SeverityCritical, Status: osprey.StatusFiring,
				FirstRef: "evt-1", LastRef: "evt-9", FirstSeen: at(-time.Hour), LastSeen: at(updated), Count: 9, LastSeq: 42,
			},
			{
				Kind: osprey.MemberAnomaly, Fingerprint: 7, Name: "latency_p99", Severity: osprey.SeverityWarning, Score: 0.73,
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
	t.Run("Batch", func(t *testing.T) { testSaveIncidents(t, open) })
	t.Run("Noise", func(t *testing.T) { testNoise(t, open) })
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

// member returns a firing member with fingerprint fp seen at base+d.
func member(fp osprey.Fingerprint, d time.Duration) *osprey.Member {
	return &osprey.Member{
		Kind: osprey.MemberEvent, Fingerprint: fp, Name: fmt.Sprintf("Alert%d", fp),
		Labels: osprey.Labels{"service": "checkout", "pod": fmt.Sprintf("p%d", fp)}, Severity: osprey.SeverityWarning,
		Status: osprey.StatusFiring, FirstRef: fmt.Sprintf("evt-%d", fp), LastRef: fmt.Sprintf("evt-%d", fp),
		FirstSeen: at(d), LastSeen: at(d), Count: 1, LastSeq: int64(fp),
	}
}

// cloneMembers returns a copy of ms whose members can be changed without
// changing those of ms.
func cloneMembers(ms []*osprey.Member) []*osprey.Member {
	out := make([]*osprey.Member, len(ms))
	for i, m := range ms {
		c := *m
		out[i] = &c
	}
	return out
}

// testSaveIncidents checks SaveIncidents: members written by position (only
// the listed ones), all of them replaced with AllMembers, entries with
// their Seqs, the checkpoint, and all or nothing.
func testSaveIncidents(t *testing.T, open Opener) {
	t.Run("ChangedMembersOnly", func(t *testing.T) {
		st := open(t)
		inc := newIncident("inc-1", osprey.IncidentOpen, 0)
		must(t, "save", st.SaveIncident(t.Context(), inc))

		// Member 0 repeats, a member joins; member 1 changed in memory
		// but is not listed, so the store keeps its old value.
		want := inc
		want.Members = cloneMembers(inc.Members)
		want.Members[0].Count, want.Members[0].LastRef = 10, "evt-10"
		want.Members = append(want.Members, member(3, time.Minute))
		want.UpdatedAt = at(time.Minute)
		sent := want
		sent.Members = cloneMembers(want.Members)
		sent.Members[1].Count = 99
		other := newIncident("inc-2", osprey.IncidentAcknowledged, 0)
		other.Members = nil
		entries := []osprey.TimelineEntry{entry(osprey.TimelineMemberJoined, "joined", time.Minute), entry(osprey.TimelineRCA, "rca", time.Minute)}
		otherEntries := []osprey.TimelineEntry{entry(osprey.TimelineOpened, "opened", 0)}
		err := st.SaveIncidents(t.Context(), store.IncidentBatch{
			Changes: []store.IncidentChange{
				{Incident: sent, Members: []int{0, 2}, Entries: entries},
				{Incident: other, AllMembers: true, Entries: otherEntries},
			},
			CheckpointName: "correlate/events", CheckpointPosition: 42,
		})
		must(t, "save batch", err)
		got, err := st.GetIncident(t.Context(), "inc-1")
		must(t, "get", err)
		want.Timeline = entries
		checkTimelineSeqs(t, got.Timeline)
		same(t, "incident after a partial member write", got, want)
		gotOther, err := st.GetIncident(t.Context(), "inc-2")
		must(t, "get other", err)
		other.Timeline = otherEntries
		same(t, "other incident", gotOther, other)
		if entries[1].Seq <= entries[0].Seq || otherEntries[0].Seq <= entries[1].Seq {
			t.Errorf("Seqs not set in batch order: %+v %+v", entries, otherEntries)
		}
		cp, err := st.Checkpoint(t.Context(), "correlate/events")
		must(t, "checkpoint", err)
		if cp != 42 {
			t.Errorf("checkpoint %d, want 42", cp)
		}
		list, err := st.ListIncidents(t.Context(), store.IncidentQuery{})
		must(t, "list", err)
		sameIDs(t, "listed", ids(list, incidentID), []string{"inc-1", "inc-2"})
		want.Timeline = nil
		same(t, "listed incident", list[0], want)
	})

	t.Run("KeepCauses", func(t *testing.T) {
		st := open(t)
		inc := newIncident("inc-1", osprey.IncidentOpen, 0)
		must(t, "save", st.SaveIncident(t.Context(), inc))
		// Every other field changes; the causes sent are not written.
		sent := inc
		sent.Title, sent.Status, sent.UpdatedAt = "changed", osprey.IncidentAcknowledged, at(time.Minute)
		sent.Causes = []osprey.Cause{{Kind: osprey.CauseService, Name: "not-written", Score: 1}}
		fresh := newIncident("inc-2", osprey.IncidentOpen, 0)
		must(t, "save keeping causes", st.SaveIncidents(t.Context(), store.IncidentBatch{Changes: []store.IncidentChange{
			{Incident: sent, Members: []int{0}, KeepCauses: true},
			{Incident: fresh, AllMembers: true, KeepCauses: true},
		}}))
		got, err := st.GetIncident(t.Context(), "inc-1")
		must(t, "get", err)
		want := sent
		want.Causes = inc.Causes
		same(t, "incident with kept causes", got, want)
		// Not stored before: created with no causes.
		got, err = st.GetIncident(t.Context(), "inc-2")
		must(t, "get fresh", err)
		want = fresh
		want.Causes = nil
		same(t, "incident created keeping causes", got, want)
		list, err := st.ListIncidents(t.Context(), store.IncidentQuery{})
		must(t, "list", err)
		sameIDs(t, "listed", ids(list, incidentID), []string{"inc-1", "inc-2"})
		// Written again without KeepCauses, causes follow.
		sent.Causes = sent.Causes[:1]
		must(t, "save causes", st.SaveIncidents(t.Context(), store.IncidentBatch{Changes: []store.IncidentChange{{Incident: sent}}}))
		got, err = st.GetIncident(t.Context(), "inc-1")
		must(t, "get again", err)
		same(t, "incident with new causes", got, sent)
	})

	t.Run("AllMembersReplaces", func(t *testing.T) {
		st := open(t)
		inc := newIncident("inc-1", osprey.IncidentOpen, 0)
		must(t, "save", st.SaveIncident(t.Context(), inc))
		// As a merge leaves the incident it emptied.
		inc.Members = []*osprey.Member{}
		must(t, "save emptied", st.SaveIncidents(t.Context(), store.IncidentBatch{Changes: []store.IncidentChange{{Incident: inc, AllMembers: true}}}))
		got, err := st.GetIncident(t.Context(), "inc-1")
		must(t, "get", err)
		inc.Members = nil
		same(t, "emptied incident", got, inc)
	})

	t.Run("AllOrNothing", func(t *testing.T) {
		st := open(t)
		inc := newIncident("inc-1", osprey.IncidentOpen, 0)
		must(t, "save", st.SaveIncident(t.Context(), inc))
		changed := inc
		changed.Title = "changed"
		bad := newIncident("inc-2", osprey.IncidentOpen, 0)
		err := st.SaveIncidents(t.Context(), store.IncidentBatch{
			Changes: []store.IncidentChange{
				{Incident: changed, Members: []int{0}, Entries: []osprey.TimelineEntry{entry(osprey.TimelineComment, "c", 0)}},
				{Incident: bad, Members: []int{5}}, // no such member
			},
			Noise:          []store.NoiseCount{{Minute: at(0), Source: "s", Rule: "r", Outcome: "opened", N: 1}},
			CheckpointName: "cp", CheckpointPosition: 7,
		})
		if err == nil {
			t.Fatal("a member index out of range was accepted")
		}
		got, err := st.GetIncident(t.Context(), "inc-1")
		must(t, "get", err)
		same(t, "incident after a failed batch", got, inc)
		_, err = st.GetIncident(t.Context(), "inc-2")
		wantErr(t, "incident of a failed batch", err, osprey.ErrNotFound)
		if cp, err := st.Checkpoint(t.Context(), "cp"); err != nil || cp != 0 {
			t.Errorf("checkpoint of a failed batch: %d, %v", cp, err)
		}
		if n, err := st.NoiseCounts(t.Context(), time.Time{}); err != nil || len(n) != 0 {
			t.Errorf("noise of a failed batch: %+v, %v", n, err)
		}
	})

	t.Run("ManyMembersAndIncidents", func(t *testing.T) {
		st := open(t)
		big := newIncident("big", osprey.IncidentOpen, time.Hour)
		big.Members = nil
		for i := range 1500 {
			big.Members = append(big.Members, member(osprey.Fingerprint(i+1), time.Duration(i)*time.Second))
		}
		b := store.IncidentBatch{Changes: []store.IncidentChange{{Incident: big, AllMembers: true}}}
		for i := range 520 {
			small := newIncident(fmt.Sprintf("s%03d", i), osprey.IncidentOpen, time.Duration(i)*time.Millisecond)
			b.Changes = append(b.Changes, store.IncidentChange{Incident: small, AllMembers: true})
		}
		must(t, "save", st.SaveIncidents(t.Context(), b))
		got, err := st.GetIncident(t.Context(), "big")
		must(t, "get", err)
		same(t, "incident with 1500 members", got, big)
		list, err := st.ListIncidents(t.Context(), store.IncidentQuery{Limit: store.MaxLimit})
		must(t, "list", err)
		if len(list) != 521 {
			t.Fatalf("listed %d incidents, want 521", len(list))
		}
		for _, inc := range list[1:] {
			same(t, "listed "+inc.ID, inc, b.Changes[1+int(inc.UpdatedAt.Sub(at(0))/time.Millisecond)].Incident)
		}
	})
}

// testNoise checks the noise counters: added up across batches, by minute,
// and summed over the minutes since a time.
func testNoise(t *testing.T, open Opener) {
	st := open(t)
	inc := newIncident("inc-1", osprey.IncidentOpen, 0)
	batch := func(counts ...store.NoiseCount) {
		t.Helper()
		must(t, "save", st.SaveIncidents(t.Context(), store.IncidentBatch{
			Changes: []store.IncidentChange{{Incident: inc, Members: []int{0}}}, Noise: counts}))
	}
	batch(
		store.NoiseCount{Minute: at(0), Source: "am", Rule: "HighLatency", Outcome: "opened", N: 1},
		store.NoiseCount{Minute: at(10 * time.Second), Source: "am", Rule: "HighLatency", Outcome: "deduplicated", N: 5},
		store.NoiseCount{Minute: at(20 * time.Second), Source: "am", Rule: "HighLatency", Outcome: "deduplicated", N: 2},
	)
	batch(
		store.NoiseCount{Minute: at(2 * time.Minute), Source: "am", Rule: "HighLatency", Outcome: "deduplicated", N: 3},
		store.NoiseCount{Minute: at(2 * time.Minute), Source: "loki", Rule: "Errors", Outcome: "silenced", N: 4},
	)
	all, err := st.NoiseCounts(t.Context(), time.Time{})
	must(t, "noise", err)
	same(t, "all noise", all, []store.NoiseCount{
		{Source: "am", Rule: "HighLatency", Outcome: "deduplicated", N: 10},
		{Source: "am", Rule: "HighLatency", Outcome: "opened", N: 1},
		{Source: "loki", Rule: "Errors", Outcome: "silenced", N: 4},
	})
	// base is 26.535s into its minute: since = base+90s is rounded down
	// to the minute starting at base+33.465s, which holds no count; the
	// next minute holds the second batch.
	recent, err := st.NoiseCounts(t.Context(), at(90*time.Second))
	must(t, "recent noise", err)
	same(t, "noise since base+90s", recent, []store.NoiseCount{
		{Source: "am", Rule: "HighLatency", Outcome: "deduplicated", N: 3},
		{Source: "loki", Rule: "Errors", Outcome: "silenced", N: 4},
	})
}
