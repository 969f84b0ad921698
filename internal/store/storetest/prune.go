package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/store"
)

func testPrune(t *testing.T, open Opener) {
	t.Run("DeletesOnlyWhatAgedOut", func(t *testing.T) {
		st := open(t)
		ctx := t.Context()
		day := 24 * time.Hour

		// Events: e0..e4 received 5..1 days ago; the stage's checkpoint is
		// at e2, so e3 (old but unconsumed) must stay.
		var evs []osprey.Event
		for i := range 5 {
			evs = append(evs, newEvent("e"+string(rune('0'+i)), "HighLatency",
				osprey.Labels{"service": "checkout", "n": string(rune('0' + i))}, -time.Duration(5-i)*day))
		}
		evs = appendEvents(t, st, evs...)

		// Anomalies: one ended long ago (with feedback), one ended
		// recently, one still open since long ago.
		oldEnded := newAnomaly("a-old", osprey.Labels{"series": "a"}, -10*day)
		oldEnded.EndsAt = at(-9 * day)
		recent := newAnomaly("a-recent", osprey.Labels{"series": "b"}, -2*day)
		recent.EndsAt = at(-day)
		stillOpen := newAnomaly("a-open", osprey.Labels{"series": "c"}, -10*day)
		must(t, "save anomalies", st.SaveAnomalies(ctx, []osprey.Anomaly{oldEnded, recent, stillOpen}))
		must(t, "feedback", st.SetFeedback(ctx, "a-old", osprey.FeedbackFalsePositive, "alice", at(-9*day)))

		// Incidents: resolved long ago (with timeline, a notification and
		// a run), resolved recently, and open since long ago.
		oldInc := newIncident("i-old", osprey.IncidentResolved, -20*day)
		must(t, "save old incident", st.SaveIncident(ctx, oldInc, entry(osprey.TimelineOpened, "opened", -20*day)))
		must(t, "save recent incident", st.SaveIncident(ctx, newIncident("i-recent", osprey.IncidentResolved, -day)))
		openInc := newIncident("i-open", osprey.IncidentOpen, -20*day)
		must(t, "save open incident", st.SaveIncident(ctx, openInc))
		for _, n := range []store.Notification{
			newNotification("n-old", "i-old", "slack", "opened", "a", -20*day),
			newNotification("n-open", "i-open", "slack", "opened", "a", -20*day),
		} {
			if _, ok, err := st.ClaimNotification(ctx, n, at(-30*day)); err != nil || !ok {
				t.Fatalf("claim %s: %v %v", n.ID, ok, err)
			}
		}
		must(t, "run old", st.SaveRun(ctx, newRun("r-old", "i-old", -20*day)))
		must(t, "run open", st.SaveRun(ctx, newRun("r-open", "i-open", -20*day)))

		// Noise counters in two minutes, audit entries, silences and
		// maintenance windows on both sides of the cutoff.
		must(t, "noise", st.SaveIncidents(ctx, store.IncidentBatch{Noise: []store.NoiseCount{
			{Minute: at(-20 * day), Source: "alertmanager", Outcome: "opened", N: 3},
			{Minute: at(-20 * day), Source: "alertmanager", Outcome: "grouped", N: 5},
			{Minute: at(-day), Source: "alertmanager", Outcome: "opened", N: 1},
		}}))
		must(t, "audit", st.AppendAudit(ctx, auditEntry("old", -400*day), auditEntry("new", -day)))
		must(t, "silence old", st.SaveSilence(ctx, newSilence("s-old", -20*day, -19*day)))
		must(t, "silence new", st.SaveSilence(ctx, newSilence("s-new", -day, day)))
		oldWin := oneOffWindow("m-old")
		oldWin.StartsAt, oldWin.EndsAt = at(-20*day), at(-19*day)
		must(t, "window old", st.SaveMaintenance(ctx, oldWin))
		must(t, "window weekly", st.SaveMaintenance(ctx, weeklyWindow("m-weekly")))

		cut := at(-7 * day)
		got, err := st.Prune(ctx, store.PruneRequest{
			EventsBefore: at(-36 * time.Hour), EventsMaxSeq: evs[2].Seq,
			AnomaliesBefore: cut, IncidentsBefore: cut, NoiseBefore: cut,
			AuditBefore: at(-365 * day), SilencesBefore: cut,
			BatchSize: 2, // several batches for the events
		})
		must(t, "prune", err)
		same(t, "pruned counts", got, store.PruneResult{
			"events": 3, "anomalies": 1, "incidents": 1, "notifications": 1, "runbook_runs": 1,
			"noise_counts": 2, "audit_log": 1, "silences": 1, "maintenance_windows": 1,
		})

		left, err := st.ListEvents(ctx, store.EventQuery{OldestFirst: true})
		must(t, "list events", err)
		sameIDs(t, "events left", ids(left, eventID), []string{"e3", "e4"})
		for _, id := range []string{"a-recent", "a-open"} {
			if _, err := st.GetAnomaly(ctx, id); err != nil {
				t.Errorf("anomaly %s: %v", id, err)
			}
		}
		_, err = st.GetAnomaly(ctx, "a-old")
		wantErr(t, "pruned anomaly", err, osprey.ErrNotFound)
		_, err = st.GetFeedback(ctx, "a-old")
		if err == nil {
			t.Error("feedback of a pruned anomaly is still there")
		}
		_, err = st.GetIncident(ctx, "i-old")
		wantErr(t, "pruned incident", err, osprey.ErrNotFound)
		incs, err := st.ListIncidents(ctx, store.IncidentQuery{})
		must(t, "list incidents", err)
		sameIDs(t, "incidents left", ids(incs, incidentID), []string{"i-recent", "i-open"})
		notes, err := st.ListNotifications(ctx, store.NotificationQuery{})
		must(t, "list notifications", err)
		sameIDs(t, "notifications left", ids(notes, notificationID), []string{"n-open"})
		if _, err := st.GetRun(ctx, "r-old"); !errors.Is(err, osprey.ErrNotFound) {
			t.Errorf("run of a pruned incident: got %v, want not found", err)
		}
		if _, err := st.GetRun(ctx, "r-open"); err != nil {
			t.Errorf("run of an open incident: %v", err)
		}
		noise, err := st.NoiseCounts(ctx, time.Time{})
		must(t, "noise counts", err)
		if len(noise) != 1 || noise[0].N != 1 {
			t.Errorf("noise counts left: %+v, want only the recent minute's 1", noise)
		}
		audit, err := st.ListAudit(ctx, time.Time{}, 10)
		must(t, "list audit", err)
		sameIDs(t, "audit left", ids(audit, auditAction), []string{"new"})
		if _, err := st.GetSilence(ctx, "s-new"); err != nil {
			t.Errorf("current silence: %v", err)
		}
		_, err = st.GetSilence(ctx, "s-old")
		wantErr(t, "pruned silence", err, osprey.ErrNotFound)
		wins, err := st.ListMaintenance(ctx)
		must(t, "list maintenance", err)
		if len(wins) != 1 || wins[0].ID != "m-weekly" {
			t.Errorf("maintenance windows left: %v, want only the recurring m-weekly", wins)
		}

		// A second prune finds nothing more.
		got, err = st.Prune(ctx, store.PruneRequest{
			EventsBefore: at(-36 * time.Hour), EventsMaxSeq: evs[2].Seq,
			AnomaliesBefore: cut, IncidentsBefore: cut, NoiseBefore: cut,
			AuditBefore: at(-365 * day), SilencesBefore: cut,
		})
		must(t, "second prune", err)
		same(t, "second prune", got, store.PruneResult{})
	})
	t.Run("ZeroRequestKeepsAll", func(t *testing.T) {
		st := open(t)
		appendEvents(t, st, newEvent("e0", "X", osprey.Labels{"a": "b"}, -100*24*time.Hour))
		got, err := st.Prune(t.Context(), store.PruneRequest{EventsMaxSeq: 1 << 40})
		must(t, "prune", err)
		same(t, "pruned", got, store.PruneResult{})
		left, err := st.ListEvents(t.Context(), store.EventQuery{})
		must(t, "list", err)
		sameIDs(t, "events left", ids(left, eventID), []string{"e0"})
	})
}
