package api

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/correlate"
)

// withMaintenance is withCorrelator with configured maintenance windows, and
// the correlator as the maintenance routes' source.
func withMaintenance(tb testing.TB, corr **correlate.Correlator, windows ...osprey.MaintenanceWindow) envOption {
	return func(o *Options) {
		c, err := correlate.New(correlate.Options{
			Store: o.Store, Window: 5 * time.Minute, GroupBy: []string{"service"}, Maintenance: windows,
			CatchUpInterval: time.Hour, Now: o.Now, Registerer: prometheus.NewRegistry(),
		})
		if err != nil {
			tb.Fatal(err)
		}
		if err := c.Start(context.Background()); err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { c.Shutdown(context.Background()) })
		o.Incidents, o.Silences, o.Maintenance = c, c, c
		*corr = c
	}
}

func TestMaintenanceRoutes(t *testing.T) {
	var corr *correlate.Correlator
	cfgWindow := osprey.MaintenanceWindow{ID: "config/batch", Name: "batch", CreatedBy: "config",
		Matchers: []osprey.Matcher{{Name: "service", Type: osprey.MatchEqual, Value: "batch"}},
		Schedule: &osprey.WeeklySchedule{Days: []string{"sat"}, Start: "02:00", Duration: "2h0m0s", Timezone: "Europe/Berlin"}}
	e := newEnv(t, withTokens, withMaintenance(t, &corr, cfgWindow))
	operator := append(bearer(operatorToken), "Content-Type", "application/json")
	viewer := bearer(viewerToken)

	var oneOff, weekly maintenanceResponse
	decodeReply(t, e.do("POST", "/api/v1/maintenance",
		`{"name":" db upgrade ","matchers":[{"name":"service","type":"=","value":"db"}],"duration":"2h","comment":"ticket 42"}`,
		operator...), 201, &oneOff)
	if oneOff.State != "active" || oneOff.Source != "api" || oneOff.Name != "db upgrade" || oneOff.CreatedBy != "alertmanager" ||
		!oneOff.StartsAt.Equal(testNow) || !oneOff.EndsAt.Equal(testNow.Add(2*time.Hour)) || !oneOff.ActiveUntil.Equal(oneOff.EndsAt) || oneOff.ID == "" {
		t.Fatalf("created = %+v", oneOff)
	}
	e.clock.Advance(time.Second) // ids sort by creation
	decodeReply(t, e.do("POST", "/api/v1/maintenance",
		`{"matchers":[{"name":"cluster","type":"=~","value":"batch-.*"}],"schedule":{"days":["sun"],"start":"03:00","duration":"1h","timezone":"Europe/Berlin"}}`,
		operator...), 201, &weekly)
	if weekly.State != "scheduled" || weekly.Schedule == nil || weekly.Schedule.Days[0] != "sun" {
		t.Fatalf("weekly = %+v", weekly)
	}

	// The correlator heard of the window: a db alert opens nothing.
	if id := e.fire(t, corr, "Down", "db"); id != "" {
		t.Errorf("alert in maintenance opened incident %s", id)
	}
	if !corr.InMaintenance(osprey.Labels{"service": "db"}, testNow) {
		t.Error("InMaintenance is false for a db series")
	}

	var list []maintenanceResponse
	decodeReply(t, e.do("GET", "/api/v1/maintenance", "", viewer...), 200, &list)
	var got []string
	for _, w := range list {
		got = append(got, w.ID+":"+w.Source+":"+w.State)
	}
	want := []string{"config/batch:config:scheduled", oneOff.ID + ":api:active", weekly.ID + ":api:scheduled"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("list = %v, want %v", got, want)
	}

	// A configured window cannot be deleted through the API.
	rec := e.do("DELETE", "/api/v1/maintenance/config/batch", "", bearer(operatorToken)...)
	if rec.Code != 404 && rec.Code != 409 {
		t.Errorf("delete of a configured window: %d %s", rec.Code, rec.Body)
	}
	var deleted maintenanceResponse
	decodeReply(t, e.do("DELETE", "/api/v1/maintenance/"+oneOff.ID, "", bearer(operatorToken)...), 200, &deleted)
	if deleted.ID != oneOff.ID {
		t.Errorf("deleted = %+v", deleted)
	}
	if rec := e.do("DELETE", "/api/v1/maintenance/"+oneOff.ID, "", bearer(operatorToken)...); rec.Code != 404 {
		t.Errorf("second delete: %d", rec.Code)
	}
	// The correlator heard of the deletion: db alerts correlate again.
	e.clock.Advance(time.Minute)
	if id := e.fire(t, corr, "Down", "db"); id == "" {
		t.Error("alert after the window was deleted opened no incident")
	}

	audit, err := e.store.ListAudit(context.Background(), time.Time{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, a := range audit {
		actions = append(actions, a.Actor+" "+a.Action+" "+a.Object)
	}
	wantAudit := []string{
		"alertmanager maintenance.delete maintenance/" + oneOff.ID,
		"alertmanager maintenance.create maintenance/" + weekly.ID,
		"alertmanager maintenance.create maintenance/" + oneOff.ID,
	}
	if strings.Join(actions, "|") != strings.Join(wantAudit, "|") {
		t.Errorf("audit = %q, want %q", actions, wantAudit)
	}
	if !strings.Contains(audit[2].Detail, `"matchers":["service=\"db\""]`) || !strings.Contains(audit[2].Detail, `"comment":"ticket 42"`) {
		t.Errorf("create audit detail = %s", audit[2].Detail)
	}
}

func TestConfiguredMaintenanceCannotBeDeleted(t *testing.T) {
	var corr *correlate.Correlator
	w := osprey.MaintenanceWindow{ID: "config/x", Matchers: []osprey.Matcher{{Name: "service", Type: osprey.MatchEqual, Value: "x"}},
		StartsAt: testNow, EndsAt: testNow.Add(time.Hour)}
	e := newEnv(t, withTokens, withMaintenance(t, &corr, w))
	rec := e.do("DELETE", "/api/v1/maintenance/config%2Fx", "", bearer(operatorToken)...)
	if rec.Code != 409 || !strings.Contains(rec.Body.String(), "correlate.maintenance") {
		t.Errorf("delete configured window: %d %s", rec.Code, rec.Body)
	}
}

func TestMaintenanceRouteErrors(t *testing.T) {
	e := newEnv(t, withTokens)
	operator := append(bearer(operatorToken), "Content-Type", "application/json")
	m := `"matchers":[{"name":"service","type":"=","value":"db"}]`
	tests := []struct {
		name, method, target, body string
		header                     []string
		wantCode                   int
		wantErr                    string
	}{
		{"viewer cannot create", "POST", "/api/v1/maintenance", `{` + m + `,"duration":"1h"}`, append(bearer(viewerToken), "Content-Type", "application/json"), 403, ""},
		{"viewer cannot delete", "DELETE", "/api/v1/maintenance/x", "", bearer(viewerToken), 403, ""},
		{"no matchers", "POST", "/api/v1/maintenance", `{"duration":"1h"}`, operator, 400, "matchers: at least one is required"},
		{"matches everything", "POST", "/api/v1/maintenance", `{"matchers":[{"name":"env","type":"!=","value":"prod"}],"duration":"1h"}`, operator, 400, "would match signals without any of these labels"},
		{"bad regex", "POST", "/api/v1/maintenance", `{"matchers":[{"name":"a","type":"=~","value":"("}],"duration":"1h"}`, operator, 400, "missing closing )"},
		{"nothing", "POST", "/api/v1/maintenance", `{` + m + `}`, operator, 400, "endsAt, duration or schedule: one is required"},
		{"both kinds", "POST", "/api/v1/maintenance", `{` + m + `,"duration":"1h","schedule":{"days":["sun"],"start":"02:00","duration":"1h"}}`, operator, 400, "not both"},
		{"bad day", "POST", "/api/v1/maintenance", `{` + m + `,"schedule":{"days":["sonntag"],"start":"02:00","duration":"1h"}}`, operator, 400, `schedule.days[0]: "sonntag" is not one of mon`},
		{"bad zone", "POST", "/api/v1/maintenance", `{` + m + `,"schedule":{"days":["sun"],"start":"02:00","duration":"1h","timezone":"Berlin"}}`, operator, 400, `schedule.timezone: "Berlin" is not an IANA time zone`},
		{"end in the past", "POST", "/api/v1/maintenance", `{` + m + `,"startsAt":"2025-06-01T10:00:00Z","endsAt":"2025-06-01T11:00:00Z"}`, operator, 400, "is in the past"},
		{"end before start", "POST", "/api/v1/maintenance", `{` + m + `,"startsAt":"2025-06-01T15:00:00Z","endsAt":"2025-06-01T14:00:00Z"}`, operator, 400, "is not after startsAt"},
		{"bad duration", "POST", "/api/v1/maintenance", `{` + m + `,"duration":"1d"}`, operator, 400, `duration: "1d" is not a positive duration`},
		{"unknown field", "POST", "/api/v1/maintenance", `{` + m + `,"duration":"1h","id":"mine"}`, operator, 400, `unknown field "id"`},
		{"name too long", "POST", "/api/v1/maintenance", `{` + m + `,"duration":"1h","name":"` + strings.Repeat("x", 300) + `"}`, operator, 400, "name: 300 bytes"},
		{"unknown parameter", "GET", "/api/v1/maintenance?state=active", "", bearer(viewerToken), 400, `unknown query parameter "state"`},
		{"delete unknown", "DELETE", "/api/v1/maintenance/01NOSUCH", "", bearer(operatorToken), 404, `maintenance window "01NOSUCH" not found`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := e.do(tt.method, tt.target, tt.body, tt.header...)
			if rec.Code != tt.wantCode {
				t.Fatalf("code = %d, want %d; body %s", rec.Code, tt.wantCode, rec.Body)
			}
			var body errorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("error reply is not JSON: %s", rec.Body)
			}
			if !strings.Contains(body.Error, tt.wantErr) {
				t.Errorf("error = %q, want it to contain %q", body.Error, tt.wantErr)
			}
		})
	}
	list, err := e.store.ListMaintenance(context.Background())
	if err != nil || len(list) != 0 {
		t.Errorf("stored windows = %v, %v", list, err)
	}
}

// FuzzMaintenanceRequest checks that the body validation never panics and
// that what it accepts is a window the correlator accepts.
func FuzzMaintenanceRequest(f *testing.F) {
	f.Add(`{"matchers":[{"name":"service","type":"=","value":"db"}],"duration":"2h"}`)
	f.Add(`{"matchers":[{"name":"a","type":"=~","value":"x.*"}],"schedule":{"days":["sat","sun"],"start":"02:00","duration":"2h","timezone":"Europe/Berlin"}}`)
	f.Add(`{"matchers":[{"name":"a","type":"=","value":"b"}],"schedule":{"days":["xx"],"start":"25:00","duration":"-1h","timezone":"Local"}}`)
	f.Fuzz(func(t *testing.T, body string) {
		var req maintenanceRequest
		if json.Unmarshal([]byte(body), &req) != nil {
			return
		}
		w, rerr := req.window(testNow)
		if rerr != nil {
			if rerr.code != 400 || rerr.msg == "" {
				t.Fatalf("rejection %+v", rerr)
			}
			return
		}
		if err := correlate.ValidateMaintenance(w); err != nil {
			t.Fatalf("accepted an invalid window %+v: %v", w, err)
		}
		maintenanceState(w, testNow)
	})
}
