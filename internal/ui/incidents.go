package ui

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/store"
)

// Bounds of the incident pages.
const (
	incidentListLimit = 200
	// noiseWindow is the period of the noise figures.
	noiseWindow       = 24 * time.Hour
	maxIncidentCharts = 8
	maxTemplateScan   = 5000
	notificationLimit = 100
)

// incidentRow is one incident of the list.
type incidentRow struct {
	osprey.Incident
	Services []string
	Reports  int // reports of all members (before dedup)
	TopCause *osprey.Cause
}

// noise are the headline noise figures over noiseWindow, from the noise
// accounting (GET /api/v1/stats/noise) and the active incidents.
type noise struct {
	Window string
	// Reports is the signals the correlator received (alerts and
	// anomalies, repeats included); Distinct those that became incident
	// members (grouped into one or opening one); Incidents those that
	// opened an incident.
	Reports, Distinct, Incidents int64
	// Open is the incidents open or acknowledged now (at most
	// incidentListLimit, OpenTruncated when there are more).
	Open          int
	OpenTruncated bool
	// Events is the number of events the alert receivers accepted since
	// the start of the process.
	Events uint64
	// PerIncident is Reports / Incidents.
	PerIncident string
	// Reduction is 1 − Incidents / Reports, as a percentage.
	Reduction string
}

// incidentsData is the incidents page's data.
type incidentsData struct {
	Status, Severity string
	Statuses         []string
	Severities       []string
	Rows             []incidentRow
	Noise            noise
	// Stats is the noise accounting of GET /api/v1/stats/noise over
	// noiseWindow; nil with StatsError when it could not be read.
	Stats      *noiseStats
	StatsError string
	Query      string // the filter as a query string, for the fragment URL
}

// eventReceivers are the ingest receivers whose items are events (alerts).
var eventReceivers = []string{"events_api", "alertmanager", "alertmanager_v2", "grafana"}

func (u *UI) incidents(w http.ResponseWriter, r *http.Request, v *view) {
	q := r.URL.Query()
	d := incidentsData{
		Status:     cmp.Or(q.Get("status"), "active"),
		Severity:   q.Get("severity"),
		Statuses:   []string{"active", "open", "acknowledged", "resolved", "all"},
		Severities: []string{"", "info", "warning", "error", "critical"},
	}
	var statuses []osprey.IncidentStatus
	switch d.Status {
	case "active":
		statuses = []osprey.IncidentStatus{osprey.IncidentOpen, osprey.IncidentAcknowledged}
	case "all":
	default:
		st := osprey.IncidentStatus(d.Status)
		if !st.Valid() {
			u.fail(w, r, v, http.StatusBadRequest, "Unknown status filter "+d.Status+".")
			return
		}
		statuses = []osprey.IncidentStatus{st}
	}
	minSev := osprey.SeverityUnknown
	if d.Severity != "" {
		s, err := osprey.ParseSeverity(d.Severity)
		if err != nil {
			u.fail(w, r, v, http.StatusBadRequest, "Unknown severity filter "+d.Severity+".")
			return
		}
		minSev = s
	}
	incs, err := u.opts.Store.ListIncidents(r.Context(), store.IncidentQuery{Statuses: statuses, Limit: incidentListLimit})
	if u.storeFailed(w, r, v, "incidents", err) {
		return
	}
	for _, inc := range incs {
		if inc.Severity < minSev {
			continue
		}
		d.Rows = append(d.Rows, rowOf(inc))
	}
	active := incs
	if d.Status != "active" {
		active, err = u.opts.Store.ListIncidents(r.Context(), store.IncidentQuery{
			Statuses: []osprey.IncidentStatus{osprey.IncidentOpen, osprey.IncidentAcknowledged}, Limit: incidentListLimit})
		if u.storeFailed(w, r, v, "incidents", err) {
			return
		}
	}
	st, err := u.noiseStats(r)
	if err != nil {
		u.log.Warn("ui noise stats", "err", err)
		d.StatsError = "The noise accounting could not be read."
	} else {
		d.Stats = &st
	}
	d.Noise = u.noise(d.Stats, len(active))
	d.Query = "status=" + d.Status + "&severity=" + d.Severity
	v.Title, v.Nav, v.Data = "Incidents", "incidents", d
	if q.Get("fragment") != "" {
		u.renderTemplate(w, http.StatusOK, "incidents.html", "live", v)
		return
	}
	u.render(w, http.StatusOK, "incidents.html", v)
}

