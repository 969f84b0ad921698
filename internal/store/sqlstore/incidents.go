package sqlstore

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/store"
)

// Incidents are stored in three tables: incidents holds one row per incident
// with every field but its members and timeline; incident_members holds one
// row per member, keyed by (incident_id, pos) where pos is the member's index
// in Incident.Members, with the member as JSON; timeline holds the entries.
// A member update writes one row, so the cost of a change does not grow with
// the size of the incident.

var incidentColList = []string{
	"id", "title", "status", "severity", "labels", "assignee",
	"opened_at", "updated_at", "resolved_at", "causes",
}

var memberColList = []string{"incident_id", "pos", "fingerprint", "member"}

var incidentCols = strings.Join(incidentColList, ", ")

// keptCauses is what an IncidentChange with KeepCauses writes as causes:
// no JSON encoding is empty, so the upsert (incidentUpsertSQL) keeps the
// stored causes where it finds it, and scanIncident reads it, in a row
// created by such a change, as no causes.
const keptCauses = ""

// incidentUpsertSQL is upsertSQL for n incident rows, except that a row
// whose causes are keptCauses leaves the stored causes as they are.
func incidentUpsertSQL(n int) string {
	return upsertSQLSet("incidents", incidentColList, n, map[string]string{
		"causes": "CASE WHEN excluded.causes = '" + keptCauses + "' THEN incidents.causes ELSE excluded.causes END",
	})
}

const timelineCols = "seq, at, kind, actor, message, ref"

// SaveIncident creates or replaces inc, with all its members, and appends
// entries to its timeline in one transaction, setting each entry's Seq.
func (s *Store) SaveIncident(ctx context.Context, inc osprey.Incident, entries ...osprey.TimelineEntry) error {
	b := store.IncidentBatch{Changes: []store.IncidentChange{{Incident: inc, AllMembers: true, Entries: entries}}}
	if err := s.SaveIncidents(ctx, b); err != nil {
		return err
	}
	return nil
}

// SaveIncidents writes the batch in one transaction: the incident rows, the
// changed members, the timeline entries (whose Seqs it sets), the noise
// counts and the checkpoint.
func (s *Store) SaveIncidents(ctx context.Context, b store.IncidentBatch) error {
	var w incidentWrite
	for i := range b.Changes {
		if err := w.add(&b.Changes[i]); err != nil {
			return err
		}
	}
	noise, err := noiseRows(b.Noise)
	if err != nil {
		return fmt.Errorf("save incidents: %w", err)
	}
	var seqs []int64
	err = s.inTx(ctx, func(tx Querier) error {
		if err := upsertRowsWith(ctx, tx, len(incidentColList), w.incidents, s.sqlFor("incidents", incidentUpsertSQL)); err != nil {
			return fmt.Errorf("incidents: %w", err)
		}
		for _, id := range w.replace {
			if _, err := tx.Exec(ctx, "DELETE FROM incident_members WHERE incident_id = $1", id); err != nil {
				return fmt.Errorf("members of %s: %w", id, err)
			}
		}
		if err := upsertMembers(ctx, tx, w.members, s.sqlFor("members", memberUpsertSQL)); err != nil {
			return err
		}
		var err error
		if seqs, err = insertTimeline(ctx, tx, w.timeline, s.sqlFor("timeline", timelineInsertSQL)); err != nil {
			return err
		}
		if err := addNoise(ctx, tx, noise, s.sqlFor("noise", noiseUpsertSQL)); err != nil {
			return err
		}
		if b.CheckpointName != "" {
			if _, err := tx.Exec(ctx, upsertCheckpoint, b.CheckpointName, b.CheckpointPosition); err != nil {
				return fmt.Errorf("checkpoint %s: %w", b.CheckpointName, err)
			}
		}
		return nil
	})
	if err != nil {
		if len(b.Changes) == 1 {
			return fmt.Errorf("save incident %s: %w", b.Changes[0].Incident.ID, err)
		}
		return fmt.Errorf("save %d incidents: %w", len(b.Changes), err)
	}
	k := 0
	for i := range b.Changes {
		for j := range b.Changes[i].Entries {
			b.Changes[i].Entries[j].Seq = seqs[k]
			k++
		}
	}
	return nil
}

