package replay

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/config"
)

// SchemaVersion is the version of the report's JSON layout.
const SchemaVersion = 1

// Report is what a replay found. Everything but Header is a function of
// the inputs and the configuration: two replays of the same data give the
// same report body. Objects are named by refs (A1 for anomalies, I1 for
// incidents, R1 for runbook runs, E1 for events), numbered in time order,
// not by the random ids the store holds.
type Report struct {
	Schema int `json:"schema"`
	// Header holds what differs between two replays of the same data:
	// when, how fast, with which binary. Renderers can leave it out.
	Header *Header `json:"header,omitempty"`
	// From and To are the record times of the first and last item
	// replayed.
	From    time.Time     `json:"from,omitzero"`
	To      time.Time     `json:"to,omitzero"`
	Inputs  []InputReport `json:"inputs"`
	Results []Result      `json:"results"`
	// Diff compares Results[0] (A) with Results[1] (B).
	Diff *Diff `json:"diff,omitempty"`
}

// Header is the part of the report that depends on the run, not the data.
type Header struct {
	GeneratedAt time.Time `json:"generatedAt"`
	Version     string    `json:"version"`
	Timings     []Timing  `json:"timings"`
}

// Timing is how long one configuration's replay took, and where.
type Timing struct {
	Config           string  `json:"config"`
	Seconds          float64 `json:"seconds"`
	SamplesPerSecond float64 `json:"samplesPerSecond"`
	// Stages is the self time of each stage in seconds (time in a stage
	// minus the stages it called); see the Stage* constants.
	Stages map[string]float64 `json:"stages"`
}

// InputReport counts what one input delivered.
type InputReport struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
	// Series is the number of metric series the input holds.
	Series  int   `json:"series,omitempty"`
	Samples int64 `json:"samples,omitempty"`
	Lines   int64 `json:"lines,omitempty"`
	// UntimedLines were skipped: no line before them carried a time.
	UntimedLines int64     `json:"untimedLines,omitempty"`
	Events       int64     `json:"events,omitempty"`
	First        time.Time `json:"first,omitzero"`
	Last         time.Time `json:"last,omitzero"`
	// Injected describes a synthetic input's injected anomalies.
	Injected []string `json:"injected,omitempty"`
}

// Result is what one configuration would have done.
type Result struct {
	// Config is "default", or "A" and "B" for a comparison.
	Config        string              `json:"config"`
	ConfigPath    string              `json:"configPath,omitempty"`
	Settings      Settings            `json:"settings"`
	Noise         Noise               `json:"noise"`
	Anomalies     AnomalySummary      `json:"anomalies"`
	Incidents     IncidentSummary     `json:"incidents"`
	Runbooks      RunbookSummary      `json:"runbooks"`
	Notifications NotificationSummary `json:"notifications"`
	LogSources    []LogSourceReport   `json:"logSources,omitempty"`
}

// Settings are the configuration values that shape the result.
type Settings struct {
	Detect           bool     `json:"detect"`
	Logs             bool     `json:"logs"`
	LogAnomalies     bool     `json:"logAnomalies"`
	CorrelateWindow  string   `json:"correlateWindow"`
	CorrelateGroupBy []string `json:"correlateGroupBy"`
	Runbooks         int      `json:"runbooks"`
}

// Noise is the pipeline's compression: signals in, incidents out.
type Noise struct {
	Samples  int64 `json:"samples"`
	LogLines int64 `json:"logLines"`
	// UnscoredSamples and UnminedLines reached no detector (detect or
	// logs disabled).
	UnscoredSamples int64 `json:"unscoredSamples,omitempty"`
	UnminedLines    int64 `json:"unminedLines,omitempty"`
	Events          int   `json:"events"`
	Anomalies       int   `json:"anomalies"`
	// Signals is Events + Anomalies: what the correlator was given.
	Signals   int `json:"signals"`
	Incidents int `json:"incidents"`
	// CompressionRatio is Signals / Incidents (0 without incidents).
	CompressionRatio float64 `json:"compressionRatio"`
}

