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

// TestSplitButton checks that each member of an unresolved incident with
// several members gets a split button posting its fingerprint.
func TestSplitButton(t *testing.T) {
	srv, inc := testServer(t, nil)
	_, body, _ := get(t, http.DefaultClient, srv.URL+"/ui/incidents/"+inc.ID)
	n := strings.Count(body, `data-api="/api/v1/incidents/`+inc.ID+`/split"`)
	switch {
	case len(inc.Members) < 2 || inc.Status == "resolved":
		if n != 0 {
			t.Errorf("%d split buttons on an incident with %d members (%s)", n, len(inc.Members), inc.Status)
		}
	case n != len(inc.Members):
		t.Errorf("%d split buttons for %d members", n, len(inc.Members))
	default:
		want := `data-body='{"members":["` + inc.Members[0].Fingerprint.String() + `"]}'`
		if !strings.Contains(body, want) {
			t.Errorf("incident page lacks %s", want)
		}
	}
	t.Logf("%d members, %d split buttons", len(inc.Members), n)
}