// incidentWrite holds the encoded rows of a batch.
type incidentWrite struct {
	incidents []any // rows of incidentColList
	members   []any // rows of memberColList
	timeline  []any // rows of timelineInsertCols
	// replace lists the incidents whose stored members are deleted before
	// the members are written.
	replace []string
	// buf is reused to encode causes and members.
	buf []byte
}

func (w *incidentWrite) add(ch *store.IncidentChange) error {
	inc := &ch.Incident
	n := len(ch.Members)
	if ch.AllMembers {
		n = len(inc.Members)
	}
	w.members = slices.Grow(w.members, n*len(memberColList))
	if inc.ID == "" {
		return fmt.Errorf("save incident: %w", osprey.Permanent(fmt.Errorf("no id")))
	}
	a := args{list: w.incidents}
	a.add(inc.ID, inc.Title, string(inc.Status), int64(inc.Severity))
	a.json(inc.Labels)
	a.add(inc.Assignee)
	a.time(inc.OpenedAt)
	a.time(inc.UpdatedAt)
	a.time(inc.ResolvedAt)
	if ch.KeepCauses {
		a.add(keptCauses)
	} else {
		var err error
		w.buf, err = appendCauses(w.buf[:0], inc.Causes)
		a.keep(err)
		a.add(string(w.buf))
	}
	w.incidents = a.list
	if a.err != nil {
		return fmt.Errorf("save incident %s: %w", inc.ID, a.err)
	}
	if ch.AllMembers {
		w.replace = append(w.replace, inc.ID)
		for i := range inc.Members {
			if err := w.member(inc, i); err != nil {
				return err
			}
		}
	} else {
		for _, i := range ch.Members {
			if i < 0 || i >= len(inc.Members) {
				return fmt.Errorf("save incident %s: %w", inc.ID, osprey.Permanent(fmt.Errorf("member index %d out of range [0, %d)", i, len(inc.Members))))
			}
			if err := w.member(inc, i); err != nil {
				return err
			}
		}
	}
	for i := range ch.Entries {
		e := &ch.Entries[i]
		a := args{list: w.timeline}
		a.add(inc.ID)
		a.time(e.At)
		a.add(string(e.Kind), e.Actor, e.Message, e.Ref)
		w.timeline = a.list
		if a.err != nil {
			return fmt.Errorf("save incident %s: timeline entry %d: %w", inc.ID, i, a.err)
		}
	}
	return nil
}

func (w *incidentWrite) member(inc *osprey.Incident, i int) error {
	m := inc.Members[i]
	if err := checkMemberTimes(m); err != nil {
		return fmt.Errorf("save incident %s: member %d: %w", inc.ID, i, err)
	}
	var fp [16]byte
	w.buf = appendMember(w.buf[:0], m)
	w.members = append(w.members, inc.ID, int64(i), string(appendHex16(fp[:0], uint64(m.Fingerprint))), string(w.buf))
	return nil
}

// checkMemberTimes refuses member times that RFC 3339 cannot represent, as
// json.Marshal does.
func checkMemberTimes(m *osprey.Member) error {
	for _, t := range []time.Time{m.FirstSeen, m.LastSeen} {
		if y := t.Year(); y < 0 || y > 9999 {
			return fmt.Errorf("time %s: year outside [0,9999]", t)
		}
	}
	return nil
}

// memberUpsertSQL is the statement of upsertMembers for n rows.
func memberUpsertSQL(n int) string {
	return valuesSQL("INSERT INTO incident_members (incident_id, pos, fingerprint, member) VALUES ", n, len(memberColList), " ON CONFLICT (incident_id, pos) DO UPDATE SET fingerprint = excluded.fingerprint, member = excluded.member")
}

// upsertMembers writes member rows, replacing those at the same (incident,
// position), with the statements of stmt (memberUpsertSQL); of duplicates
// in vals, the last wins.
func upsertMembers(ctx context.Context, tx Querier, vals []any, stmt func(rows int) string) error {
	width := len(memberColList)
	type key struct {
		id  string
		pos int64
	}
	last := make(map[key]int, len(vals)/width)
	for i := 0; i < len(vals); i += width {
		last[key{vals[i].(string), vals[i+1].(int64)}] = i
	}
	if len(last) < len(vals)/width {
		kept := make([]any, 0, len(last)*width)
		for i := 0; i < len(vals); i += width {
			if last[key{vals[i].(string), vals[i+1].(int64)}] == i {
				kept = append(kept, vals[i:i+width]...)
			}
		}
		vals = kept
	}
	return inChunks(vals, width, func(part []any, rows int) error {
		if _, err := tx.Exec(ctx, stmt(rows), part...); err != nil {
			return fmt.Errorf("members: %w", err)
		}
		return nil
	})
}

