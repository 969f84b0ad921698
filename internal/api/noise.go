package api

import (
	"cmp"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/auth"
	"github.com/osprey-aiops/osprey/internal/correlate"
	"github.com/osprey-aiops/osprey/internal/store"
)

// routeNoise is the noise accounting route.
const routeNoise = "GET /api/v1/stats/noise"

// defaultNoiseWindow is the window of GET /api/v1/stats/noise without since.
const defaultNoiseWindow = 24 * time.Hour

// noiseResponse is the reply to GET /api/v1/stats/noise: what the correlate
// stage did with the signals it received in the window, per source and per
// rule, and how fast people acknowledged and resolved the incidents opened
// in it. Everything is read from the store, so it survives restarts and is
// the same on every replica sharing a database.
type noiseResponse struct {
	Since time.Time `json:"since"`
	Until time.Time `json:"until"`
	// Totals are the signal counts over every source and rule.
	Totals noiseFigures `json:"totals"`
	// Sources has one row per source (the receiver that sent the events,
	// or detect/<kind> for anomalies), most signals first.
	Sources []noiseRow `json:"sources"`
	// Rules has one row per source and rule (the event name, such as a
	// Prometheus alertname; "anomaly" for anomalies), most signals first.
	Rules         []noiseRow          `json:"rules"`
	Incidents     incidentTimes       `json:"incidents"`
	Notifications notificationFigures `json:"notifications"`
}

// noiseFigures are the signal counts of a source, a rule or all of them.
// Received is the sum of the outcomes; every signal has exactly one.
type noiseFigures struct {
	Received     int64 `json:"received"`
	Deduplicated int64 `json:"deduplicated"`
	Grouped      int64 `json:"grouped"`
	Opened       int64 `json:"opened"`
	// Suppressed is Silenced + Inhibited + Maintenance.
	Suppressed  int64 `json:"suppressed"`
	Silenced    int64 `json:"silenced"`
	Inhibited   int64 `json:"inhibited"`
	Maintenance int64 `json:"maintenance"`
	Ignored     int64 `json:"ignored"`
	// CompressionRatio is Received / Opened (signals in per incident
	// out); 0 when no incident was opened.
	CompressionRatio float64 `json:"compressionRatio"`
	// Reduction is 1 - Opened / Received: the share of signals that did
	// not become a new incident; 0 when nothing was received.
	Reduction float64 `json:"reduction"`
}

// noiseRow is the figures of one source, or one rule of a source.
type noiseRow struct {
	Source string `json:"source"`
	Rule   string `json:"rule,omitempty"`
	noiseFigures
}

// incidentTimes are the incidents opened in the window and how long they
// took to be acknowledged (by a person: the first incident.ack audit entry)
// and resolved (ResolvedAt, by a person or automatically).
type incidentTimes struct {
	Opened       int `json:"opened"`
	Acknowledged int `json:"acknowledged"`
	Resolved     int `json:"resolved"`
	// MTTASeconds and MTTRSeconds are the means over the acknowledged and
	// the resolved incidents; absent when there are none.
	MTTASeconds float64 `json:"mttaSeconds,omitempty"`
	MTTRSeconds float64 `json:"mttrSeconds,omitempty"`
	// Truncated is set when the window held more incidents or audit
	// entries than one store page (10,000); the figures then cover the
	// most recent ones.
	Truncated bool `json:"truncated,omitempty"`
}

// notificationFigures count the notification log rows claimed in the window
// by status, and the sent ones by receiver.
type notificationFigures struct {
	Sent       int            `json:"sent"`
	Failed     int            `json:"failed"`
	Sending    int            `json:"sending"`
	ByReceiver map[string]int `json:"byReceiver"`
	Truncated  bool           `json:"truncated,omitempty"`
}

// mountNoise serves the noise accounting to viewers.
func (a *API) mountNoise() {
	a.mux.Handle(routeNoise, a.auth.Require(auth.RoleViewer, http.HandlerFunc(a.noiseStats)))
}

// noiseStats serves GET /api/v1/stats/noise?since=24h (an RFC 3339 time or
// a duration before now; default 24h).
func (a *API) noiseStats(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if rerr := checkParams(q, "since"); rerr != nil {
		writeRequestError(w, rerr)
		return
	}
	now := a.now()
	since := now.Add(-defaultNoiseWindow)
	if s := q.Get("since"); s != "" {
		t, err := parseSince(s, now)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		since = t
	}
	ctx := r.Context()
	counts, err := a.store.NoiseCounts(ctx, since)
	if err != nil {
		a.storeError(w, "noise counts", err)
		return
	}
	resp := noiseResponse{Since: since.UTC().Truncate(time.Minute), Until: now.UTC()}
	resp.Totals, resp.Sources, resp.Rules = noiseTable(counts)

	incs, err := a.store.ListIncidents(ctx, store.IncidentQuery{UpdatedSince: since, Limit: store.MaxLimit})
	if err != nil {
		a.storeError(w, "list incidents", err)
		return
	}
	audit, err := a.store.ListAudit(ctx, since, store.MaxLimit)
	if err != nil {
		a.storeError(w, "list audit", err)
		return
	}
	resp.Incidents = incidentFigures(incs, audit, since)
	resp.Incidents.Truncated = len(incs) == store.MaxLimit || len(audit) == store.MaxLimit

	notes, err := a.store.ListNotifications(ctx, store.NotificationQuery{Limit: store.MaxLimit})
	if err != nil {
		a.storeError(w, "list notifications", err)
		return
	}
	resp.Notifications = notificationCounts(notes, since)
	writeJSON(w, http.StatusOK, resp)
}

