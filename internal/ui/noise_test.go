package ui

import (
	"net/http"
	"strings"
	"testing"
)

// TestNoiseHeadline checks that the incidents page's headline figures come
// from the noise accounting (seedBackend: 12 signals received, 9 of them
// repeats, 2 in maintenance, 1 opening an incident) rather than from a
// second pass over the incidents.
func TestNoiseHeadline(t *testing.T) {
	srv, _ := testServer(t, nil)
	_, body, _ := get(t, http.DefaultClient, srv.URL+"/ui/incidents?fragment=1")
	for _, want := range []string{
		"<b>12</b><span>alert and anomaly reports</span>",
		"<b>1</b><span>distinct alerts and anomalies</span>",
		"<b>1</b><span>incidents opened (",
		"12 reports per incident, 91.7% fewer pages than reports.",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("incidents page lacks %q", want)
		}
	}
}