// timelineInsertCols are the columns insertTimeline writes.
var timelineInsertCols = []string{"incident_id", "at", "kind", "actor", "message", "ref"}

// timelineInsertSQL is the statement of insertTimeline for n rows.
func timelineInsertSQL(n int) string {
	return valuesSQL("INSERT INTO timeline (incident_id, at, kind, actor, message, ref) VALUES ", n, len(timelineInsertCols), " RETURNING seq")
}

// insertTimeline inserts timeline rows in order and returns the Seqs the
// database assigned, in the same order. Rows of one statement get
// increasing Seqs in the order of their VALUES, so the returned Seqs,
// sorted, belong to the rows in order. stmt gives the statement for n rows
// (timelineInsertSQL).
func insertTimeline(ctx context.Context, tx Querier, vals []any, stmt func(rows int) string) ([]int64, error) {
	width := len(timelineInsertCols)
	seqs := make([]int64, 0, len(vals)/width)
	err := inChunks(vals, width, func(part []any, rows int) error {
		from := len(seqs)
		err := collect(ctx, tx, stmt(rows), part, func(r Rows) error {
			var seq int64
			if err := r.Scan(&seq); err != nil {
				return err
			}
			seqs = append(seqs, seq)
			return nil
		})
		if err != nil {
			return err
		}
		if got := len(seqs) - from; got != rows {
			return fmt.Errorf("%d Seqs returned for %d entries", got, rows)
		}
		slices.Sort(seqs[from:])
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("timeline: %w", err)
	}
	return seqs, nil
}

// AppendTimeline appends entries to an existing incident's timeline, setting
// each entry's Seq, or returns osprey.ErrNotFound.
func (s *Store) AppendTimeline(ctx context.Context, incidentID string, entries ...osprey.TimelineEntry) error {
	var vals []any
	for i := range entries {
		e := &entries[i]
		a := args{list: vals}
		a.add(incidentID)
		a.time(e.At)
		a.add(string(e.Kind), e.Actor, e.Message, e.Ref)
		vals = a.list
		if a.err != nil {
			return fmt.Errorf("append timeline: entry %d: %w", i, a.err)
		}
	}
	var seqs []int64
	err := s.inTx(ctx, func(tx Querier) error {
		var one int64
		err := queryRow(ctx, tx, "SELECT 1 FROM incidents WHERE id = $1", []any{incidentID}, &one)
		if err != nil {
			return notFound(err, "incident", incidentID)
		}
		seqs, err = insertTimeline(ctx, tx, vals, s.sqlFor("timeline", timelineInsertSQL))
		return err
	})
	if err != nil {
		return fmt.Errorf("append timeline: %w", err)
	}
	for i := range entries {
		entries[i].Seq = seqs[i]
	}
	return nil
}

// GetIncident returns the incident with id, its members and its timeline,
// oldest entry first, or osprey.ErrNotFound.
func (s *Store) GetIncident(ctx context.Context, id string) (osprey.Incident, error) {
	inc, err := one(ctx, s.db, "SELECT "+incidentCols+" FROM incidents WHERE id = $1", []any{id}, scanIncident)
	if err != nil {
		return osprey.Incident{}, fmt.Errorf("get incident: %w", notFound(err, "incident", id))
	}
	incs := []osprey.Incident{inc}
	if err := s.loadMembers(ctx, incs); err != nil {
		return osprey.Incident{}, fmt.Errorf("get incident %s: %w", id, err)
	}
	inc = incs[0]
	inc.Timeline, err = all(ctx, s.db, "SELECT "+timelineCols+" FROM timeline WHERE incident_id = $1 ORDER BY seq",
		[]any{id}, 64, scanTimelineEntry)
	if err != nil {
		return osprey.Incident{}, fmt.Errorf("get incident %s timeline: %w", id, err)
	}
	if len(inc.Timeline) == 0 {
		inc.Timeline = nil
	}
	return inc, nil
}

// ListIncidents returns incidents matching q, most recently updated first
// (ties by descending ID), with their members and without timelines.
func (s *Store) ListIncidents(ctx context.Context, q store.IncidentQuery) ([]osprey.Incident, error) {
	var f filter
	if len(q.Statuses) > 0 {
		ps := make([]string, len(q.Statuses))
		for i, st := range q.Statuses {
			ps[i] = f.arg(string(st))
		}
		f.where("status IN (" + strings.Join(ps, ", ") + ")")
	}
	if err := f.notBefore("updated_at", q.UpdatedSince); err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	limit := store.ClampLimit(q.Limit)
	sql := "SELECT " + incidentCols + " FROM incidents" + f.clause() +
		" ORDER BY updated_at DESC, id DESC LIMIT " + f.arg(int64(limit))
	incs, err := all(ctx, s.db, sql, f.args, limit, scanIncident)
	if err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	if err := s.loadMembers(ctx, incs); err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	return incs, nil
}

// membersPerQuery bounds the incident ids of one members query.
const membersPerQuery = 500

// loadMembers reads the members of incs, in position order.
func (s *Store) loadMembers(ctx context.Context, incs []osprey.Incident) error {
	byID := make(map[string]*osprey.Incident, len(incs))
	for i := range incs {
		byID[incs[i].ID] = &incs[i]
	}
	for start := 0; start < len(incs); start += membersPerQuery {
		chunk := incs[start:min(start+membersPerQuery, len(incs))]
		ids := make([]any, len(chunk))
		for i := range chunk {
			ids[i] = chunk[i].ID
		}
		sql := "SELECT incident_id, pos, member FROM incident_members WHERE incident_id IN " +
			placeholders(1, len(ids)) + " ORDER BY incident_id, pos"
		err := collect(ctx, s.db, sql, ids, func(r Rows) error {
			var (
				id, text string
				pos      int64
				m        = new(osprey.Member)
			)
			if err := r.Scan(&id, &pos, &text); err != nil {
				return err
			}
			if err := decodeJSON("member", text, m); err != nil {
				return fmt.Errorf("incident %s member %d: %w", id, pos, err)
			}
			m.FirstSeen, m.LastSeen = m.FirstSeen.UTC(), m.LastSeen.UTC()
			inc := byID[id]
			if inc == nil {
				return nil
			}
			if pos != int64(len(inc.Members)) {
				return fmt.Errorf("incident %s: member at position %d after %d members", id, pos, len(inc.Members))
			}
			inc.Members = append(inc.Members, m)
			return nil
		})
		if err != nil {
			return fmt.Errorf("members: %w", err)
		}
	}
	return nil
}

// scanIncident reads a row of incidentCols.
func scanIncident(r Rows) (osprey.Incident, error) {
	var (
		inc                            osprey.Incident
		status, labels, cause          string
		sev, opened, updated, resolved int64
	)
	err := r.Scan(&inc.ID, &inc.Title, &status, &sev, &labels, &inc.Assignee, &opened, &updated, &resolved, &cause)
	if err != nil {
		return inc, err
	}
	if err := decodeJSON("labels", labels, &inc.Labels); err != nil {
		return inc, err
	}
	if cause != keptCauses {
		if err := decodeJSON("causes", cause, &inc.Causes); err != nil {
			return inc, err
		}
	}
	inc.Status = osprey.IncidentStatus(status)
	inc.Severity = osprey.Severity(sev)
	inc.OpenedAt, inc.UpdatedAt, inc.ResolvedAt = decodeTime(opened), decodeTime(updated), decodeTime(resolved)
	return inc, nil
}

// scanTimelineEntry reads a row of timelineCols.
func scanTimelineEntry(r Rows) (osprey.TimelineEntry, error) {
	var (
		e    osprey.TimelineEntry
		at   int64
		kind string
	)
	if err := r.Scan(&e.Seq, &at, &kind, &e.Actor, &e.Message, &e.Ref); err != nil {
		return e, err
	}
	e.At, e.Kind = decodeTime(at), osprey.TimelineKind(kind)
	return e, nil
}

// noiseCols are the columns of the noise counters.
var noiseCols = []string{"minute", "source", "rule", "outcome", "n"}

// noiseRows sums counts by (minute, source, rule, outcome) and encodes them.
func noiseRows(counts []store.NoiseCount) ([]any, error) {
	if len(counts) == 0 {
		return nil, nil
	}
	type key struct {
		minute                int64
		source, rule, outcome string
	}
	sum := make(map[key]int64, len(counts))
	var order []key
	for _, c := range counts {
		ns, err := encodeTime(c.Minute.Truncate(time.Minute))
		if err != nil {
			return nil, fmt.Errorf("noise minute: %w", err)
		}
		k := key{ns, c.Source, c.Rule, c.Outcome}
		if _, ok := sum[k]; !ok {
			order = append(order, k)
		}
		sum[k] += c.N
	}
	slices.SortFunc(order, func(a, b key) int {
		return cmp.Or(cmp.Compare(a.minute, b.minute), cmp.Compare(a.source, b.source),
			cmp.Compare(a.rule, b.rule), cmp.Compare(a.outcome, b.outcome))
	})
	vals := make([]any, 0, len(order)*len(noiseCols))
	for _, k := range order {
		vals = append(vals, k.minute, k.source, k.rule, k.outcome, sum[k])
	}
	return vals, nil
}

// appendMember appends m as the JSON that encoding/json would decode into an
// equal osprey.Member (the field names of its json tags), without the
// reflection and per-field allocations of json.Marshal: members are written
// on every change, so this is on the correlate stage's hot path.
// memberJSONFields (tested) lists the fields it writes; a field added to
// osprey.Member must be added to both.
func appendMember(b []byte, m *osprey.Member) []byte {
	b = append(b, `{"kind":`...)
	b = appendJSONString(b, string(m.Kind))
	b = append(b, `,"fingerprint":"`...)
	b = appendHex16(b, uint64(m.Fingerprint))
	b = append(b, `","name":`...)
	b = appendJSONString(b, m.Name)
	if len(m.Labels) > 0 {
		b = append(b, `,"labels":{`...)
		var stack [16]string
		names := stack[:0]
		for k := range m.Labels {
			names = append(names, k)
		}
		slices.Sort(names)
		for i, k := range names {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = appendJSONString(b, m.Labels[k])
		}
		b = append(b, '}')
	}
	b = append(b, `,"severity":`...)
	b = appendJSONString(b, m.Severity.String())
	if m.Score != 0 && !math.IsNaN(m.Score) && !math.IsInf(m.Score, 0) {
		// Any JSON number decodes to the same float64; NaN and the
		// infinities have none (json.Marshal refuses them), so they are
		// left out, as a zero score is.
		b = append(b, `,"score":`...)
		b = strconv.AppendFloat(b, m.Score, 'g', -1, 64)
	}
	b = append(b, `,"status":`...)
	b = appendJSONString(b, string(m.Status))
	b = append(b, `,"firstRef":`...)
	b = appendJSONString(b, m.FirstRef)
	b = append(b, `,"lastRef":`...)
	b = appendJSONString(b, m.LastRef)
	b = append(b, `,"firstSeen":"`...)
	b = m.FirstSeen.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","lastSeen":"`...)
	b = m.LastSeen.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","count":`...)
	b = strconv.AppendInt(b, int64(m.Count), 10)
	if m.LastSeq != 0 {
		b = append(b, `,"lastSeq":`...)
		b = strconv.AppendInt(b, m.LastSeq, 10)
	}
	if m.GroupKey != "" {
		b = append(b, `,"groupKey":`...)
		b = appendJSONString(b, m.GroupKey)
	}
	if m.Flapping {
		b = append(b, `,"flapping":true`...)
	}
	if !m.Refired.IsZero() {
		b = append(b, `,"refired":"`...)
		b = m.Refired.AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	}
	return append(b, '}')
}

// memberJSONFields are the osprey.Member fields appendMember writes.
var memberJSONFields = []string{"Kind", "Fingerprint", "Name", "Labels", "Severity", "Score", "Status", "FirstRef", "LastRef",
	"FirstSeen", "LastSeen", "Count", "LastSeq", "GroupKey", "Flapping", "Refired"}

const hexDigits = "0123456789abcdef"

// appendHex16 appends v as 16 lowercase hex digits (Fingerprint.String).
func appendHex16(b []byte, v uint64) []byte {
	for i := 60; i >= 0; i -= 4 {
		b = append(b, hexDigits[(v>>uint(i))&0xf])
	}
	return b
}

// appendJSONString appends s as a JSON string, invalid UTF-8 as U+FFFD,
// as encoding/json does (without its HTML escaping).
func appendJSONString(b []byte, s string) []byte { return appendString(b, s, false) }