// AnomalySummary lists the anomalies found.
type AnomalySummary struct {
	Total int `json:"total"`
	// Ongoing had not ended when the data did.
	Ongoing    int            `json:"ongoing"`
	ByKind     map[string]int `json:"byKind"`
	BySeverity map[string]int `json:"bySeverity"`
	TopSeries  []SeriesCount  `json:"topSeries"`
	List       []AnomalyItem  `json:"list"`
	// Omitted anomalies are counted above but not listed (ListLimit).
	Omitted int `json:"omitted,omitempty"`
}

// SeriesCount is a series and how many anomalies it had.
type SeriesCount struct {
	Series string `json:"series"`
	Count  int    `json:"count"`
}

// AnomalyItem is one anomaly.
type AnomalyItem struct {
	Ref         string        `json:"ref"`
	Kind        string        `json:"kind"`
	Series      string        `json:"series"`
	Labels      osprey.Labels `json:"labels"`
	TemplateID  string        `json:"templateId,omitempty"`
	Fingerprint string        `json:"fingerprint"`
	StartsAt    time.Time     `json:"startsAt"`
	EndsAt      time.Time     `json:"endsAt,omitzero"`
	Score       float64       `json:"score"`
	Severity    string        `json:"severity"`
	Observed    float64       `json:"observed"`
	Expected    float64       `json:"expected"`
	// Explanation is the detectors' evidence, strongest first.
	Explanation string `json:"explanation"`
	// Incident is the ref of the incident the anomaly joined.
	Incident string `json:"incident,omitempty"`
}

// IncidentSummary lists the incidents opened.
type IncidentSummary struct {
	Total int `json:"total"`
	// Unresolved were still open when the data ended.
	Unresolved int            `json:"unresolved"`
	List       []IncidentItem `json:"list"`
	Omitted    int            `json:"omitted,omitempty"`
}

// IncidentItem is one incident.
type IncidentItem struct {
	Ref        string         `json:"ref"`
	Title      string         `json:"title"`
	Status     string         `json:"status"`
	Severity   string         `json:"severity"`
	Labels     osprey.Labels  `json:"labels,omitempty"`
	OpenedAt   time.Time      `json:"openedAt"`
	ResolvedAt time.Time      `json:"resolvedAt,omitzero"`
	Members    []MemberItem   `json:"members"`
	Causes     []CauseItem    `json:"causes"`
	Runs       []string       `json:"runs,omitempty"`
	Timeline   []TimelineItem `json:"timeline"`
}

// MemberItem is one incident member.
type MemberItem struct {
	Kind      string        `json:"kind"`
	Name      string        `json:"name"`
	Labels    osprey.Labels `json:"labels,omitempty"`
	Severity  string        `json:"severity"`
	Status    string        `json:"status"`
	FirstSeen time.Time     `json:"firstSeen"`
	LastSeen  time.Time     `json:"lastSeen"`
	Count     int           `json:"count"`
	// Ref is the first anomaly's or event's ref.
	Ref         string `json:"ref"`
	Fingerprint string `json:"fingerprint"`
}

// CauseItem is one ranked root-cause candidate.
type CauseItem struct {
	Kind        string   `json:"kind"`
	Name        string   `json:"name"`
	Score       float64  `json:"score"`
	Explanation string   `json:"explanation"`
	Evidence    []string `json:"evidence,omitempty"`
}

// TimelineItem is one timeline entry of an incident.
type TimelineItem struct {
	At      time.Time `json:"at"`
	Kind    string    `json:"kind"`
	Message string    `json:"message"`
	Ref     string    `json:"ref,omitempty"`
}

