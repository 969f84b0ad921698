package correlate_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/correlate"
	"github.com/osprey-aiops/osprey/internal/match"
)

var dbWindow = osprey.MaintenanceWindow{
	ID:       "config/db-upgrade",
	Name:     "db-upgrade",
	Matchers: []osprey.Matcher{{Name: "service", Type: osprey.MatchEqual, Value: "db"}},
	StartsAt: t0,
	EndsAt:   t0.Add(time.Hour),
}

func TestMaintenanceOneOffHoldsAndReleases(t *testing.T) {
	r := newExtRig(t, correlate.Options{Maintenance: []osprey.MaintenanceWindow{dbWindow}})
	db := osprey.Labels{"service": "db"}
	r.send(ev{at: 5 * time.Minute, name: "Down", labels: db},
		ev{at: 6 * time.Minute, name: "Latency", labels: osprey.Labels{"service": "web"}},
		ev{at: 10 * time.Minute, name: "Backup", labels: db},
		ev{at: 20 * time.Minute, name: "Backup", labels: db, resolved: true},
		ev{at: 30 * time.Minute, name: "Down", labels: db})
	incs := r.all()
	if len(incs) != 1 || memberNames(incs[0]) != "Latency" {
		t.Fatalf("inside the window: %d incidents, want only web's", len(incs))
	}
	if got := r.counter("osprey_correlate_suppressed_total", "maintenance"); got != 3 {
		t.Errorf("suppressed{maintenance} = %v, want 3", got)
	}
	if !r.c.InMaintenance(db, t0.Add(59*time.Minute)) || r.c.InMaintenance(db, t0.Add(time.Hour)) ||
		r.c.InMaintenance(osprey.Labels{"service": "web"}, t0.Add(time.Minute)) {
		t.Error("InMaintenance disagrees with the window")
	}

	// The window ends at 60m; the next sweep applies what is still firing
	// as of the end: Down opens its incident then, Backup (resolved
	// inside) opens nothing.
	r.at(61 * time.Minute)
	if err := r.c.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	incs = r.all()
	if len(incs) != 2 || memberNames(incs[1]) != "Down" {
		t.Fatalf("after the window: %d incidents", len(incs))
	}
	down := incs[1]
	if !down.OpenedAt.Equal(t0.Add(time.Hour)) || down.Members[0].Count != 1 {
		t.Errorf("Down opened at %s with count %d", down.OpenedAt, down.Members[0].Count)
	}
	if !hasEntry(down, osprey.TimelineMemberUpdate, "fired at 2026-11-26T10:05:00Z during maintenance window config/db-upgrade, which ended at 2026-11-26T11:00:00Z; it is still firing") {
		t.Errorf("timeline: %+v", down.Timeline)
	}
	if got := r.counter("osprey_correlate_maintenance_released_total", ""); got != 1 {
		t.Errorf("released = %v", got)
	}
	if got := r.counter("osprey_correlate_maintenance_cleared_total", ""); got != 1 {
		t.Errorf("cleared = %v", got)
	}
	// After the window, db alerts correlate as usual.
	r.send(ev{at: 62 * time.Minute, name: "Backup", labels: db})
	if got := memberNames(r.all()[1]); got != "Down,Backup" {
		t.Errorf("after the window: members %s", got)
	}
}

func TestMaintenanceNotesTheIncidentAndResolutionsPass(t *testing.T) {
	w := dbWindow
	w.StartsAt = t0.Add(10 * time.Minute)
	r := newExtRig(t, correlate.Options{Maintenance: []osprey.MaintenanceWindow{w}})
	db := osprey.Labels{"service": "db"}
	r.send(ev{at: 0, name: "Down", labels: db},
		// Inside the window: the repeat is noted, the resolution applies.
		ev{at: 15 * time.Minute, name: "Down", labels: db},
		ev{at: 16 * time.Minute, name: "Down", labels: db},
		ev{at: 20 * time.Minute, name: "Down", labels: db, resolved: true})
	inc := r.only()
	if inc.Members[0].Status != osprey.StatusResolved || inc.Members[0].Count != 1 {
		t.Errorf("member %+v", inc.Members[0])
	}
	n := 0
	for _, e := range inc.Timeline {
		if e.Kind == osprey.TimelineSuppressed && strings.Contains(e.Message, "maintenance window config/db-upgrade until 2026-11-26T11:00:00Z") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("maintenance noted %d times, want once: %+v", n, inc.Timeline)
	}
	if inc.Status != osprey.IncidentResolved {
		t.Errorf("the resolution inside the window did not resolve the incident: %s", inc.Status)
	}
}

