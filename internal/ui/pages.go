package ui

import (
	"cmp"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/ingest"
	"github.com/osprey-aiops/osprey/internal/remediate"
	"github.com/osprey-aiops/osprey/internal/store"
)

// Page bounds.
const (
	anomalyPageDefault = 30
	anomalyPageMax     = 100
	templatePageLimit  = 200
	runPageLimit       = 100
)

// anomalyRow is one anomaly of the explorer.
type anomalyRow struct {
	A        osprey.Anomaly
	Title    string
	Feedback osprey.Feedback
	Chart    chartView
}

// anomaliesData is the anomaly explorer's data.
type anomaliesData struct {
	Kind, Since string
	Active      bool
	Limit       int
	Kinds       []string
	Rows        []anomalyRow
}

func (u *UI) anomalies(w http.ResponseWriter, r *http.Request, v *view) {
	ctx := r.Context()
	q := r.URL.Query()
	d := anomaliesData{Kind: q.Get("kind"), Since: cmp.Or(q.Get("since"), "24h"), Active: q.Get("active") != "",
		Limit: anomalyPageDefault, Kinds: []string{"", "metric", "log", "forecast"}}
	if n, err := strconv.Atoi(q.Get("limit")); err == nil && n > 0 {
		d.Limit = min(n, anomalyPageMax)
	}
	window, err := time.ParseDuration(d.Since)
	if err != nil || window <= 0 {
		u.fail(w, r, v, http.StatusBadRequest, "since: want a duration such as 1h or 24h.")
		return
	}
	// Read more than shown when filtering by kind.
	limit := d.Limit
	if d.Kind != "" {
		limit = anomalyPageMax * 5
	}
	list, err := u.opts.Store.ListAnomalies(ctx, store.AnomalyQuery{Since: u.opts.Now().Add(-window), ActiveOnly: d.Active, Limit: limit})
	if u.storeFailed(w, r, v, "anomalies", err) {
		return
	}
	for i := range list {
		a := &list[i]
		if d.Kind != "" && string(a.Kind) != d.Kind {
			continue
		}
		if len(d.Rows) == d.Limit {
			break
		}
		fb, err := u.opts.Store.GetFeedback(ctx, a.ID)
		if err != nil && !errors.Is(err, osprey.ErrNotFound) {
			u.storeFailed(w, r, v, "anomaly feedback", err)
			return
		}
		c := u.anomalyChart(ctx, a, time.Time{}, time.Time{})
		d.Rows = append(d.Rows, anomalyRow{A: *a, Title: c.Title, Feedback: fb, Chart: c})
	}
	v.Title, v.Nav, v.Data = "Anomalies", "anomalies", d
	u.render(w, http.StatusOK, "anomalies.html", v)
}

// templatesData is the log templates page's data.
type templatesData struct {
	Source, Q string
	Templates []osprey.LogTemplate
}

func (u *UI) templates(w http.ResponseWriter, r *http.Request, v *view) {
	q := r.URL.Query()
	d := templatesData{Source: strings.TrimSpace(q.Get("source")), Q: strings.TrimSpace(q.Get("q"))}
	var err error
	d.Templates, err = u.opts.Store.ListTemplates(r.Context(), d.Source, d.Q, templatePageLimit)
	if u.storeFailed(w, r, v, "log templates", err) {
		return
	}
	v.Title, v.Nav, v.Data = "Log templates", "log-templates", d
	u.render(w, http.StatusOK, "templates.html", v)
}

// silenceRow is one silence with its state.
type silenceRow struct {
	osprey.Silence
	State string
}

// silencesData is the silences page's data.
type silencesData struct {
	Current, Expired []silenceRow
	// Prefill is the matcher text the create form starts with.
	Prefill string
	// Maintenance are the maintenance windows (GET /api/v1/maintenance);
	// MaintenanceError says why they are missing.
	Maintenance      []maintenanceRow
	MaintenanceError string
	// Days are the weekday names of the weekly window form.
	Days []string
}

// maxExpiredShown caps the expired silences listed.
const maxExpiredShown = 50