// RunbookSummary is what remediation would have done. A replay never
// executes an action: every runbook is forced to dry-run, so each run is a
// plan (the exact argv or HTTP request) of what would have run.
type RunbookSummary struct {
	DryRunForced bool          `json:"dryRunForced"`
	Note         string        `json:"note"`
	ByRunbook    []RunbookItem `json:"byRunbook"`
	Runs         []RunItem     `json:"runs"`
	Omitted      int           `json:"omitted,omitempty"`
}

// RunbookItem counts one runbook's runs.
type RunbookItem struct {
	Runbook string `json:"runbook"`
	// Mode is the runbook's configured mode (dry-run, approval, auto);
	// the replay planned it as dry-run whatever it is.
	Mode string `json:"mode"`
	// Runs were planned; PlanRefused of them failed planning (a value
	// refused by its pattern, a missing label).
	Runs        int `json:"runs"`
	PlanRefused int `json:"planRefused"`
	// Blocked counts triggers a guardrail stopped, by reason.
	Blocked   map[string]int `json:"blocked,omitempty"`
	Incidents []string       `json:"incidents"`
}

// RunItem is one planned run.
type RunItem struct {
	Ref         string       `json:"ref"`
	Runbook     string       `json:"runbook"`
	Mode        string       `json:"mode"`
	Incident    string       `json:"incident"`
	RequestedAt time.Time    `json:"requestedAt"`
	Status      string       `json:"status"`
	Actions     []ActionItem `json:"actions"`
}

// ActionItem is one planned action.
type ActionItem struct {
	Step   string   `json:"step"`
	Type   string   `json:"type"`
	Args   []string `json:"args,omitempty"`
	Status string   `json:"status"`
	Note   string   `json:"note,omitempty"`
}

// NotificationSummary is what notifications would have been sent: the
// notification stage (internal/notify) ran with the configuration's
// receivers and routes on the virtual clock, its messages rendered and
// never sent. Available is false when no receiver is configured.
type NotificationSummary struct {
	Available bool   `json:"available"`
	Note      string `json:"note"`
	// Total counts the notifications; ByReceiver has every configured
	// receiver, in configuration order.
	Total      int                     `json:"total"`
	ByReceiver []ReceiverNotifications `json:"byReceiver"`
	List       []NotificationItem      `json:"list"`
	Omitted    int                     `json:"omitted,omitempty"`
}

// ReceiverNotifications counts one receiver's notifications by kind
// (opened, escalated, acknowledged, resolved, repeat).
type ReceiverNotifications struct {
	Receiver string         `json:"receiver"`
	Type     string         `json:"type"`
	Total    int            `json:"total"`
	ByKind   map[string]int `json:"byKind"`
}

// NotificationItem is one notification that would have been sent.
type NotificationItem struct {
	Ref      string    `json:"ref"`
	At       time.Time `json:"at"`
	Receiver string    `json:"receiver"`
	// Type is the receiver's kind (slack, pagerduty, email, webhook,
	// alertmanager); Kind the notification's; Key its notification log key.
	Type     string `json:"type"`
	Kind     string `json:"kind"`
	Key      string `json:"key"`
	Incident string `json:"incident"`
	// Payload is what would have been sent (HTTP body or e-mail), with
	// store ids replaced by refs.
	Payload string `json:"payload"`
}

// NotificationKinds are the kinds counted per receiver, in report order.
var NotificationKinds = []string{"opened", "escalated", "acknowledged", "resolved", "repeat"}

// LogSourceReport counts the mining of one log source.
type LogSourceReport struct {
	Source    string `json:"source"`
	Lines     int64  `json:"lines"`
	Templates int    `json:"templates"`
	Overflow  int64  `json:"overflow,omitempty"`
}

// Diff compares two configurations' results on the same data. An anomaly
// of A matches one of B with the same fingerprint whose time span
// overlaps; an incident of A matches one of B that shares a member
// fingerprint and whose time span overlaps. Spans still open at the end
// of the data run to its end.
type Diff struct {
	A         string  `json:"a"`
	B         string  `json:"b"`
	Anomalies DiffSet `json:"anomalies"`
	Incidents DiffSet `json:"incidents"`
	// Notifications counts each side's notifications by kind (and
	// "total"); they are not matched one to one.
	Notifications NotificationDiff `json:"notifications"`
}

