package storetest

import (
	"math"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/store"
)

// newAnomaly returns an active metric anomaly of series labels that started
// at base+start.
func newAnomaly(id string, labels osprey.Labels, start time.Duration) osprey.Anomaly {
	return osprey.Anomaly{
		ID:          id,
		Kind:        osprey.AnomalyMetric,
		Labels:      labels,
		Score:       0.93,
		Observed:    1234.5,
		Expected:    200.25,
		Lower:       150,
		Upper:       250.125,
		Severity:    osprey.SeverityWarning,
		StartsAt:    at(start),
		Fingerprint: labels.Fingerprint(),
		Evidence: []osprey.Evidence{
			{Detector: "mad", Score: 0.97, Reason: "value 1234.5 is 8.1 MADs above the median"},
			{Detector: "seasonal", Score: 0.88, Reason: "3x the same hour last week"},
		},
	}
}

func testAnomalies(t *testing.T, open Opener) {
	t.Run("RoundTrip", func(t *testing.T) {
		st := open(t)
		metric := newAnomaly("an-1", osprey.Labels{"__name__": "http_latency_seconds", "service": "api"}, 0)
		metric.EndsAt = at(time.Minute)
		metric.Upper = math.Inf(1) // an open band
		metric.Lower = -math.MaxFloat64
		logs := osprey.Anomaly{
			ID: "an-2", Kind: osprey.AnomalyLog, Labels: osprey.Labels{"source": "syslog"}, TemplateID: "tpl-9",
			Score: 1, Observed: 40, Expected: 0.5, Upper: 3, Severity: osprey.SeverityError,
			StartsAt: at(time.Second), Fingerprint: osprey.Fingerprint(math.MaxUint64),
		}
		minimal := osprey.Anomaly{ID: "an-3"}
		must(t, "save", st.SaveAnomalies(t.Context(), []osprey.Anomaly{metric, logs, minimal}))
		for _, want := range []osprey.Anomaly{metric, logs, minimal} {
			got, err := st.GetAnomaly(t.Context(), want.ID)
			must(t, "get", err)
			same(t, want.ID, got, want)
		}
	})

	t.Run("GetMissing", func(t *testing.T) {
		_, err := open(t).GetAnomaly(t.Context(), "nope")
		wantErr(t, "get missing anomaly", err, osprey.ErrNotFound)
	})

	t.Run("Replace", func(t *testing.T) {
		st := open(t)
		a := newAnomaly("an-1", osprey.Labels{"service": "api"}, 0)
		must(t, "save", st.SaveAnomalies(t.Context(), []osprey.Anomaly{a}))
		a.EndsAt, a.Score, a.Evidence = at(time.Hour), 0.5, a.Evidence[:1]
		must(t, "replace", st.SaveAnomalies(t.Context(), []osprey.Anomaly{a}))
		got, err := st.GetAnomaly(t.Context(), a.ID)
		must(t, "get", err)
		same(t, "replaced", got, a)
	})

	t.Run("LastInBatchWins", func(t *testing.T) {
		st := open(t)
		a := newAnomaly("an-1", osprey.Labels{"service": "api"}, 0)
		b := a
		b.Score = 0.1
		must(t, "save", st.SaveAnomalies(t.Context(), []osprey.Anomaly{a, b}))
		got, err := st.GetAnomaly(t.Context(), a.ID)
		must(t, "get", err)
		same(t, "saved", got, b)
	})

	t.Run("BadBatchStoresNothing", func(t *testing.T) {
		st := open(t)
		err := st.SaveAnomalies(t.Context(), []osprey.Anomaly{newAnomaly("an-1", nil, 0), {}})
		if err == nil {
			t.Fatal("saving an anomaly without ID succeeded")
		}
		_, err = st.GetAnomaly(t.Context(), "an-1")
		wantErr(t, "get from rejected batch", err, osprey.ErrNotFound)
	})

	t.Run("List", func(t *testing.T) {
		st := open(t)
		api, db := osprey.Labels{"service": "api"}, osprey.Labels{"service": "db"}
		all := map[string]osprey.Anomaly{
			"a0": newAnomaly("a0", api, 0),
			"a1": newAnomaly("a1", db, time.Minute),
			"a2": newAnomaly("a2", api, 2*time.Minute),
			"a3": newAnomaly("a3", db, 3*time.Minute),
		}
		ended := all["a2"]
		ended.EndsAt = at(150 * time.Second)
		all["a2"] = ended
		ended = all["a1"]
		ended.EndsAt = at(90 * time.Second)
		all["a1"] = ended
		must(t, "save", st.SaveAnomalies(t.Context(), []osprey.Anomaly{all["a2"], all["a0"], all["a3"], all["a1"]}))
		cases := []struct {
			name string
			q    store.AnomalyQuery
			want []string
		}{
			{"all newest start first", store.AnomalyQuery{}, []string{"a3", "a2", "a1", "a0"}},
			{"limit", store.AnomalyQuery{Limit: 3}, []string{"a3", "a2", "a1"}},
			{"since is inclusive", store.AnomalyQuery{Since: at(time.Minute)}, []string{"a3", "a2", "a1"}},
			{"fingerprint", store.AnomalyQuery{Fingerprint: api.Fingerprint()}, []string{"a2", "a0"}},
			{"active only", store.AnomalyQuery{ActiveOnly: true}, []string{"a3", "a0"}},
			{"all filters", store.AnomalyQuery{Fingerprint: db.Fingerprint(), ActiveOnly: true, Since: at(time.Minute)}, []string{"a3"}},
			{"no match", store.AnomalyQuery{Since: at(time.Hour)}, nil},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				got, err := st.ListAnomalies(t.Context(), tc.q)
				must(t, "list", err)
				sameIDs(t, "anomalies", ids(got, anomalyID), tc.want)
				for _, a := range got {
					same(t, "listed "+a.ID, a, all[a.ID])
				}
			})
		}
	})
}

