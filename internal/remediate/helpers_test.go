package remediate

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/remediate/action"
	"github.com/osprey-aiops/osprey/internal/store/sqlite"
)

// recorder is a real program on the allow-list: a script that appends its
// arguments, NUL-separated, to a log, one record per invocation, in one
// printf call (one small append), so concurrent calls do not interleave.
type recorder struct {
	path, log string
}

func newRecorder(t testing.TB) *recorder {
	t.Helper()
	dir := t.TempDir()
	r := &recorder{path: filepath.Join(dir, "record"), log: filepath.Join(dir, "argv.log")}
	script := "#!/bin/sh\nprintf '%s\\0' CALL \"$@\" >> '" + r.log + "'\necho ok\n"
	if err := os.WriteFile(r.path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return r
}

// calls returns the arguments (without argv[0]) of every invocation.
func (r *recorder) calls(t testing.TB) [][]string {
	t.Helper()
	b, err := os.ReadFile(r.log)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	fields := bytes.Split(b, []byte{0})
	fields = fields[:len(fields)-1]
	var out [][]string
	for _, f := range fields {
		if string(f) == "CALL" {
			out = append(out, []string{})
			continue
		}
		out[len(out)-1] = append(out[len(out)-1], string(f))
	}
	return out
}

// harness is an engine on a real SQLite store, inside a synctest bubble.
type harness struct {
	t   *testing.T
	st  *sqlite.Store
	rec *recorder
	eng *Engine
}

func newHarness(t *testing.T, rbs ...Runbook) *harness {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "osprey.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	h := &harness{t: t, st: st, rec: newRecorder(t)}
	h.eng = h.start(rbs...)
	return h
}

// start builds and starts an engine on the harness' store (as a restarted
// process would); it is shut down at the end of the test.
func (h *harness) start(rbs ...Runbook) *Engine {
	h.t.Helper()
	cfg := DefaultConfig()
	cfg.ExecAllow = []string{h.rec.path}
	for _, rb := range rbs {
		cfg.Runbooks = append(cfg.Runbooks, h.bind(rb))
	}
	eng, err := New(Options{Config: cfg, Store: h.st})
	if err != nil {
		h.t.Fatal(err)
	}
	if err := eng.Start(h.t.Context()); err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := eng.Shutdown(ctx); err != nil {
			h.t.Error(err)
		}
	})
	return eng
}

// bind replaces the program "REC" in exec steps with the recorder.
func (h *harness) bind(rb Runbook) Runbook {
	fix := func(steps []Step) []Step {
		out := slices.Clone(steps)
		for i := range out {
			if len(out[i].Exec.Argv) > 0 && out[i].Exec.Argv[0] == "REC" {
				out[i].Exec.Argv = slices.Clone(out[i].Exec.Argv)
				out[i].Exec.Argv[0] = h.rec.path
			}
		}
		return out
	}
	rb.Steps, rb.OnFailure = fix(rb.Steps), fix(rb.OnFailure)
	return rb
}

// incident stores an open incident and returns it.
func (h *harness) incident(id string, labels osprey.Labels) osprey.Incident {
	h.t.Helper()
	now := time.Now()
	inc := osprey.Incident{
		ID: id, Title: "trouble on " + labels.Get("service"), Status: osprey.IncidentOpen,
		Severity: osprey.SeverityCritical, Labels: labels, OpenedAt: now, UpdatedAt: now,
		Members: []*osprey.Member{{Kind: osprey.MemberEvent, Name: "HighErrorRate", Labels: labels,
			Severity: osprey.SeverityCritical, Status: osprey.StatusFiring, FirstSeen: now, LastSeen: now, Count: 1}},
	}
	if err := h.st.SaveIncident(h.t.Context(), inc); err != nil {
		h.t.Fatal(err)
	}
	return inc
}

// resolve stores the incident as resolved and returns the snapshot.
func (h *harness) resolve(inc osprey.Incident) osprey.Incident {
	h.t.Helper()
	inc.Status = osprey.IncidentResolved
	inc.ResolvedAt = time.Now()
	for i := range inc.Members {
		inc.Members[i].Status = osprey.StatusResolved
	}
	if err := h.st.SaveIncident(h.t.Context(), inc); err != nil {
		h.t.Fatal(err)
	}
	return inc
}

func (h *harness) consume(eng *Engine, incs ...osprey.Incident) {
	h.t.Helper()
	if err := eng.ConsumeIncidents(h.t.Context(), incs); err != nil {
		h.t.Fatal(err)
	}
}

// runs returns the runs of an incident.
func (h *harness) runs(incidentID string) []osprey.RunbookRun {
	h.t.Helper()
	runs, err := h.st.ListRuns(h.t.Context(), incidentID, 100)
	if err != nil {
		h.t.Fatal(err)
	}
	return runs
}

// onlyRun returns the single run of an incident.
func (h *harness) onlyRun(incidentID string) osprey.RunbookRun {
	h.t.Helper()
	runs := h.runs(incidentID)
	if len(runs) != 1 {
		h.t.Fatalf("incident %s has %d runs, want 1: %+v", incidentID, len(runs), runs)
	}
	return runs[0]
}

// audit returns the audit actions in order, oldest first.
func (h *harness) audit() []osprey.AuditEntry {
	h.t.Helper()
	list, err := h.st.ListAudit(h.t.Context(), time.Time{}, 10000)
	if err != nil {
		h.t.Fatal(err)
	}
	slices.Reverse(list)
	return list
}

func (h *harness) auditHas(actor, act string) bool {
	for _, e := range h.audit() {
		if e.Actor == actor && e.Action == act {
			return true
		}
	}
	return false
}

// timeline returns the messages of the incident's action entries.
func (h *harness) timeline(incidentID string) []string {
	h.t.Helper()
	inc, err := h.st.GetIncident(h.t.Context(), incidentID)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for _, e := range inc.Timeline {
		if e.Kind == osprey.TimelineAction {
			out = append(out, e.Actor+": "+e.Message)
		}
	}
	return out
}

func containsAny(list []string, sub string) bool {
	return slices.ContainsFunc(list, func(s string) bool { return strings.Contains(s, sub) })
}

func statuses(r osprey.RunbookRun) []osprey.RunStatus {
	var out []osprey.RunStatus
	for _, a := range r.Actions {
		out = append(out, a.Status)
	}
	return out
}

// restartRunbook restarts "<service>.service" with the recorder.
func restartRunbook(mode Mode) Runbook {
	return Runbook{
		Name:    "restart-web",
		Trigger: `"service" in incident.labels && incident.severity == "critical"`,
		Mode:    mode,
		Target:  "{{ .Incident.Labels.service }}",
		Steps: []Step{{
			Name: "restart",
			Exec: action.ExecSpec{Argv: []string{"REC", "restart", "{{ .Incident.Labels.service }}.service"}},
		}},
	}
}
