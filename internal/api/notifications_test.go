package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey/internal/store"
)

func TestListNotifications(t *testing.T) {
	e := newEnv(t, withTokens)
	ctx := context.Background()
	for i, n := range []store.Notification{
		{ID: "n1", IncidentID: "A", Receiver: "slack", Key: "opened", ClaimedBy: "host-1", ClaimedAt: testNow},
		{ID: "n2", IncidentID: "B", Receiver: "pagerduty", Key: "opened", ClaimedBy: "host-1", ClaimedAt: testNow.Add(time.Second)},
		{ID: "n3", IncidentID: "A", Receiver: "slack", Key: "resolved", ClaimedBy: "host-1", ClaimedAt: testNow.Add(2 * time.Second)},
	} {
		if _, ok, err := e.store.ClaimNotification(ctx, n, time.Time{}); err != nil || !ok {
			t.Fatalf("claim %d: %v, %v", i, ok, err)
		}
	}
	failed := store.Notification{ID: "n3", ClaimedBy: "host-1", Status: store.NotificationFailed, Attempts: 5,
		LastError: "HTTP 500: oops", ClaimedAt: testNow.Add(2 * time.Second), FinishedAt: testNow.Add(time.Minute)}
	if err := e.store.UpdateNotification(ctx, failed); err != nil {
		t.Fatal(err)
	}
	viewer := []string{"Authorization", "Bearer " + viewerToken}
	cases := []struct {
		target string
		code   int
		ids    []string
	}{
		{"/api/v1/notifications", http.StatusOK, []string{"n3", "n2", "n1"}},
		{"/api/v1/notifications?incident=A&limit=1", http.StatusOK, []string{"n3"}},
		{"/api/v1/notifications?incident=Z", http.StatusOK, []string{}},
		{"/api/v1/notifications?limit=0", http.StatusBadRequest, nil},
		{"/api/v1/notifications?incidents=A", http.StatusBadRequest, nil},
	}
	for _, tc := range cases {
		rec := e.do(http.MethodGet, tc.target, "", viewer...)
		if rec.Code != tc.code {
			t.Errorf("GET %s: %d %s, want %d", tc.target, rec.Code, rec.Body, tc.code)
			continue
		}
		if tc.code != http.StatusOK {
			continue
		}
		var reply struct {
			Notifications []store.Notification `json:"notifications"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &reply); err != nil || reply.Notifications == nil {
			t.Fatalf("GET %s: %v: %s", tc.target, err, rec.Body)
		}
		got := make([]string, 0, len(reply.Notifications))
		for _, n := range reply.Notifications {
			got = append(got, n.ID)
		}
		if strings.Join(got, ",") != strings.Join(tc.ids, ",") {
			t.Errorf("GET %s: ids %v, want %v", tc.target, got, tc.ids)
		}
		if tc.target == "/api/v1/notifications" {
			if n := reply.Notifications[0]; n.Status != store.NotificationFailed || n.Attempts != 5 || n.LastError != "HTTP 500: oops" {
				t.Errorf("failed row: %+v", n)
			}
		}
	}
	if rec := e.do(http.MethodGet, "/api/v1/notifications", ""); rec.Code != http.StatusUnauthorized {
		t.Errorf("without a token: %d, want 401", rec.Code)
	}
}