func TestMaintenanceClearedAlertIsNotedOnItsGroupsIncident(t *testing.T) {
	w := dbWindow
	w.StartsAt, w.EndsAt = t0.Add(10*time.Minute), t0.Add(20*time.Minute)
	r := newExtRig(t, correlate.Options{Maintenance: []osprey.MaintenanceWindow{w}, Window: 30 * time.Minute})
	db := osprey.Labels{"service": "db"}
	r.send(ev{at: 0, name: "Down", labels: db},
		ev{at: 12 * time.Minute, name: "Backup", labels: db},
		ev{at: 14 * time.Minute, name: "Backup", labels: db, resolved: true})
	r.at(21 * time.Minute)
	if err := r.c.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	inc := r.only()
	if memberNames(inc) != "Down" {
		t.Errorf("members %s: the cleared alert joined", memberNames(inc))
	}
	if !hasEntry(inc, osprey.TimelineSuppressed, "Backup{service=\"db\"} fired at 2026-11-26T10:12:00Z during maintenance window config/db-upgrade and resolved during it") {
		t.Errorf("no resolved-during-maintenance note: %+v", inc.Timeline)
	}
	if got := r.counter("osprey_correlate_maintenance_cleared_total", ""); got != 1 {
		t.Errorf("cleared = %v", got)
	}
}

func TestMaintenanceRecurringWindowInCorrelator(t *testing.T) {
	// t0 is Thursday 10:00Z = 11:00 in Berlin (CET).
	w := osprey.MaintenanceWindow{ID: "weekly", Matchers: dbWindow.Matchers,
		Schedule: &osprey.WeeklySchedule{Days: []string{"thu"}, Start: "11:00", Duration: "30m", Timezone: "Europe/Berlin"}}
	r := newExtRig(t, correlate.Options{Maintenance: []osprey.MaintenanceWindow{w}})
	r.send(ev{at: 10 * time.Minute, name: "Down", labels: osprey.Labels{"service": "db"}})
	if n := len(incidents(t, r.st)); n != 0 {
		t.Fatalf("%d incidents inside the weekly window", n)
	}
	r.send(ev{at: 31 * time.Minute, name: "Other", labels: osprey.Labels{"service": "web"}})
	incs := r.all()
	if len(incs) != 2 || memberNames(incs[0]) != "Down" || !incs[0].OpenedAt.Equal(t0.Add(30*time.Minute)) {
		t.Fatalf("after the weekly window: %+v", incs)
	}
}

func TestScheduleAcrossDaylightSaving(t *testing.T) {
	sc, err := correlate.ParseSchedule(osprey.WeeklySchedule{Days: []string{"sun"}, Start: "02:00", Duration: "2h", Timezone: "Europe/Berlin"})
	if err != nil {
		t.Fatal(err)
	}
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name, at string
		active   bool
		end      string
	}{
		{"winter: 02:00 CET is 01:00Z", "2026-03-22T01:00:00Z", true, "2026-03-22T03:00:00Z"},
		{"winter: before", "2026-03-22T00:59:59Z", false, ""},
		{"winter: end is exclusive", "2026-03-22T03:00:00Z", false, ""},
		// 02:00 does not exist on the day DST begins: the window starts
		// at 03:00 CEST (01:00Z), the first instant after the gap, and
		// lasts two elapsed hours.
		{"spring-forward day", "2026-03-29T01:00:00Z", true, "2026-03-29T03:00:00Z"},
		{"spring-forward day: before", "2026-03-29T00:30:00Z", false, ""},
		{"summer: 02:00 CEST is 00:00Z", "2026-04-05T00:00:00Z", true, "2026-04-05T02:00:00Z"},
		{"summer: an hour later than in winter is outside", "2026-04-05T02:30:00Z", false, ""},
		// 02:00 happens twice when DST ends; Go takes the second (CET).
		{"fall-back day: the first 02:30 (CEST)", "2026-10-25T00:30:00Z", false, ""},
		{"fall-back day: the second 02:00 (CET)", "2026-10-25T01:00:00Z", true, "2026-10-25T03:00:00Z"},
		{"saturday", "2026-04-04T00:30:00Z", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			end, ok := sc.Active(utc(tt.at))
			if ok != tt.active || ok && !end.Equal(utc(tt.end)) {
				t.Errorf("Active(%s) = %s, %v; want %s, %v", tt.at, end.UTC().Format(time.RFC3339), ok, tt.end, tt.active)
			}
		})
	}
	// A window that crosses midnight is active on the next day too.
	late, err := correlate.ParseSchedule(osprey.WeeklySchedule{Days: []string{"sat"}, Start: "23:00", Duration: "3h"})
	if err != nil {
		t.Fatal(err)
	}
	if end, ok := late.Active(utc("2026-04-05T01:30:00Z")); !ok || !end.Equal(utc("2026-04-05T02:00:00Z")) {
		t.Errorf("sunday 01:30 after a saturday 23:00+3h window: %s %v", end, ok)
	}
}

