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
)

func TestLogTemplates(t *testing.T) {
	e := newEnv(t, withTokens)
	login := osprey.LogTemplate{ID: "syslog-login", Source: "syslog", Template: "user <*> logged in from <*>",
		Count: 50, FirstSeen: testNow, LastSeen: testNow.Add(time.Minute), Sample: "user 7 logged in from 10.0.0.7"}
	disk := osprey.LogTemplate{ID: "loki-disk", Source: "loki", Template: "disk <*> is full",
		Count: 3, FirstSeen: testNow, LastSeen: testNow, Sample: "disk /dev/sda1 is full"}
	if err := e.store.SaveTemplates(context.Background(), []osprey.LogTemplate{login, disk}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		target   string
		token    string
		wantCode int
		wantIDs  []string
		wantErr  string
	}{
		{name: "all", target: "/api/v1/log-templates", token: viewerToken, wantCode: 200,
			wantIDs: []string{login.ID, disk.ID}},
		{name: "source", target: "/api/v1/log-templates?source=loki", token: viewerToken, wantCode: 200,
			wantIDs: []string{disk.ID}},
		{name: "text", target: "/api/v1/log-templates?q=logged+in", token: viewerToken, wantCode: 200,
			wantIDs: []string{login.ID}},
		{name: "no match", target: "/api/v1/log-templates?source=otlp", token: viewerToken, wantCode: 200,
			wantIDs: []string{}},
		{name: "limit", target: "/api/v1/log-templates?limit=1", token: viewerToken, wantCode: 200,
			wantIDs: []string{login.ID}},
		{name: "bad limit", target: "/api/v1/log-templates?limit=0", token: viewerToken, wantCode: 400, wantErr: "limit"},
		{name: "long q", target: "/api/v1/log-templates?q=" + strings.Repeat("x", 2000), token: viewerToken,
			wantCode: 400, wantErr: "at most"},
		{name: "unknown parameter", target: "/api/v1/log-templates?level=error", token: viewerToken, wantCode: 400,
			wantErr: `"level"`},
		{name: "without token", target: "/api/v1/log-templates", wantCode: 401, wantErr: "missing bearer token"},
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
			if tt.wantCode != http.StatusOK {
				if body := errorReply(t, rec); !strings.Contains(body.Error, tt.wantErr) {
					t.Errorf("error %q does not contain %q", body.Error, tt.wantErr)
				}
				return
			}
			var reply struct {
				Templates []osprey.LogTemplate `json:"templates"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &reply); err != nil || reply.Templates == nil {
				t.Fatalf("reply %s: %v (want a templates list, never null)", rec.Body, err)
			}
			got := []string{}
			for _, tpl := range reply.Templates {
				got = append(got, tpl.ID)
			}
			if !slices.Equal(got, tt.wantIDs) {
				t.Errorf("IDs = %v, want %v", got, tt.wantIDs)
			}
			if tt.name == "all" {
				if g := reply.Templates[0]; g.Count != 50 || g.Sample != login.Sample || !g.FirstSeen.Equal(login.FirstSeen) ||
					!g.LastSeen.Equal(login.LastSeen) || g.Template != login.Template {
					t.Errorf("template = %+v, want %+v", g, login)
				}
			}
		})
	}
}
