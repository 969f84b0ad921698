package api

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/store"
)

// seedIncidents stores three incidents: open (updated first), acknowledged,
// and resolved (updated last), the open one with a timeline.
func seedIncidents(tb testing.TB, st store.Store) (open, acked, resolved osprey.Incident) {
	tb.Helper()
	ctx := context.Background()
	mk := func(id string, status osprey.IncidentStatus, updated time.Duration) osprey.Incident {
		return osprey.Incident{
			ID: id, Title: "incident " + id, Status: status, Severity: osprey.SeverityError,
			Labels: osprey.Labels{"service": "checkout"}, OpenedAt: testNow, UpdatedAt: testNow.Add(updated),
			Members: []*osprey.Member{{Kind: osprey.MemberEvent, Name: "HighLatency", Status: osprey.StatusFiring,
				FirstRef: "e1", LastRef: "e1", FirstSeen: testNow, LastSeen: testNow, Count: 1}},
		}
	}
	open = mk("01JOPEN0000000000000000000", osprey.IncidentOpen, time.Minute)
	acked = mk("01JACKED000000000000000000", osprey.IncidentAcknowledged, 2*time.Minute)
	resolved = mk("01JRESOLVED000000000000000", osprey.IncidentResolved, 3*time.Minute)
	entries := []osprey.TimelineEntry{
		{At: testNow, Kind: osprey.TimelineOpened, Actor: "osprey", Message: "opened", Ref: "e1"},
		{At: testNow.Add(time.Minute), Kind: osprey.TimelineComment, Actor: "alice", Message: "looking"},
	}
	if err := st.SaveIncident(ctx, open, entries...); err != nil {
		tb.Fatalf("save incident: %v", err)
	}
	for _, inc := range []osprey.Incident{acked, resolved} {
		if err := st.SaveIncident(ctx, inc); err != nil {
			tb.Fatalf("save incident: %v", err)
		}
	}
	return open, acked, resolved
}

func TestIncidents(t *testing.T) {
	e := newEnv(t, withTokens)
	open, acked, resolved := seedIncidents(t, e.store)

	tests := []struct {
		name         string
		target       string
		token        string
		wantCode     int
		wantIDs      []string // list replies, in order
		wantTimeline int      // single-incident replies
		wantErr      string
	}{
		{name: "all", target: "/api/v1/incidents", token: viewerToken, wantCode: 200,
			wantIDs: []string{resolved.ID, acked.ID, open.ID}},
		{name: "active", target: "/api/v1/incidents?status=open,acknowledged", token: viewerToken, wantCode: 200,
			wantIDs: []string{acked.ID, open.ID}},
		{name: "resolved", target: "/api/v1/incidents?status=resolved", token: viewerToken, wantCode: 200,
			wantIDs: []string{resolved.ID}},
		{name: "limit", target: "/api/v1/incidents?limit=1", token: viewerToken, wantCode: 200,
			wantIDs: []string{resolved.ID}},
		{name: "bad status", target: "/api/v1/incidents?status=open,closed", token: viewerToken, wantCode: 400, wantErr: "status"},
		{name: "updated since", target: "/api/v1/incidents?since=2025-06-01T12:01:30Z", token: viewerToken, wantCode: 200,
			wantIDs: []string{resolved.ID, acked.ID}},
		{name: "bad since", target: "/api/v1/incidents?since=soon", token: viewerToken, wantCode: 400, wantErr: "since"},
		{name: "unknown parameter", target: "/api/v1/incidents?state=open", token: viewerToken, wantCode: 400, wantErr: `"state"`},
		{name: "bad limit", target: "/api/v1/incidents?limit=x", token: viewerToken, wantCode: 400, wantErr: "limit"},
		{name: "list without token", target: "/api/v1/incidents", wantCode: 401, wantErr: "missing bearer token"},
		{name: "one", target: "/api/v1/incidents/" + open.ID, token: viewerToken, wantCode: 200, wantTimeline: 2},
		{name: "unknown", target: "/api/v1/incidents/01JNOSUCH00000000000000000", token: viewerToken, wantCode: 404,
			wantErr: "not found"},
		{name: "one without token", target: "/api/v1/incidents/" + open.ID, wantCode: 401, wantErr: "missing bearer token"},
		{name: "one with unknown token", target: "/api/v1/incidents/" + open.ID, token: "guess", wantCode: 401,
			wantErr: "unknown token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var header []string
			if tt.token != "" {
				header = bearer(tt.token)
			}
			rec := e.do(http.MethodGet, tt.target, "", header...)
			if rec.Code != tt.wantCode {
				t.Fatalf("code = %d, want %d; body %s", rec.Code, tt.wantCode, rec.Body)
			}
			switch {
			case tt.wantCode != http.StatusOK:
				if body := errorReply(t, rec); !strings.Contains(body.Error, tt.wantErr) {
					t.Errorf("error %q does not contain %q", body.Error, tt.wantErr)
				}
			case tt.wantIDs != nil:
				var reply struct{ Incidents []osprey.Incident }
				if err := json.Unmarshal(rec.Body.Bytes(), &reply); err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, inc := range reply.Incidents {
					got = append(got, inc.ID)
				}
				if !slices.Equal(got, tt.wantIDs) {
					t.Errorf("IDs = %v, want %v", got, tt.wantIDs)
				}
			default:
				var inc osprey.Incident
				if err := json.Unmarshal(rec.Body.Bytes(), &inc); err != nil {
					t.Fatal(err)
				}
				if inc.ID != open.ID || inc.Title != open.Title || len(inc.Members) != 1 {
					t.Errorf("incident = %+v, want %s with one member", inc, open.ID)
				}
				if len(inc.Timeline) != tt.wantTimeline || inc.Timeline[0].Kind != osprey.TimelineOpened {
					t.Errorf("timeline = %+v, want %d entries, opened first", inc.Timeline, tt.wantTimeline)
				}
			}
		})
	}
}