func rowOf(inc osprey.Incident) incidentRow {
	row := incidentRow{Incident: inc, Services: servicesOf(&inc)}
	for _, m := range inc.Members {
		row.Reports += max(m.Count, 1)
	}
	if len(inc.Causes) > 0 {
		row.TopCause = &inc.Causes[0]
	}
	return row
}

// servicesOf lists the services an incident concerns: its identity label and
// its members'.
func servicesOf(inc *osprey.Incident) []string {
	set := map[string]bool{}
	if s := inc.Labels[osprey.LabelService]; s != "" {
		set[s] = true
	}
	for _, m := range inc.Members {
		if s := m.Labels[osprey.LabelService]; s != "" {
			set[s] = true
		}
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// noise computes the headline figures from the noise accounting (nil
// when it could not be read) and the number of active incidents.
func (u *UI) noise(st *noiseStats, open int) noise {
	n := noise{Window: "24 h", Open: open, OpenTruncated: open >= incidentListLimit}
	snap := u.opts.Stats.Snapshot()
	for _, name := range eventReceivers {
		n.Events += snap[name].Items.Accepted
	}
	if st == nil {
		return n
	}
	t := st.Totals
	n.Reports, n.Distinct, n.Incidents = t.Received, t.Grouped+t.Opened, t.Opened
	if n.Incidents > 0 {
		n.PerIncident = formatNum(float64(int(float64(n.Reports)/float64(n.Incidents)*10+0.5)) / 10)
	}
	if n.Reports > 0 {
		n.Reduction = formatNum(float64(int((1-float64(n.Incidents)/float64(n.Reports))*1000+0.5))/10) + "%"
	}
	return n
}

// noiseStatsTTL is how long the incidents page reuses the noise accounting
// it read: the page refreshes every few seconds in every open tab, and the
// accounting reads a day of incidents and the notification log.
const noiseStatsTTL = 15 * time.Second

// noiseCache holds the last noise accounting read.
type noiseCache struct {
	mu sync.Mutex
	at time.Time
	st noiseStats
}

// noiseStats returns the noise accounting of the last noiseWindow, read
// through the API with r's credentials at most once per noiseStatsTTL.
func (u *UI) noiseStats(r *http.Request) (noiseStats, error) {
	now := u.opts.Now()
	u.noiseCache.mu.Lock()
	defer u.noiseCache.mu.Unlock()
	if c := &u.noiseCache; !c.at.IsZero() && now.Sub(c.at) < noiseStatsTTL && now.Sub(c.at) >= 0 {
		return c.st, nil
	}
	var st noiseStats
	if err := u.apiGet(r, "/api/v1/stats/noise?since="+noiseWindow.String(), &st); err != nil {
		return st, err
	}
	st.Sources = st.Sources[:min(len(st.Sources), maxNoiseRows)]
	st.Rules = st.Rules[:min(len(st.Rules), maxNoiseRows)]
	u.noiseCache.at, u.noiseCache.st = now, st
	return st, nil
}

// causeView is a root-cause candidate with its evidence resolved to names.
type causeView struct {
	Rank     int
	Cause    osprey.Cause
	Evidence []evidenceRef
}

// evidenceRef is one piece of evidence behind a cause.
type evidenceRef struct {
	ID, Name, Kind string
	// Anomaly is set when the evidence is an anomaly (the page links it).
	Anomaly bool
}

// logView is a log template involved in an incident.
type logView struct {
	TemplateID string
	Source     string
	Template   *osprey.LogTemplate
	Samples    []string
	Evidence   []osprey.Evidence
	AnomalyID  string
}

// incidentData is the incident page's data.
type incidentData struct {
	Inc      osprey.Incident
	Services []string
	Reports  int
	Causes   []causeView
	Charts   []chartView
	Logs     []logView
	Runs     []osprey.RunbookRun
	// Notes is the incident's notification log, most recent first.
	Notes    []store.Notification
	Timeline []osprey.TimelineEntry
	// Silence is the matcher text that prefills the silence form.
	Silence string
}

func (u *UI) incident(w http.ResponseWriter, r *http.Request, v *view) {
	ctx := r.Context()
	inc, err := u.opts.Store.GetIncident(ctx, r.PathValue("id"))
	if u.storeFailed(w, r, v, "incident", err) {
		return
	}
	row := rowOf(inc)
	d := incidentData{Inc: inc, Services: row.Services, Reports: row.Reports, Timeline: inc.Timeline}
	slices.Reverse(d.Timeline) // newest first
	if svc := inc.Labels[osprey.LabelService]; svc != "" {
		d.Silence = osprey.LabelService + `="` + svc + `"`
	}

	// The anomalies of the members, for charts, log templates and the
	// names of the causes' evidence.
	names := map[string]evidenceRef{}
	for _, m := range inc.Members {
		for _, ref := range []string{m.FirstRef, m.LastRef} {
			names[ref] = evidenceRef{ID: ref, Name: m.Name, Kind: string(m.Kind), Anomaly: m.Kind == osprey.MemberAnomaly}
		}
	}
	from := inc.OpenedAt.Add(-chartLead)
	to := u.opts.Now()
	if !inc.ResolvedAt.IsZero() {
		to = inc.ResolvedAt.Add(chartTail)
	}
	var logAnomalies []*osprey.Anomaly
	for _, m := range inc.Members {
		if m.Kind != osprey.MemberAnomaly {
			continue
		}
		a, err := u.opts.Store.GetAnomaly(ctx, m.LastRef)
		if errors.Is(err, osprey.ErrNotFound) {
			continue
		}
		if u.storeFailed(w, r, v, "anomaly", err) {
			return
		}
		if a.Kind == osprey.AnomalyLog {
			logAnomalies = append(logAnomalies, &a)
		}
		if len(d.Charts) < maxIncidentCharts {
			mfrom := earlier(from, a.StartsAt.Add(-chartLead))
			d.Charts = append(d.Charts, u.anomalyChart(ctx, &a, mfrom, to))
		}
	}
	for i, c := range inc.Causes {
		cv := causeView{Rank: i + 1, Cause: c}
		for _, id := range c.EvidenceIDs {
			ref, ok := names[id]
			if !ok {
				ref = evidenceRef{ID: id, Name: shortID(id)}
			}
			cv.Evidence = append(cv.Evidence, ref)
		}
		d.Causes = append(d.Causes, cv)
	}
	d.Logs, err = u.logViews(ctx, logAnomalies)
	if u.storeFailed(w, r, v, "log templates", err) {
		return
	}
	d.Runs, err = u.opts.Store.ListRuns(ctx, inc.ID, 50)
	if u.storeFailed(w, r, v, "runbook runs", err) {
		return
	}
	d.Notes, err = u.opts.Store.ListNotifications(ctx, store.NotificationQuery{IncidentID: inc.ID, Limit: notificationLimit})
	if u.storeFailed(w, r, v, "notifications", err) {
		return
	}
	v.Title, v.Nav, v.Data = inc.Title, "incidents", d
	u.render(w, http.StatusOK, "incident.html", v)
}

// earlier returns the earlier of a and b.
func earlier(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// logViews resolves the log anomalies' templates and sample lines.
func (u *UI) logViews(ctx context.Context, as []*osprey.Anomaly) ([]logView, error) {
	byID := map[string]*logView{}
	var out []*logView
	sources := map[string]bool{}
	for _, a := range as {
		id := a.TemplateID
		lv := byID[id]
		if lv == nil || id == "" {
			lv = &logView{TemplateID: id, Source: a.Labels[labelSource], AnomalyID: a.ID}
			if id != "" {
				byID[id] = lv
			}
			out = append(out, lv)
			sources[lv.Source] = true
		}
		for _, e := range a.Evidence {
			if e.Detector == "log_sample" {
				if len(lv.Samples) < 5 && !slices.Contains(lv.Samples, e.Reason) {
					lv.Samples = append(lv.Samples, e.Reason)
				}
				continue
			}
			lv.Evidence = append(lv.Evidence, e)
		}
	}
	for src := range sources {
		if len(byID) == 0 {
			break
		}
		tps, err := u.opts.Store.ListTemplates(ctx, src, "", maxTemplateScan)
		if err != nil {
			return nil, err
		}
		for i := range tps {
			if lv := byID[tps[i].ID]; lv != nil {
				lv.Template = &tps[i]
				if len(lv.Samples) == 0 && tps[i].Sample != "" {
					lv.Samples = []string{tps[i].Sample}
				}
			}
		}
	}
	res := make([]logView, len(out))
	for i, lv := range out {
		res[i] = *lv
	}
	slices.SortFunc(res, func(a, b logView) int { return strings.Compare(a.TemplateID, b.TemplateID) })
	return res, nil
}