// NotificationDiff is the notification counts of both sides.
type NotificationDiff struct {
	A map[string]int `json:"a"`
	B map[string]int `json:"b"`
}

// notificationCounts counts a result's notifications by kind, with "total".
func notificationCounts(r *Result) map[string]int {
	m := map[string]int{"total": r.Notifications.Total}
	for _, k := range NotificationKinds {
		m[k] = 0
	}
	for _, rn := range r.Notifications.ByReceiver {
		for k, n := range rn.ByKind {
			m[k] += n
		}
	}
	return m
}

// DiffSet is one kind of object compared.
type DiffSet struct {
	OnlyA []DiffItem `json:"onlyA"`
	OnlyB []DiffItem `json:"onlyB"`
	// Both counts the objects of A that B has too.
	Both int `json:"both"`
}

// DiffItem names an object of one side.
type DiffItem struct {
	Ref  string    `json:"ref"`
	What string    `json:"what"`
	At   time.Time `json:"at"`
}

// ListLimit caps the anomalies, incidents and runs listed per result in
// the JSON report; the rest are counted in Omitted.
const ListLimit = 10000

// topSeries is the number of series in AnomalySummary.TopSeries.
const topSeries = 10

// dryRunNote says what the runbook section means.
const dryRunNote = "replay never executes actions: every runbook was forced to dry-run, " +
	"so each run below is the plan (exact argv or HTTP request) of what its configured mode would have started; " +
	"approval runs would also have waited for a person, and guardrails (cooldowns, max runs per hour, max targets) " +
	"were applied as in production"

// noNotifyNote explains the empty notification section.
const noNotifyNote = "the configuration has no notification receivers: no notification would have been sent"

// notifyNote says what the notification section means.
const notifyNote = "nothing was sent: each notification below was rendered as its receiver would have received it " +
	"(group_wait, repeat_interval, routes, silences and rate limits applied in replay time); " +
	"notifications falling due after the end of the data are not listed"

