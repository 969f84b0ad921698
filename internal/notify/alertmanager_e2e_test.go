package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
)

// TestRealAlertmanager forwards an incident to a real Alertmanager (Debian's
// prometheus-alertmanager, when installed) and reads it back through
// Alertmanager's own API: the alert is accepted with our labels and
// annotations, and the resolve ends it.
func TestRealAlertmanager(t *testing.T) {
	bin := ""
	for _, name := range []string{"prometheus-alertmanager", "alertmanager"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		t.Skip("no alertmanager binary on PATH (apt-get install prometheus-alertmanager)")
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfg, []byte("route:\n  receiver: \"null\"\nreceivers:\n  - name: \"null\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--config.file="+cfg, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=")
	out, _ := os.Create(filepath.Join(dir, "alertmanager.log"))
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		cancel()
		<-exited
		out.Close()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "alertmanager.log"))
			t.Logf("alertmanager log:\n%s", b)
		}
	})
	base := "http://" + addr
	waitFor(t, "alertmanager ready", func() bool {
		select {
		case <-exited:
			t.Fatal("alertmanager exited")
		default:
		}
		resp, err := http.Get(base + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	s, err := newSender(Receiver{Name: "am", Alertmanager: AlertmanagerConfig{URL: base}}, newHTTPClient(), nil)
	if err != nil {
		t.Fatal(err)
	}
	m := message(KindOpened)
	now := time.Now().UTC().Truncate(time.Second)
	m.Incident.OpenedAt, m.At = now.Add(-time.Minute), now
	m.Incident.Labels["bad-label.name"] = "dropped: Alertmanager would refuse it"
	if err := s.send(t.Context(), m); err != nil {
		t.Fatalf("post to Alertmanager: %v", err)
	}
	type amAlert struct {
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
		Status      struct {
			State string `json:"state"`
		} `json:"status"`
		GeneratorURL string `json:"generatorURL"`
	}
	list := func() []amAlert {
		resp, err := http.Get(base + "/api/v2/alerts")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var alerts []amAlert
		if err := json.NewDecoder(resp.Body).Decode(&alerts); err != nil {
			t.Fatal(err)
		}
		return alerts
	}
	var got []amAlert
	waitFor(t, "the alert in Alertmanager", func() bool { got = list(); return len(got) == 1 })
	a := got[0]
	want := map[string]string{"alertname": AlertName, "incident_id": m.Incident.ID, "severity": "critical", "service": "checkout", "namespace": "shop"}
	if fmt.Sprint(a.Labels) != fmt.Sprint(want) {
		t.Errorf("labels %v, want %v", a.Labels, want)
	}
	if a.Annotations["summary"] != m.Incident.Title || a.Annotations["top_cause"] != "service payments" || a.GeneratorURL != m.URL || a.Status.State != "active" {
		t.Errorf("alert %+v", a)
	}

	r := message(KindResolved)
	r.Incident.OpenedAt, r.Incident.ResolvedAt, r.At = m.Incident.OpenedAt, now, now
	r.Incident.Status = osprey.IncidentResolved
	if err := s.send(t.Context(), r); err != nil {
		t.Fatalf("post the resolve: %v", err)
	}
	waitFor(t, "the alert to end", func() bool { return len(list()) == 0 })
}

// waitFor polls cond until it holds, failing the test after a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
