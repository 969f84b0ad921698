package api

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey/internal/correlate"
	"github.com/osprey-aiops/osprey/internal/store"
)

// TestNoiseStats runs a small incident story at virtual times (two
// incidents, one grouped alert, acks and a resolve by people, one
// notification sent) and checks GET /api/v1/stats/noise.
func TestNoiseStats(t *testing.T) {
	var corr *correlate.Correlator
	e := newEnv(t, withTokens, withCorrelator(t, &corr))
	operator := append(bearer(operatorToken), "Content-Type", "application/json")
	viewer := bearer(viewerToken)

	checkout := e.fire(t, corr, "HighLatency", "checkout") // t+0: opened
	e.clock.Advance(time.Minute)
	e.fire(t, corr, "ErrorRate", "checkout") // t+1m: grouped
	db := e.fire(t, corr, "DiskFull", "db")  // t+1m: opened
	e.fire(t, corr, "DiskFull", "db")        // t+1m: deduplicated
	e.clock.Advance(2 * time.Minute)
	if rec := e.do("POST", "/api/v1/incidents/"+checkout+"/ack", `{}`, operator...); rec.Code != 200 { // MTTA 3m
		t.Fatalf("ack: %d %s", rec.Code, rec.Body)
	}
	e.clock.Advance(7 * time.Minute)
	if rec := e.do("POST", "/api/v1/incidents/"+checkout+"/resolve", `{}`, operator...); rec.Code != 200 { // MTTR 10m
		t.Fatalf("resolve: %d %s", rec.Code, rec.Body)
	}
	e.clock.Advance(time.Minute)
	if rec := e.do("POST", "/api/v1/incidents/"+db+"/ack", `{}`, operator...); rec.Code != 200 { // MTTA 10m
		t.Fatalf("ack: %d %s", rec.Code, rec.Body)
	}
	ctx := context.Background()
	n, ok, err := e.store.ClaimNotification(ctx, store.Notification{ID: "n1", IncidentID: checkout, Receiver: "slack", Key: "opened",
		Status: store.NotificationSending, ClaimedBy: "test", ClaimedAt: e.clock.Now()}, e.clock.Now().Add(-time.Hour))
	if err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	n.Status, n.Attempts, n.FinishedAt = store.NotificationSent, 1, e.clock.Now()
	if err := e.store.UpdateNotification(ctx, n); err != nil {
		t.Fatal(err)
	}

	var got noiseResponse
	decodeReply(t, e.do("GET", "/api/v1/stats/noise?since=1h", "", viewer...), 200, &got)
	wantTotals := noiseFigures{Received: 4, Deduplicated: 1, Grouped: 1, Opened: 2, CompressionRatio: 2, Reduction: 0.5}
	if got.Totals != wantTotals {
		t.Errorf("totals %+v, want %+v", got.Totals, wantTotals)
	}
	if len(got.Sources) != 1 || got.Sources[0].Source != "test" || got.Sources[0].noiseFigures != wantTotals {
		t.Errorf("sources %+v", got.Sources)
	}
	if len(got.Rules) != 3 || got.Rules[0].Rule != "DiskFull" || got.Rules[0].Received != 2 || got.Rules[0].Deduplicated != 1 {
		t.Errorf("rules %+v", got.Rules)
	}
	inc := got.Incidents
	if inc.Opened != 2 || inc.Acknowledged != 2 || inc.Resolved != 1 ||
		math.Abs(inc.MTTASeconds-390) > 1e-9 || math.Abs(inc.MTTRSeconds-600) > 1e-9 {
		t.Errorf("incidents %+v, want 2 opened, 2 acknowledged (MTTA 390s), 1 resolved (MTTR 600s)", inc)
	}
	if got.Notifications.Sent != 1 || got.Notifications.ByReceiver["slack"] != 1 {
		t.Errorf("notifications %+v", got.Notifications)
	}

	// A window that starts after everything counts nothing.
	e.clock.Advance(2 * time.Hour)
	decodeReply(t, e.do("GET", "/api/v1/stats/noise", "", viewer...), 200, &got) // default 24h
	if got.Totals.Received != 4 {
		t.Errorf("default window: received %d, want 4", got.Totals.Received)
	}
	decodeReply(t, e.do("GET", "/api/v1/stats/noise?since=30m", "", viewer...), 200, &got)
	if got.Totals != (noiseFigures{}) || got.Incidents.Opened != 0 || got.Notifications.Sent != 0 {
		t.Errorf("empty window: %+v", got)
	}

	for _, tc := range []struct {
		target string
		header []string
		code   int
	}{
		{"/api/v1/stats/noise?since=yesterday", viewer, 400},
		{"/api/v1/stats/noise?window=1h", viewer, 400},
		{"/api/v1/stats/noise", nil, 401},
	} {
		if rec := e.do("GET", tc.target, "", tc.header...); rec.Code != tc.code {
			t.Errorf("GET %s: %d, want %d", tc.target, rec.Code, tc.code)
		}
	}
}