// build turns what a pipeline recorded into a Result.
func (p *pipeline) build(name, path string, in *inputCounts) Result {
	cfg := &p.cfg
	r := Result{
		Config:     name,
		ConfigPath: path,
		Settings: Settings{
			Detect:           cfg.Detect.Enabled,
			Logs:             cfg.Logs.Enabled,
			LogAnomalies:     cfg.Logs.Enabled && cfg.Logs.Anomalies,
			CorrelateWindow:  cfg.Correlate.Window.String(),
			CorrelateGroupBy: slices.Clone(cfg.Correlate.GroupBy),
			Runbooks:         len(cfg.Remediation.Runbooks),
		},
	}
	rec := p.rec
	refs := make(map[string]string)

	// Anomalies, in time order.
	anoms := make([]osprey.Anomaly, 0, len(rec.anoms))
	for _, id := range rec.anomOrder {
		anoms = append(anoms, rec.anoms[id])
	}
	slices.SortStableFunc(anoms, func(a, b osprey.Anomaly) int {
		return cmp.Or(a.StartsAt.Compare(b.StartsAt), cmp.Compare(a.Labels.String(), b.Labels.String()),
			cmp.Compare(a.TemplateID, b.TemplateID), cmp.Compare(a.Fingerprint, b.Fingerprint))
	})
	for i, a := range anoms {
		refs[a.ID] = fmt.Sprintf("A%d", i+1)
	}
	for i, id := range rec.eventOrder {
		refs[id] = fmt.Sprintf("E%d", i+1)
	}

	// Incidents, in time order.
	incs := make([]osprey.Incident, 0, len(rec.incs))
	for _, id := range rec.incOrder {
		incs = append(incs, rec.incs[id])
	}
	slices.SortStableFunc(incs, func(a, b osprey.Incident) int {
		return cmp.Or(a.OpenedAt.Compare(b.OpenedAt), cmp.Compare(a.Title, b.Title))
	})
	incOf := make(map[string]string) // anomaly or event id -> incident ref
	for i, inc := range incs {
		ref := fmt.Sprintf("I%d", i+1)
		refs[inc.ID] = ref
		for _, m := range inc.Members {
			incOf[m.FirstRef] = ref
			incOf[m.LastRef] = ref
		}
		for _, e := range rec.entries[inc.ID] {
			if e.Ref != "" {
				if _, ok := incOf[e.Ref]; !ok {
					incOf[e.Ref] = ref
				}
			}
		}
	}

	// Runs, in time order.
	runs := make([]osprey.RunbookRun, 0, len(rec.runs))
	for _, id := range rec.runOrder {
		runs = append(runs, rec.runs[id])
	}
	slices.SortStableFunc(runs, func(a, b osprey.RunbookRun) int {
		return cmp.Or(a.RequestedAt.Compare(b.RequestedAt), cmp.Compare(a.Runbook, b.Runbook),
			cmp.Compare(refs[a.IncidentID], refs[b.IncidentID]))
	})
	for i, run := range runs {
		refs[run.ID] = fmt.Sprintf("R%d", i+1)
	}
	notes := p.sortedNotes(refs)
	ref := func(id string) string {
		if r, ok := refs[id]; ok {
			return r
		}
		return id
	}

	// The anomaly section.
	as := AnomalySummary{Total: len(anoms), ByKind: map[string]int{}, BySeverity: map[string]int{}, List: []AnomalyItem{}}
	perSeries := make(map[string]int)
	for _, a := range anoms {
		as.ByKind[string(a.Kind)]++
		as.BySeverity[a.Severity.String()]++
		if a.Active() {
			as.Ongoing++
		}
		series := a.Labels.String()
		perSeries[series]++
		if len(as.List) >= ListLimit {
			as.Omitted++
			continue
		}
		as.List = append(as.List, AnomalyItem{
			Ref: ref(a.ID), Kind: string(a.Kind), Series: series, Labels: a.Labels, TemplateID: a.TemplateID,
			Fingerprint: a.Fingerprint.String(), StartsAt: a.StartsAt.UTC(), EndsAt: a.EndsAt.UTC(),
			Score: round4(a.Score), Severity: a.Severity.String(), Observed: round4(a.Observed), Expected: round4(a.Expected),
			Explanation: explain(a.Evidence), Incident: incOf[a.ID],
		})
	}
	for s, n := range perSeries {
		as.TopSeries = append(as.TopSeries, SeriesCount{Series: s, Count: n})
	}
	slices.SortFunc(as.TopSeries, func(a, b SeriesCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Series, b.Series))
	})
	as.TopSeries = as.TopSeries[:min(len(as.TopSeries), topSeries)]
	if as.TopSeries == nil {
		as.TopSeries = []SeriesCount{}
	}
	r.Anomalies = as

	// The runbook section (before incidents, which list their runs).
	rs := RunbookSummary{DryRunForced: true, Note: dryRunNote, ByRunbook: []RunbookItem{}, Runs: []RunItem{}}
	modes := make(map[string]string)
	byName := make(map[string]*RunbookItem)
	for _, rb := range cfg.Remediation.Runbooks {
		modes[rb.Name] = rb.Mode.String()
		rs.ByRunbook = append(rs.ByRunbook, RunbookItem{Runbook: rb.Name, Mode: rb.Mode.String(), Incidents: []string{}})
	}
	for i := range rs.ByRunbook {
		byName[rs.ByRunbook[i].Runbook] = &rs.ByRunbook[i]
	}
	runsOf := make(map[string][]string)
	for _, run := range runs {
		if it := byName[run.Runbook]; it != nil {
			it.Runs++
			if run.Status == osprey.RunFailed {
				it.PlanRefused++
			}
			if inc := ref(run.IncidentID); !slices.Contains(it.Incidents, inc) {
				it.Incidents = append(it.Incidents, inc)
			}
		}
		runsOf[run.IncidentID] = append(runsOf[run.IncidentID], ref(run.ID))
		if len(rs.Runs) >= ListLimit {
			rs.Omitted++
			continue
		}
		item := RunItem{Ref: ref(run.ID), Runbook: run.Runbook, Mode: modes[run.Runbook], Incident: ref(run.IncidentID),
			RequestedAt: run.RequestedAt.UTC(), Status: string(run.Status), Actions: []ActionItem{}}
		for _, a := range run.Actions {
			note := a.Error
			if note == "" {
				note = a.Output
			}
			item.Actions = append(item.Actions, ActionItem{Step: a.Target, Type: a.Type, Args: a.Args, Status: string(a.Status), Note: note})
		}
		rs.Runs = append(rs.Runs, item)
	}
	for _, b := range rec.blocks {
		if it := byName[b.runbook]; it != nil {
			if it.Blocked == nil {
				it.Blocked = map[string]int{}
			}
			it.Blocked[b.reason]++
		}
	}
	r.Runbooks = rs

	// The incident section.
	is := IncidentSummary{Total: len(incs), List: []IncidentItem{}}
	for _, inc := range incs {
		if inc.Status != osprey.IncidentResolved {
			is.Unresolved++
		}
		if len(is.List) >= ListLimit {
			is.Omitted++
			continue
		}
		it := IncidentItem{Ref: ref(inc.ID), Title: inc.Title, Status: string(inc.Status), Severity: inc.Severity.String(),
			Labels: inc.Labels, OpenedAt: inc.OpenedAt.UTC(), ResolvedAt: inc.ResolvedAt.UTC(),
			Members: []MemberItem{}, Causes: []CauseItem{}, Runs: runsOf[inc.ID], Timeline: []TimelineItem{}}
		for _, m := range inc.Members {
			it.Members = append(it.Members, MemberItem{Kind: string(m.Kind), Name: m.Name, Labels: m.Labels,
				Severity: m.Severity.String(), Status: string(m.Status), FirstSeen: m.FirstSeen.UTC(), LastSeen: m.LastSeen.UTC(),
				Count: m.Count, Ref: ref(m.FirstRef), Fingerprint: m.Fingerprint.String()})
		}
		for _, c := range inc.Causes {
			ev := make([]string, 0, len(c.EvidenceIDs))
			for _, id := range c.EvidenceIDs {
				ev = append(ev, ref(id))
			}
			it.Causes = append(it.Causes, CauseItem{Kind: string(c.Kind), Name: c.Name, Score: round4(c.Score),
				Explanation: replaceIDs(c.Explanation, refs), Evidence: ev})
		}
		for _, e := range rec.entries[inc.ID] {
			it.Timeline = append(it.Timeline, TimelineItem{At: e.At.UTC(), Kind: string(e.Kind),
				Message: replaceIDs(e.Message, refs), Ref: ref(e.Ref)})
		}
		is.List = append(is.List, it)
	}
	r.Incidents = is

	// Log sources.
	if p.logSet != nil {
		srcs := p.logSet.Sources()
		slices.Sort(srcs)
		for _, src := range srcs {
			st := p.logSet.Stats(src)
			r.LogSources = append(r.LogSources, LogSourceReport{Source: src, Lines: st.Lines, Templates: st.Templates, Overflow: st.Overflow})
		}
	}

	r.Notifications = p.notificationSummary(notes, refs)

	r.Noise = Noise{
		Samples: in.samples, LogLines: in.lines, UnscoredSamples: p.unscored, UnminedLines: p.unmined,
		Events: len(rec.eventOrder), Anomalies: len(anoms), Incidents: len(incs),
	}
	r.Noise.Signals = r.Noise.Events + r.Noise.Anomalies
	if r.Noise.Incidents > 0 {
		r.Noise.CompressionRatio = round4(float64(r.Noise.Signals) / float64(r.Noise.Incidents))
	}
	return r
}

