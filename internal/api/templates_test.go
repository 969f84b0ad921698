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

// TestLogTemplateLinks checks the link from log anomalies and incidents to
// their template: GET /api/v1/log-templates/{source}/{id} serves the
// template (an alias too), log anomalies carry templateUrl, and an
// incident lists the templates of its log anomaly members.
func TestLogTemplateLinks(t *testing.T) {
	e := newEnv(t, withTokens)
	ctx := context.Background()
	viewer := bearer(viewerToken)
	timeout := osprey.LogTemplate{ID: "0a1b2c3d4e5f6071", Source: "loki", Template: "payment gateway timeout after <*> retries",
		Count: 7, FirstSeen: testNow, LastSeen: testNow, Sample: "payment gateway timeout after 3 retries"}
	merged := osprey.LogTemplate{ID: "0a1b2c3d4e5f6072", Source: "loki", Template: "payment gateway timeout after 3 retries",
		Count: 1, FirstSeen: testNow, LastSeen: testNow, AliasOf: timeout.ID}
	if err := e.store.SaveTemplates(ctx, []osprey.LogTemplate{timeout, merged}); err != nil {
		t.Fatal(err)
	}

	var got osprey.LogTemplate
	decodeReply(t, e.do("GET", TemplatePath("loki", timeout.ID), "", viewer...), 200, &got)
	if got.ID != timeout.ID || got.Source != "loki" || got.Template != timeout.Template || got.Count != 7 {
		t.Errorf("template = %+v", got)
	}
	decodeReply(t, e.do("GET", TemplatePath("loki", merged.ID), "", viewer...), 200, &got)
	if got.AliasOf != timeout.ID {
		t.Errorf("merged template = %+v, want aliasOf %s", got, timeout.ID)
	}
	for _, target := range []string{TemplatePath("loki", "ffffffffffffffff"), TemplatePath("otlp", timeout.ID)} {
		if rec := e.do("GET", target, "", viewer...); rec.Code != 404 || !strings.Contains(errorReply(t, rec).Error, "not found") {
			t.Errorf("GET %s = %d %s, want 404", target, rec.Code, rec.Body)
		}
	}
	if rec := e.do("GET", TemplatePath("loki", timeout.ID), ""); rec.Code != 401 {
		t.Errorf("without a token: %d", rec.Code)
	}
	if p := TemplatePath("syslog/a b", "x"); p != "/api/v1/log-templates/syslog%2Fa%20b/x" {
		t.Errorf("TemplatePath escapes to %q", p)
	}

	// A log anomaly on the template, and a metric one, in one incident.
	logLabels := osprey.Labels{"source": "loki", "service": "payments", "template_id": timeout.ID}
	logA := osprey.Anomaly{ID: "01JLOGANOM0000000000000000", Kind: osprey.AnomalyLog, Labels: logLabels, TemplateID: timeout.ID,
		Score: 0.8, Observed: 40, Expected: 2, Severity: osprey.SeverityError, StartsAt: testNow, Fingerprint: 11}
	metricLabels := osprey.Labels{osprey.LabelMetric: "latency", "service": "payments", "source": "prometheus"}
	metricA := osprey.Anomaly{ID: "01JMETANOM0000000000000000", Kind: osprey.AnomalyMetric, Labels: metricLabels,
		Score: 0.7, Observed: 9, Expected: 1, Severity: osprey.SeverityWarning, StartsAt: testNow, Fingerprint: metricLabels.Fingerprint()}
	if err := e.store.SaveAnomalies(ctx, []osprey.Anomaly{logA, metricA}); err != nil {
		t.Fatal(err)
	}
	var list struct {
		Anomalies []struct {
			ID          string `json:"id"`
			TemplateID  string `json:"templateId"`
			TemplateURL string `json:"templateUrl"`
		} `json:"anomalies"`
	}
	decodeReply(t, e.do("GET", "/api/v1/anomalies", "", viewer...), 200, &list)
	urls := map[string]string{}
	for _, a := range list.Anomalies {
		urls[a.ID] = a.TemplateURL
	}
	if urls[logA.ID] != TemplatePath("loki", timeout.ID) || urls[metricA.ID] != "" {
		t.Errorf("templateUrl per anomaly = %v", urls)
	}
	var one struct {
		TemplateURL string `json:"templateUrl"`
	}
	decodeReply(t, e.do("GET", "/api/v1/anomalies/"+logA.ID, "", viewer...), 200, &one)
	if one.TemplateURL != urls[logA.ID] {
		t.Errorf("GET anomaly templateUrl = %q", one.TemplateURL)
	}
	// The link serves the anomaly's template.
	decodeReply(t, e.do("GET", one.TemplateURL, "", viewer...), 200, &got)
	if got.ID != logA.TemplateID {
		t.Errorf("the anomaly's link served %+v", got)
	}

	member := func(a osprey.Anomaly) *osprey.Member {
		return &osprey.Member{Kind: osprey.MemberAnomaly, Fingerprint: a.Fingerprint, Name: a.ID, Labels: a.Labels,
			Severity: a.Severity, Status: osprey.StatusFiring, FirstRef: a.ID, LastRef: a.ID, FirstSeen: testNow, LastSeen: testNow, Count: 1}
	}
	inc := osprey.Incident{ID: "01JINCLOGS0000000000000000", Title: "payments errors", Status: osprey.IncidentOpen,
		Severity: osprey.SeverityError, OpenedAt: testNow, UpdatedAt: testNow, Members: []*osprey.Member{member(metricA), member(logA)}}
	if err := e.store.SaveIncident(ctx, inc); err != nil {
		t.Fatal(err)
	}
	var view struct {
		ID           string           `json:"id"`
		Members      []*osprey.Member `json:"members"`
		LogTemplates []templateLink   `json:"logTemplates"`
	}
	decodeReply(t, e.do("GET", "/api/v1/incidents/"+inc.ID, "", viewer...), 200, &view)
	if view.ID != inc.ID || len(view.Members) != 2 {
		t.Fatalf("incident = %+v", view)
	}
	if len(view.LogTemplates) != 1 {
		t.Fatalf("logTemplates = %+v, want the one template", view.LogTemplates)
	}
	if l := view.LogTemplates[0]; l.Source != "loki" || l.TemplateID != timeout.ID || l.URL != TemplatePath("loki", timeout.ID) ||
		len(l.Members) != 1 || l.Members[0] != logA.Fingerprint {
		t.Errorf("logTemplates[0] = %+v", l)
	}
}