func TestValidateMaintenance(t *testing.T) {
	ms := match.MustCompile(osprey.Matcher{Name: "service", Type: osprey.MatchEqual, Value: "db"}).Matchers()
	sched := func(days []string, start, dur, tz string) *osprey.WeeklySchedule {
		return &osprey.WeeklySchedule{Days: days, Start: start, Duration: dur, Timezone: tz}
	}
	tests := []struct {
		name string
		w    osprey.MaintenanceWindow
		want string
	}{
		{"no matchers", osprey.MaintenanceWindow{StartsAt: t0, EndsAt: t0.Add(time.Hour)}, "matchers: at least one is required"},
		{"matches everything", osprey.MaintenanceWindow{Matchers: []osprey.Matcher{{Name: "env", Type: osprey.MatchNotEqual, Value: "prod"}}, StartsAt: t0, EndsAt: t0.Add(time.Hour)}, "would match signals without any of these labels"},
		{"neither", osprey.MaintenanceWindow{Matchers: ms}, "startsAt and endsAt, or a schedule: one is required"},
		{"end before start", osprey.MaintenanceWindow{Matchers: ms, StartsAt: t0, EndsAt: t0}, "endsAt: 2026-11-26T10:00:00Z is not after startsAt"},
		{"both", osprey.MaintenanceWindow{Matchers: ms, StartsAt: t0, EndsAt: t0.Add(time.Hour), Schedule: sched([]string{"sun"}, "02:00", "1h", "")}, "not both"},
		{"bad day", osprey.MaintenanceWindow{Matchers: ms, Schedule: sched([]string{"sunday"}, "02:00", "1h", "")}, `schedule.days[0]: "sunday" is not one of mon`},
		{"no days", osprey.MaintenanceWindow{Matchers: ms, Schedule: sched(nil, "02:00", "1h", "")}, "schedule.days: list at least one"},
		{"twice", osprey.MaintenanceWindow{Matchers: ms, Schedule: sched([]string{"sun", "Sun"}, "02:00", "1h", "")}, `schedule.days[1]: "Sun" is listed twice`},
		{"bad start", osprey.MaintenanceWindow{Matchers: ms, Schedule: sched([]string{"sun"}, "2:00", "1h", "")}, `schedule.start: "2:00" is not a time of day as HH:MM`},
		{"hour 24", osprey.MaintenanceWindow{Matchers: ms, Schedule: sched([]string{"sun"}, "24:00", "1h", "")}, "schedule.start"},
		{"bad duration", osprey.MaintenanceWindow{Matchers: ms, Schedule: sched([]string{"sun"}, "02:00", "2 hours", "")}, `schedule.duration: "2 hours" is not a positive duration`},
		{"too long", osprey.MaintenanceWindow{Matchers: ms, Schedule: sched([]string{"sun"}, "02:00", "200h", "")}, "longer than 7 days"},
		{"bad zone", osprey.MaintenanceWindow{Matchers: ms, Schedule: sched([]string{"sun"}, "02:00", "1h", "Mars/Olympus")}, `schedule.timezone: "Mars/Olympus" is not an IANA time zone`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := correlate.ValidateMaintenance(tt.w)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
	if err := correlate.ValidateMaintenance(osprey.MaintenanceWindow{Matchers: ms, Schedule: sched([]string{"sat", "sun"}, "02:00", "2h", "Europe/Berlin")}); err != nil {
		t.Errorf("valid weekly window: %v", err)
	}
	if _, err := correlate.New(correlate.Options{Store: openStore(t), Window: time.Minute, Maintenance: []osprey.MaintenanceWindow{{ID: "x"}}}); err == nil ||
		!strings.Contains(err.Error(), "correlate: maintenance[0]: matchers") {
		t.Errorf("New with a bad window: %v", err)
	}
}