// sortedNotes returns the notifications captured in report order (time,
// receiver in configuration order, incident ref; one incident's at one
// receiver in the order sent) and gives them refs N1, N2, ... (their log
// rows' ids, which timeline entries name, get the same).
func (p *pipeline) sortedNotes(refs map[string]string) []sentNote {
	if p.notes == nil {
		return nil
	}
	idx := make(map[string]int)
	for i, rc := range p.cfg.Notifications.Receivers {
		idx[rc.Name] = i
	}
	notes := p.notes.notes()
	slices.SortStableFunc(notes, func(a, b sentNote) int {
		return cmp.Or(a.at.Compare(b.at), cmp.Compare(idx[a.receiver], idx[b.receiver]),
			cmp.Compare(len(refs[a.incident]), len(refs[b.incident])), cmp.Compare(refs[a.incident], refs[b.incident]))
	})
	rows := p.notes.rowIDs()
	for i, n := range notes {
		ref := fmt.Sprintf("N%d", i+1)
		if id, ok := rows[n.incident+"\x00"+n.receiver+"\x00"+n.key]; ok {
			refs[id] = ref
		}
	}
	return notes
}

// notificationSummary builds the notification section from the
// notifications in report order.
func (p *pipeline) notificationSummary(notes []sentNote, refs map[string]string) NotificationSummary {
	if p.notes == nil {
		return NotificationSummary{Note: noNotifyNote, ByReceiver: []ReceiverNotifications{}, List: []NotificationItem{}}
	}
	ns := NotificationSummary{Available: true, Note: notifyNote, List: []NotificationItem{}}
	idx := make(map[string]int)
	for _, rc := range p.cfg.Notifications.Receivers {
		idx[rc.Name] = len(ns.ByReceiver)
		by := make(map[string]int, len(NotificationKinds))
		for _, k := range NotificationKinds {
			by[k] = 0
		}
		ns.ByReceiver = append(ns.ByReceiver, ReceiverNotifications{Receiver: rc.Name, Type: rc.Type(), ByKind: by})
	}
	items := make([]NotificationItem, 0, len(notes))
	for i, n := range notes {
		inc := refs[n.incident]
		if inc == "" {
			inc = n.incident
		}
		items = append(items, NotificationItem{Ref: fmt.Sprintf("N%d", i+1), At: n.at.UTC(), Receiver: n.receiver,
			Type: n.receiverKind, Kind: n.kind, Key: n.key, Incident: inc, Payload: replaceIDs(string(n.payload), refs)})
	}
	for _, it := range items {
		rn := &ns.ByReceiver[idx[it.Receiver]]
		rn.Total++
		rn.ByKind[it.Kind]++
		ns.Total++
	}
	if len(items) > ListLimit {
		ns.Omitted = len(items) - ListLimit
		items = items[:ListLimit]
	}
	ns.List = append(ns.List, items...)
	return ns
}