func (u *UI) silences(w http.ResponseWriter, r *http.Request, v *view) {
	all, err := u.opts.Store.ListSilences(r.Context(), time.Time{})
	if u.storeFailed(w, r, v, "silences", err) {
		return
	}
	now := u.opts.Now()
	d := silencesData{Prefill: r.URL.Query().Get("matchers"), Days: []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}}
	if err := u.apiGet(r, "/api/v1/maintenance", &d.Maintenance); err != nil {
		u.log.Warn("ui maintenance windows", "err", err)
		d.MaintenanceError = "The maintenance windows could not be read."
	}
	for _, s := range all {
		row := silenceRow{Silence: s, State: silenceState(s, now)}
		if row.State == "expired" {
			d.Expired = append(d.Expired, row)
		} else {
			d.Current = append(d.Current, row)
		}
	}
	// Most recently ended first.
	slices.SortFunc(d.Expired, func(a, b silenceRow) int { return b.EndsAt.Compare(a.EndsAt) })
	if len(d.Expired) > maxExpiredShown {
		d.Expired = d.Expired[:maxExpiredShown]
	}
	v.Title, v.Nav, v.Data = "Silences", "silences", d
	u.render(w, http.StatusOK, "silences.html", v)
}

// silenceState is active, pending (not started) or expired at now.
func silenceState(s osprey.Silence, now time.Time) string {
	switch {
	case !s.EndsAt.After(now):
		return "expired"
	case s.StartsAt.After(now):
		return "pending"
	}
	return "active"
}

// runbooksData is the runbooks page's data.
type runbooksData struct {
	Enabled  bool
	Paused   bool
	Runbooks []remediate.Runbook
	Runs     []osprey.RunbookRun
	Pending  int
}

func (u *UI) runbooks(w http.ResponseWriter, r *http.Request, v *view) {
	d := runbooksData{}
	if eng := u.opts.Remediation; eng != nil {
		d.Enabled, d.Paused, d.Runbooks = true, eng.Paused(), eng.Runbooks()
	}
	var err error
	d.Runs, err = u.opts.Store.ListRuns(r.Context(), "", runPageLimit)
	if u.storeFailed(w, r, v, "runbook runs", err) {
		return
	}
	for _, run := range d.Runs {
		if run.Status == osprey.RunPendingApproval {
			d.Pending++
		}
	}
	v.Title, v.Nav, v.Data = "Runbooks", "runbooks", d
	u.render(w, http.StatusOK, "runbooks.html", v)
}

// receiverRow is one receiver's counts on the ingest page.
type receiverRow struct {
	Name     string
	S        ingest.ReceiverSnapshot
	Rejected []count
	Warnings []count
}

type count struct {
	Name string
	N    uint64
}

// ingestData is the ingest page's data.
type ingestData struct {
	Receivers []receiverRow
	Series    int64 // active TSDB series, -1 when unknown
}

// seriesCounter is the metric store's active-series count.
type seriesCounter interface{ NumSeries() uint64 }

func (u *UI) ingest(w http.ResponseWriter, _ *http.Request, v *view) {
	d := ingestData{Series: -1}
	if sc, ok := u.opts.Metrics.(seriesCounter); ok {
		d.Series = int64(sc.NumSeries())
	}
	for name, s := range u.opts.Stats.Snapshot() {
		row := receiverRow{Name: name, S: s}
		for reason, n := range s.Rejected {
			if n > 0 {
				row.Rejected = append(row.Rejected, count{string(reason), n})
			}
		}
		for warn, n := range s.Warnings {
			if n > 0 {
				row.Warnings = append(row.Warnings, count{string(warn), n})
			}
		}
		byName := func(a, b count) int { return strings.Compare(a.Name, b.Name) }
		slices.SortFunc(row.Rejected, byName)
		slices.SortFunc(row.Warnings, byName)
		d.Receivers = append(d.Receivers, row)
	}
	slices.SortFunc(d.Receivers, func(a, b receiverRow) int { return strings.Compare(a.Name, b.Name) })
	v.Title, v.Nav, v.Data = "Ingest", "ingest", d
	u.render(w, http.StatusOK, "ingest.html", v)
}
