package app

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/osprey-aiops/osprey/internal/config"
)

// TestNotifyWiring runs Osprey with a webhook receiver: an event posted to
// the API becomes an incident, the incident becomes one "opened" webhook
// after group_wait, resolving it through the API sends "resolved", and both
// are in GET /api/v1/notifications and on the incident's timeline.
func TestNotifyWiring(t *testing.T) {
	var (
		mu   sync.Mutex
		keys []string
	)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var doc struct {
			Key string `json:"key"`
		}
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &doc)
		mu.Lock()
		keys = append(keys, doc.Key)
		mu.Unlock()
	}))
	defer hook.Close()
	sent := func() string {
		mu.Lock()
		defer mu.Unlock()
		return strings.Join(keys, ",")
	}

	yaml := `data_dir: ` + filepath.Join(t.TempDir(), "data") + `
server:
  listen: 127.0.0.1:0
notifications:
  external_url: https://osprey.example.com
  group_wait: 200ms
  receivers:
    - name: hook
      webhook: {url: "` + hook.URL + `"}
  routes:
    - matchers: [service=checkout]
      receivers: [hook]
`
	cfg, err := config.Parse([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	base, stop := startRun(t, cfg)
	defer stop()
	post := func(path, body string) []byte {
		t.Helper()
		resp, err := http.Post(base+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode/100 != 2 {
			t.Fatalf("POST %s: %s: %s", path, resp.Status, b)
		}
		return b
	}
	getJSON := func(path string, v any) { t.Helper(); getJSON(t, base+path, v) }
	wait := func(what string, cond func() bool) {
		t.Helper()
		waitFor(t, what, cond, func() string { return fmt.Sprintf("sent %q", sent()) })
	}

	post("/api/v1/events", `[{"name": "CheckoutDown", "labels": {"service": "checkout"}, "severity": "critical"}]`)
	wait("opened sent", func() bool { return sent() == "opened" })
	var list struct {
		Incidents []struct {
			ID string `json:"id"`
		} `json:"incidents"`
	}
	getJSON("/api/v1/incidents", &list)
	if len(list.Incidents) != 1 {
		t.Fatalf("incidents: %+v", list)
	}
	id := list.Incidents[0].ID
	post("/api/v1/incidents/"+id+"/resolve", `{"comment": "fixed"}`)
	wait("resolved sent", func() bool { return sent() == "opened,resolved" })

	var log struct {
		Notifications []struct {
			Key    string `json:"key"`
			Status string `json:"status"`
		} `json:"notifications"`
	}
	wait("both logged as sent", func() bool {
		getJSON("/api/v1/notifications?incident="+id, &log)
		return len(log.Notifications) == 2 && log.Notifications[0].Status == "sent" && log.Notifications[1].Status == "sent"
	})
	var inc struct {
		Timeline []struct {
			Kind    string `json:"kind"`
			Message string `json:"message"`
		} `json:"timeline"`
	}
	// The timeline entry is written after the notification log marks the
	// delivery sent, so it may trail it by a moment.
	var notes []string
	timeline := func() bool {
		getJSON("/api/v1/incidents/"+id, &inc)
		notes = notes[:0]
		for _, e := range inc.Timeline {
			if e.Kind == "notification" {
				notes = append(notes, e.Message)
			}
		}
		return len(notes) >= 2
	}
	wait("both on the timeline", timeline)
	if strings.Join(notes, "|") != "notified hook (webhook): opened|notified hook (webhook): resolved" {
		t.Errorf("timeline notifications: %q", notes)
	}
}