// explain joins an anomaly's evidence into one sentence per detector.
func explain(ev []osprey.Evidence) string {
	parts := make([]string, 0, len(ev))
	for _, e := range ev {
		if e.Reason == "" {
			continue
		}
		parts = append(parts, e.Detector+": "+e.Reason)
	}
	return strings.Join(parts, "; ")
}

// replaceIDs replaces the store ids in s (explanations quote evidence ids)
// by their refs.
func replaceIDs(s string, refs map[string]string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r >= '0' && r <= '9' }) {
		return s
	}
	// ULIDs are 26 characters of Crockford base32.
	var b strings.Builder
	for i := 0; i < len(s); {
		if i+26 <= len(s) && isULID(s[i:i+26]) && (i+26 == len(s) || !isCrockford(s[i+26])) {
			if r, ok := refs[s[i:i+26]]; ok {
				b.WriteString(r)
				i += 26
				continue
			}
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

func isULID(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isCrockford(s[i]) {
			return false
		}
	}
	return true
}

func isCrockford(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' && c != 'I' && c != 'L' && c != 'O' && c != 'U'
}

// round4 rounds to four decimals, so that reports do not carry the last
// bits of float arithmetic.
func round4(v float64) float64 {
	if v != v || v > 1e15 || v < -1e15 {
		return v
	}
	return float64(int64(v*1e4+copysignHalf(v))) / 1e4
}

func copysignHalf(v float64) float64 {
	if v < 0 {
		return -0.5
	}
	return 0.5
}

// diff compares a and b.
func diff(a, b *Result, end time.Time) *Diff {
	d := &Diff{A: a.Config, B: b.Config}
	span := func(from, to time.Time) (time.Time, time.Time) {
		if to.IsZero() {
			to = end
		}
		return from, to
	}
	overlap := func(f1, t1, f2, t2 time.Time) bool { return !f1.After(t2) && !f2.After(t1) }

	matchAnoms := func(x, y []AnomalyItem) ([]DiffItem, int) {
		byFP := make(map[string][]*AnomalyItem)
		for i := range y {
			byFP[y[i].Fingerprint] = append(byFP[y[i].Fingerprint], &y[i])
		}
		var only []DiffItem
		both := 0
		for _, ax := range x {
			f1, t1 := span(ax.StartsAt, ax.EndsAt)
			found := false
			for _, ay := range byFP[ax.Fingerprint] {
				f2, t2 := span(ay.StartsAt, ay.EndsAt)
				if overlap(f1, t1, f2, t2) {
					found = true
					break
				}
			}
			if found {
				both++
			} else {
				only = append(only, DiffItem{Ref: ax.Ref, What: ax.Kind + " " + ax.Series, At: ax.StartsAt})
			}
		}
		if only == nil {
			only = []DiffItem{}
		}
		return only, both
	}
	d.Anomalies.OnlyA, d.Anomalies.Both = matchAnoms(a.Anomalies.List, b.Anomalies.List)
	d.Anomalies.OnlyB, _ = matchAnoms(b.Anomalies.List, a.Anomalies.List)

	matchIncs := func(x, y []IncidentItem) ([]DiffItem, int) {
		byFP := make(map[string][]*IncidentItem)
		for i := range y {
			for _, m := range y[i].Members {
				byFP[m.Fingerprint] = append(byFP[m.Fingerprint], &y[i])
			}
		}
		var only []DiffItem
		both := 0
		for _, ix := range x {
			f1, t1 := span(ix.OpenedAt, ix.ResolvedAt)
			found := false
			for _, m := range ix.Members {
				for _, iy := range byFP[m.Fingerprint] {
					f2, t2 := span(iy.OpenedAt, iy.ResolvedAt)
					if overlap(f1, t1, f2, t2) {
						found = true
						break
					}
				}
				if found {
					break
				}
			}
			if found {
				both++
			} else {
				only = append(only, DiffItem{Ref: ix.Ref, What: ix.Title, At: ix.OpenedAt})
			}
		}
		if only == nil {
			only = []DiffItem{}
		}
		return only, both
	}
	d.Incidents.OnlyA, d.Incidents.Both = matchIncs(a.Incidents.List, b.Incidents.List)
	d.Incidents.OnlyB, _ = matchIncs(b.Incidents.List, a.Incidents.List)
	d.Notifications = NotificationDiff{A: notificationCounts(a), B: notificationCounts(b)}
	return d
}

// NamedConfig is a configuration to replay with.
type NamedConfig struct {
	// Name is "default", or "A" and "B" for a comparison.
	Name string
	// Path is the file it was loaded from, for the report ("" for the
	// built-in defaults).
	Path   string
	Config config.Config
}
