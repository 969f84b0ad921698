package demo

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestControl drives the control endpoint over HTTP: a restart ends a
// crash loop, a clean-up frees the filled disk, and bad requests are
// refused with a 4xx.
func TestControl(t *testing.T) {
	sim := NewSim(1, time.Second)
	var told []string
	c := NewControl(sim, func(s string) { told = append(told, s) })
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Shutdown(context.Background()) })
	post := func(path, body string) int {
		t.Helper()
		resp, err := http.Post(c.URL()+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	if err := sim.Inject(Fault{Kind: FaultCrashLoop, Service: "inventory"}); err != nil {
		t.Fatal(err)
	}
	if code := post("/services/restart", `{"service": "inventory", "reason": "test"}`); code != http.StatusOK {
		t.Fatalf("restart: %d", code)
	}
	if sim.Active(FaultCrashLoop, "inventory") {
		t.Error("the crash loop goes on after a restart")
	}

	if err := sim.Inject(Fault{Kind: FaultDisk, Service: "catalog", Mount: "/var/log"}); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	for i := range 20 {
		sim.Step(at.Add(time.Duration(i) * time.Second))
	}
	if code := post("/services/cleanup-logs", `{"service": "catalog", "mountpoint": "/var/log"}`); code != http.StatusOK {
		t.Fatalf("cleanup: %d", code)
	}
	if sim.Active(FaultDisk, "catalog") {
		t.Error("the disk keeps filling after a clean-up")
	}
	if len(told) != 2 || !strings.Contains(told[0], "crash loop is over") || !strings.Contains(told[1], "GiB freed") {
		t.Errorf("told %q", told)
	}

	for _, tc := range []struct {
		name, path, body string
		want             int
	}{
		{"not JSON", "/services/restart", `restart inventory`, http.StatusBadRequest},
		{"no service", "/services/restart", `{}`, http.StatusBadRequest},
		{"unknown service", "/services/restart", `{"service": "mainframe"}`, http.StatusNotFound},
		{"unknown mount", "/services/cleanup-logs", `{"service": "catalog", "mountpoint": "/data"}`, http.StatusNotFound},
	} {
		if code := post(tc.path, tc.body); code != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, code, tc.want)
		}
	}
}

// TestScheduleDefault pins the demo's timeline: the disk fault first, the
// crash loop a sixth of the interval later, then one fault per interval.
func TestScheduleDefault(t *testing.T) {
	sched, cycle := Schedule(DefaultRotation(), 30*time.Second, 3*time.Minute)
	want := []time.Duration{30 * time.Second, 60 * time.Second, 240 * time.Second, 420 * time.Second, 600 * time.Second}
	for i, s := range sched {
		if s.At != want[i] {
			t.Errorf("fault %d (%s) at %s, want %s", i, s.Fault, s.At, want[i])
		}
	}
	if cycle != 750*time.Second {
		t.Errorf("cycle %s, want 12m30s", cycle)
	}
}

// TestSimDeterministic: the same seed gives the same frames.
func TestSimDeterministic(t *testing.T) {
	at := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	a, b := NewSim(7, time.Second), NewSim(7, time.Second)
	for i := range 200 {
		fa, fb := a.Step(at), b.Step(at)
		if len(fa.Points) != len(fb.Points) || len(fa.Logs) != len(fb.Logs) || len(fa.Spans) != len(fb.Spans) {
			t.Fatalf("step %d differs in size", i)
		}
		for j := range fa.Points {
			if fa.Points[j].Value != fb.Points[j].Value {
				t.Fatalf("step %d point %d: %v != %v", i, j, fa.Points[j].Value, fb.Points[j].Value)
			}
		}
		at = at.Add(time.Second)
	}
}