// noiseTable sums the counters into totals, per-source and per-rule rows.
func noiseTable(counts []store.NoiseCount) (noiseFigures, []noiseRow, []noiseRow) {
	var total noiseFigures
	bySource := map[string]*noiseRow{}
	byRule := map[[2]string]*noiseRow{}
	for _, c := range counts {
		src := bySource[c.Source]
		if src == nil {
			src = &noiseRow{Source: c.Source}
			bySource[c.Source] = src
		}
		rule := byRule[[2]string{c.Source, c.Rule}]
		if rule == nil {
			rule = &noiseRow{Source: c.Source, Rule: c.Rule}
			byRule[[2]string{c.Source, c.Rule}] = rule
		}
		for _, f := range []*noiseFigures{&total, &src.noiseFigures, &rule.noiseFigures} {
			f.add(c.Outcome, c.N)
		}
	}
	total.derive()
	return total, rows(bySource), rows(byRule)
}

func rows[K comparable](m map[K]*noiseRow) []noiseRow {
	out := make([]noiseRow, 0, len(m))
	for _, r := range m {
		r.derive()
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b noiseRow) int {
		return cmp.Or(cmp.Compare(b.Received, a.Received), strings.Compare(a.Source, b.Source), strings.Compare(a.Rule, b.Rule))
	})
	return out
}

// add counts n signals with outcome.
func (f *noiseFigures) add(outcome string, n int64) {
	f.Received += n
	switch outcome {
	case correlate.OutcomeDeduplicated:
		f.Deduplicated += n
	case correlate.OutcomeGrouped:
		f.Grouped += n
	case correlate.OutcomeOpened:
		f.Opened += n
	case correlate.OutcomeSilenced:
		f.Silenced += n
		f.Suppressed += n
	case correlate.OutcomeInhibited:
		f.Inhibited += n
		f.Suppressed += n
	case correlate.OutcomeMaintenance:
		f.Maintenance += n
		f.Suppressed += n
	default:
		f.Ignored += n
	}
}

// derive sets the ratios from the counts.
func (f *noiseFigures) derive() {
	if f.Opened > 0 {
		f.CompressionRatio = float64(f.Received) / float64(f.Opened)
	}
	if f.Received > 0 {
		f.Reduction = 1 - float64(f.Opened)/float64(f.Received)
	}
}

// incidentFigures computes MTTA and MTTR over the incidents opened at or
// after since; audit holds the audit entries since then.
func incidentFigures(incs []osprey.Incident, audit []osprey.AuditEntry, since time.Time) incidentTimes {
	firstAck := map[string]time.Time{}
	for _, e := range audit {
		id, ok := strings.CutPrefix(e.Object, "incident/")
		if !ok || e.Action != correlate.AuditAck {
			continue
		}
		if t, seen := firstAck[id]; !seen || e.At.Before(t) {
			firstAck[id] = e.At
		}
	}
	var out incidentTimes
	var ack, res time.Duration
	for _, inc := range incs {
		if inc.OpenedAt.Before(since) {
			continue
		}
		out.Opened++
		if t, ok := firstAck[inc.ID]; ok && !t.Before(inc.OpenedAt) {
			out.Acknowledged++
			ack += t.Sub(inc.OpenedAt)
		}
		if inc.Status == osprey.IncidentResolved && !inc.ResolvedAt.IsZero() {
			out.Resolved++
			res += inc.ResolvedAt.Sub(inc.OpenedAt)
		}
	}
	if out.Acknowledged > 0 {
		out.MTTASeconds = ack.Seconds() / float64(out.Acknowledged)
	}
	if out.Resolved > 0 {
		out.MTTRSeconds = res.Seconds() / float64(out.Resolved)
	}
	return out
}

// notificationCounts counts the log rows claimed at or after since.
func notificationCounts(notes []store.Notification, since time.Time) notificationFigures {
	out := notificationFigures{ByReceiver: map[string]int{}}
	out.Truncated = len(notes) == store.MaxLimit && !notes[len(notes)-1].ClaimedAt.Before(since)
	for _, n := range notes {
		if n.ClaimedAt.Before(since) {
			continue
		}
		switch n.Status {
		case store.NotificationSent:
			out.Sent++
			out.ByReceiver[n.Receiver]++
		case store.NotificationFailed:
			out.Failed++
		default:
			out.Sending++
		}
	}
	return out
}
