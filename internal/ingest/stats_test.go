package ingest

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestStats(t *testing.T) {
	s := NewStats()
	r := s.Receiver("alertmanager_v2")
	if s.Receiver("alertmanager_v2") != r {
		t.Fatal("Receiver does not return the same counters for the same name")
	}
	r.Done(5, 0)                 // a clean batch
	r.Rejected(ReasonInvalid, 1) // a batch with one bad alert
	r.Rejected(ReasonLabelLimit, 1)
	r.Done(3, 2)
	r.Warned(WarnUnknownSeverity, 2)
	r.Warned(WarnUnknownSeverity, 0)
	r.RejectRequest(ReasonTooLarge)
	r.Rejected(ReasonStore, 4)
	r.Done(0, 4)
	r.RejectRequest(Reason("bogus")) // a programming error still counts

	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(s)
	want := `
# HELP osprey_ingest_items_total Items (alerts, events) received, by receiver and outcome: accepted (stored) or rejected.
# TYPE osprey_ingest_items_total counter
osprey_ingest_items_total{outcome="accepted",receiver="alertmanager_v2"} 8
osprey_ingest_items_total{outcome="rejected",receiver="alertmanager_v2"} 6
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "osprey_ingest_items_total"); err != nil {
		t.Error(err)
	}
	snap := s.Snapshot()["alertmanager_v2"]
	wantReq := RequestCounts{Accepted: 1, Partial: 1, Rejected: 3}
	if snap.Requests != wantReq {
		t.Errorf("requests = %+v, want %+v", snap.Requests, wantReq)
	}
	for reason, n := range map[Reason]uint64{ReasonInvalid: 2, ReasonLabelLimit: 1, ReasonTooLarge: 1, ReasonStore: 4, ReasonMalformed: 0} {
		if snap.Rejected[reason] != n {
			t.Errorf("rejected[%s] = %d, want %d", reason, snap.Rejected[reason], n)
		}
	}
	if snap.Warnings[WarnUnknownSeverity] != 2 || snap.Warnings[WarnTruncated] != 0 {
		t.Errorf("warnings = %v", snap.Warnings)
	}
	// Every reason and warning has a series from the start.
	if n := testutil.CollectAndCount(s, "osprey_ingest_rejected_total"); n != len(reasons) {
		t.Errorf("%d rejected series, want %d", n, len(reasons))
	}
	if n := testutil.CollectAndCount(s, "osprey_ingest_warnings_total"); n != len(warnings) {
		t.Errorf("%d warning series, want %d", n, len(warnings))
	}

	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/status/ingest", nil))
	var body StatusResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != 200 {
		t.Fatalf("status reply %d %s: %v", rec.Code, rec.Body, err)
	}
	if body.Receivers["alertmanager_v2"].Items.Accepted != 8 {
		t.Errorf("status = %s", rec.Body)
	}
}

func TestStatsConcurrent(t *testing.T) {
	s := NewStats()
	done := make(chan bool)
	for range 4 {
		go func() {
			for range 1000 {
				s.Receiver("r").Done(1, 0)
				_ = s.Snapshot()
			}
			done <- true
		}()
	}
	for range 4 {
		<-done
	}
	if got := s.Snapshot()["r"].Items.Accepted; got != 4000 {
		t.Errorf("accepted = %d, want 4000", got)
	}
}
