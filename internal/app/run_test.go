package app

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey/internal/config"
)

// startRun runs Osprey with cfg in the background and returns its base URL
// and a stop function that shuts it down and reports a failed shutdown.
// It fails the test if Run returns before it started.
func startRun(t *testing.T, cfg config.Config) (base string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrc, done := make(chan string, 1), make(chan error, 1)
	go func() { done <- Run(ctx, cfg, Options{Started: func(a string) { addrc <- a }}) }()
	select {
	case a := <-addrc:
		base = "http://" + a
	case err := <-done:
		cancel()
		t.Fatal(err)
	}
	return base, func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}
}

// getJSON decodes the 200 reply to GET url into v.
func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// postEvents posts a JSON array of events to base's /api/v1/events and
// fails the test unless it is accepted.
func postEvents(t *testing.T, base, body string) {
	t.Helper()
	resp, err := http.Post(base+"/api/v1/events", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("POST /api/v1/events: %s", resp.Status)
	}
}

// waitFor polls cond until it holds, and fails the test naming what and
// state() if it never does. Polls are bounded by attempts; nothing asserts
// a duration.
func waitFor(t *testing.T, what string, cond func() bool, state func() string) {
	t.Helper()
	for range 600 {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("never: %s (%s)", what, state())
}