func testFeedback(t *testing.T, open Opener) {
	t.Run("SetReplaceGet", func(t *testing.T) {
		st := open(t)
		a := newAnomaly("an-1", osprey.Labels{"service": "api"}, 0)
		must(t, "save", st.SaveAnomalies(t.Context(), []osprey.Anomaly{a, newAnomaly("an-2", nil, 0)}))
		_, err := st.GetFeedback(t.Context(), "an-1")
		wantErr(t, "feedback before any", err, osprey.ErrNotFound)

		steps := []struct {
			name string
			fb   osprey.Feedback
		}{
			{"set", osprey.FeedbackFalsePositive},
			{"replace", osprey.FeedbackTruePositive},
		}
		for _, step := range steps {
			must(t, step.name, st.SetFeedback(t.Context(), "an-1", step.fb, "alice", at(time.Minute)))
			got, err := st.GetFeedback(t.Context(), "an-1")
			must(t, "get after "+step.name, err)
			if got != step.fb {
				t.Errorf("after %s: feedback %q, want %q", step.name, got, step.fb)
			}
		}
		_, err = st.GetFeedback(t.Context(), "an-2")
		wantErr(t, "feedback on another anomaly", err, osprey.ErrNotFound)

		// Replacing the anomaly keeps the verdict on it.
		a.EndsAt = at(time.Hour)
		must(t, "replace anomaly", st.SaveAnomalies(t.Context(), []osprey.Anomaly{a}))
		got, err := st.GetFeedback(t.Context(), "an-1")
		must(t, "get after anomaly replaced", err)
		if got != osprey.FeedbackTruePositive {
			t.Errorf("after anomaly replaced: feedback %q, want %q", got, osprey.FeedbackTruePositive)
		}
	})

	t.Run("MissingAnomaly", func(t *testing.T) {
		st := open(t)
		err := st.SetFeedback(t.Context(), "nope", osprey.FeedbackTruePositive, "alice", at(0))
		wantErr(t, "set feedback on missing anomaly", err, osprey.ErrNotFound)
		_, err = st.GetFeedback(t.Context(), "nope")
		wantErr(t, "get feedback on missing anomaly", err, osprey.ErrNotFound)
	})
}
