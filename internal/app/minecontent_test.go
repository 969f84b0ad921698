package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/config"
)

// TestServeMinesWithoutHeaders: lines pushed over Loki are mined without
// the header logparse.Detect recognises, so one message logged at other
// times and levels, plain or as JSON, is one template of its message.
func TestServeMinesWithoutHeaders(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Server.Listen = "127.0.0.1:0"
	base, stop := startRun(t, cfg)
	defer stop()

	now := time.Now()
	lines := []string{
		now.UTC().Format(time.RFC3339Nano) + " INFO payment declined order=7",
		now.Add(time.Second).UTC().Format(time.RFC3339Nano) + " WARN payment declined order=8",
		`{"ts":"` + now.UTC().Format(time.RFC3339) + `","level":"info","msg":"payment declined order=9"}`,
	}
	var values []string
	for i, l := range lines {
		b, _ := json.Marshal(l)
		values = append(values, fmt.Sprintf(`["%d", %s]`, now.Add(time.Duration(i)*time.Millisecond).UnixNano(), b))
	}
	body := `{"streams": [{"stream": {"app": "shop"}, "values": [` + strings.Join(values, ",") + `]}]}`
	resp, err := http.Post(base+"/loki/api/v1/push", "application/json", bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("push: %s", resp.Status)
	}
	var list struct {
		Templates []osprey.LogTemplate `json:"templates"`
	}
	waitFor(t, "one template with the three lines", func() bool {
		getJSON(t, base+"/api/v1/log-templates?source=loki", &list)
		return len(list.Templates) == 1 && list.Templates[0].Count == 3
	}, func() string { return fmt.Sprintf("%+v", list.Templates) })
	if got := list.Templates[0].Template; got != "payment declined order=<*>" {
		t.Errorf("template %q, want the message without its header", got)
	}
}
