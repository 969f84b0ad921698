package correlate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/match"
)

// Maintenance windows (correlate.maintenance and /api/v1/maintenance) mute
// the signals their matchers select while they are active, one-off (a start
// and an end) or weekly (days, a wall-clock start in a time zone, and a
// duration). Whether a window is active is decided in the time a signal was
// received, so a replay decides as the first pass did.
//
// A firing signal inside an active window opens, joins and escalates no
// incident. It is not lost: its event is stored as always, it is counted in
// osprey_correlate_suppressed_total{reason="maintenance"}, and if it belongs
// to an incident (its member's, or its group's within the window) that
// incident's timeline notes it once. The stage remembers the latest state of
// each such alert; when the window ends (at the next signal or catch-up
// tick after the end), an alert that is still firing is applied as if it
// fired at the window's end, so it opens (or joins) its incident then, with
// a timeline entry saying it fired during the window; one that resolved
// during the window opens nothing, is counted in
// osprey_correlate_maintenance_cleared_total and, if it belongs to an
// incident, gets a "resolved during maintenance" entry there. Resolutions
// are never held back. The remembered alerts are in memory: after a restart
// an alert still firing opens its incident with its next repeat.
//
// InMaintenance tells other stages (the metric detector's training filter)
// whether a series is inside a window.

// configWindowPrefix starts the id of a window from the configuration.
const configWindowPrefix = "config/"

// maxMaintenanceHeld bounds the alerts remembered across maintenance
// windows; beyond it new ones are counted but not remembered.
const maxMaintenanceHeld = 100_000

// maxWindowDuration bounds a recurring window's duration.
const maxWindowDuration = 7 * 24 * time.Hour

// weekdays maps the schedule's day names.
var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// Schedule is a compiled osprey.WeeklySchedule.
type Schedule struct {
	days         [7]bool
	hour, minute int
	dur          time.Duration
	loc          *time.Location
}

// ParseSchedule validates a weekly schedule: known day names (mon..sun,
// at least one, each once), Start as HH:MM, a positive Duration of at most
// 7 days, and a known IANA time zone (empty: UTC).
func ParseSchedule(ws osprey.WeeklySchedule) (Schedule, error) {
	var sc Schedule
	var errs []error
	if len(ws.Days) == 0 {
		errs = append(errs, errors.New("days: list at least one of mon, tue, wed, thu, fri, sat, sun"))
	}
	for i, d := range ws.Days {
		wd, ok := weekdays[strings.ToLower(strings.TrimSpace(d))]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("days[%d]: %q is not one of mon, tue, wed, thu, fri, sat, sun", i, clip(d, 16)))
		case sc.days[wd]:
			errs = append(errs, fmt.Errorf("days[%d]: %q is listed twice", i, d))
		default:
			sc.days[wd] = true
		}
	}
	h, m, ok := parseClock(ws.Start)
	if !ok {
		errs = append(errs, fmt.Errorf("start: %q is not a time of day as HH:MM (00:00 to 23:59)", clip(ws.Start, 16)))
	}
	sc.hour, sc.minute = h, m
	d, err := time.ParseDuration(ws.Duration)
	switch {
	case err != nil || d <= 0:
		errs = append(errs, fmt.Errorf("duration: %q is not a positive duration such as 2h or 90m", clip(ws.Duration, 32)))
	case d > maxWindowDuration:
		errs = append(errs, fmt.Errorf("duration: %s is longer than 7 days", d))
	}
	sc.dur = d
	sc.loc = time.UTC
	if ws.Timezone != "" {
		loc, err := time.LoadLocation(ws.Timezone)
		if err != nil || strings.EqualFold(ws.Timezone, "local") {
			errs = append(errs, fmt.Errorf("timezone: %q is not an IANA time zone such as Europe/Berlin", clip(ws.Timezone, 64)))
		} else {
			sc.loc = loc
		}
	}
	return sc, errors.Join(errs...)
}

func parseClock(s string) (h, m int, ok bool) {
	hs, ms, found := strings.Cut(s, ":")
	if !found || len(hs) != 2 || len(ms) != 2 {
		return 0, 0, false
	}
	h, err1 := strconv.Atoi(hs)
	m, err2 := strconv.Atoi(ms)
	if err1 != nil || err2 != nil || h < 0 || h > 23 || m < 0 || m > 59 {
		return 0, 0, false
	}
	return h, m, true
}

// Active reports whether at falls in an occurrence of the schedule, and
// when that occurrence ends. An occurrence starts at Start on each listed
// day in the schedule's zone; a start that does not exist that day (the
// hour skipped when daylight saving begins) is taken as Go's time.Date
// normalises it (the same instant on the far side of the gap), and the
// occurrence lasts Duration of elapsed time.
func (sc Schedule) Active(at time.Time) (time.Time, bool) {
	local := at.In(sc.loc)
	y, mo, d := local.Date()
	back := int(sc.dur/(24*time.Hour)) + 1
	for i := 0; i <= back; i++ {
		start := time.Date(y, mo, d-i, sc.hour, sc.minute, 0, 0, sc.loc)
		day := time.Date(y, mo, d-i, 12, 0, 0, 0, sc.loc).Weekday()
		if !sc.days[day] {
			continue
		}
		end := start.Add(sc.dur)
		if !at.Before(start) && at.Before(end) {
			return end, true
		}
	}
	return time.Time{}, false
}

// ValidateMaintenance checks a window: at least one matcher, valid, and not
// matching a signal without labels (which would mute nearly everything);
// either StartsAt before EndsAt or a valid Schedule, not both.
func ValidateMaintenance(w osprey.MaintenanceWindow) error {
	_, err := compileWindow(w)
	return err
}

// compiledWindow is a window ready to match.
type compiledWindow struct {
	w     osprey.MaintenanceWindow
	set   match.Set
	sched *Schedule
}

func compileWindow(w osprey.MaintenanceWindow) (compiledWindow, error) {
	var errs []error
	set, err := match.Compile(w.Matchers)
	switch {
	case len(w.Matchers) == 0:
		errs = append(errs, errors.New(`matchers: at least one is required, such as service="checkout"`))
	case err != nil:
		errs = append(errs, fmt.Errorf("matchers: %w", err))
	case set.MatchesEmpty():
		errs = append(errs, fmt.Errorf("matchers: %s would match signals without any of these labels, so nearly everything; add a matcher that requires a value", clip(set.String(), 200)))
	}
	cw := compiledWindow{w: w, set: set}
	oneOff := !w.StartsAt.IsZero() || !w.EndsAt.IsZero()
	switch {
	case w.Schedule != nil && oneOff:
		errs = append(errs, errors.New("give startsAt/endsAt or a schedule, not both"))
	case w.Schedule != nil:
		sc, err := ParseSchedule(*w.Schedule)
		if err != nil {
			errs = append(errs, prefixErrs("schedule.", err))
		}
		cw.sched = &sc
	case w.StartsAt.IsZero() || w.EndsAt.IsZero():
		errs = append(errs, errors.New("startsAt and endsAt, or a schedule: one is required"))
	case !w.EndsAt.After(w.StartsAt):
		errs = append(errs, fmt.Errorf("endsAt: %s is not after startsAt %s", w.EndsAt.UTC().Format(time.RFC3339), w.StartsAt.UTC().Format(time.RFC3339)))
	}
	return cw, errors.Join(errs...)
}

// prefixErrs prefixes each joined error's message.
func prefixErrs(prefix string, err error) error {
	var list interface{ Unwrap() []error }
	if !errors.As(err, &list) {
		return fmt.Errorf("%s%w", prefix, err)
	}
	out := make([]error, 0)
	for _, e := range list.Unwrap() {
		out = append(out, fmt.Errorf("%s%w", prefix, e))
	}
	return errors.Join(out...)
}

// active reports whether the window is active at at, and when it ends.
func (cw *compiledWindow) active(at time.Time) (time.Time, bool) {
	if cw.sched != nil {
		return cw.sched.Active(at)
	}
	if at.Before(cw.w.StartsAt) || !at.Before(cw.w.EndsAt) {
		return time.Time{}, false
	}
	return cw.w.EndsAt, true
}

// windowSet is an immutable list of compiled windows.
type windowSet struct{ list []compiledWindow }

// match returns the first window active at at that matches l, with its end.
func (ws *windowSet) match(l osprey.Labels, at time.Time) (*compiledWindow, time.Time) {
	for i := range ws.list {
		cw := &ws.list[i]
		if end, ok := cw.active(at); ok && cw.set.Matches(l) {
			return cw, end
		}
	}
	return nil, time.Time{}
}

// maintenance is the correlator's maintenance-window state.
type maintenance struct {
	// config are the windows from the configuration (ids "config/...").
	config []osprey.MaintenanceWindow
	// set is the compiled windows (config and stored), replaced whole by
	// reloads (serialised by mu) and read without the Correlator's lock.
	set atomic.Pointer[windowSet]
	mu  sync.Mutex

	// held remembers, per fingerprint, the latest signal of an alert that
	// fired inside a window; guarded by the Correlator's lock.
	held map[osprey.Fingerprint]*maintHeld
	// nextEnd is the earliest end of a window holding an alert.
	nextEnd time.Time
}

type maintHeld struct {
	sig    signal
	window string
	end    time.Time
	// firstAt is when the alert first fired in the window.
	firstAt time.Time
}

func newMaintenance(config []osprey.MaintenanceWindow) (*maintenance, error) {
	mt := &maintenance{held: make(map[osprey.Fingerprint]*maintHeld)}
	var errs []error
	for i, w := range config {
		if w.ID == "" {
			w.ID = configWindowPrefix + strconv.Itoa(i)
			if w.Name != "" {
				w.ID = configWindowPrefix + w.Name
			}
		}
		if err := ValidateMaintenance(w); err != nil {
			errs = append(errs, fmt.Errorf("correlate: maintenance[%d]: %w", i, err))
			continue
		}
		mt.config = append(mt.config, w)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	mt.set.Store(&windowSet{})
	return mt, nil
}

// MaintenanceChanged reloads the stored maintenance windows; the API calls
// it after a change, and the stage reloads on every catch-up tick.
func (c *Correlator) MaintenanceChanged(ctx context.Context) error {
	return c.reloadMaintenance(ctx)
}

// MaintenanceWindows returns the windows from the configuration, which the
// API lists with the stored ones (and refuses to delete).
func (c *Correlator) MaintenanceWindows() []osprey.MaintenanceWindow {
	return slices.Clone(c.maint.config)
}

// InMaintenance reports whether a signal or series labelled labels at at
// is inside an active maintenance window. It is safe for concurrent use and
// does not take the stage's lock (the detect stage calls it per batch).
func (c *Correlator) InMaintenance(labels osprey.Labels, at time.Time) bool {
	cw, _ := c.maint.set.Load().match(labels, at)
	return cw != nil
}

// reloadMaintenance reads the stored windows and replaces the compiled set with them and the configured ones. A stored
// window that is invalid is skipped and counted.
func (c *Correlator) reloadMaintenance(ctx context.Context) error {
	mt := c.maint
	mt.mu.Lock()
	defer mt.mu.Unlock()
	stored, err := c.store.ListMaintenance(ctx)
	if err != nil {
		return fmt.Errorf("load maintenance windows: %w", err)
	}
	list := append(slices.Clone(mt.config), stored...)
	set := &windowSet{list: make([]compiledWindow, 0, len(list))}
	for _, w := range list {
		cw, err := compileWindow(w)
		if err != nil {
			c.xm.badWindows.Inc()
			c.log.Warn("skipping invalid maintenance window", "window", w.ID, "err", err)
			continue
		}
		set.list = append(set.list, cw)
	}
	mt.set.Store(set)
	c.xm.windows.Set(float64(len(set.list)))
	return nil
}

// maintainLocked decides whether sig falls in a maintenance window. A firing
// signal in one is remembered and noted (see above) and true is returned: the
// caller applies nothing more. A resolution of an alert remembered from a
// window updates the memory; it is applied as usual too (it may resolve a
// member of an incident).
func (c *Correlator) maintainLocked(cs *changeSet, sig signal) bool {
	mt := c.maint
	if !sig.firing {
		if h := mt.held[sig.fingerprint]; h != nil {
			h.sig = sig
		}
		return false
	}
	cw, end := mt.set.Load().match(sig.labels, sig.at)
	if cw == nil {
		return false
	}
	c.m.suppressed.WithLabelValues("maintenance").Inc()
	c.inhib.observe(sig)
	h := mt.held[sig.fingerprint]
	switch {
	case h != nil:
		h.sig, h.end, h.window = sig, laterOf(h.end, end), cw.w.ID
	case len(mt.held) >= maxMaintenanceHeld:
		c.xm.maintDropped.Inc()
	default:
		mt.held[sig.fingerprint] = &maintHeld{sig: sig, window: cw.w.ID, end: end, firstAt: sig.at}
	}
	if mt.nextEnd.IsZero() || end.Before(mt.nextEnd) {
		mt.nextEnd = end
	}
	why := "maintenance window " + cw.w.ID
	if cw.w.Name != "" && configWindowPrefix+cw.w.Name != cw.w.ID {
		why += " (" + clip(cw.w.Name, 100) + ")"
	}
	why += " until " + end.UTC().Format(time.RFC3339)
	if ch := c.st.noteSuppressed(sig, "maintenance/"+cw.w.ID, why); ch != nil {
		cs.add(ch)
	}
	return true
}

// releaseLocked applies, at the end of their windows, the alerts that fired
// inside maintenance windows that ended by at.
func (c *Correlator) releaseLocked(cs *changeSet, at time.Time) {
	mt := c.maint
	if mt.nextEnd.IsZero() || at.Before(mt.nextEnd) {
		return
	}
	mt.nextEnd = time.Time{}
	var due []*maintHeld
	for fp, h := range mt.held {
		if at.Before(h.end) {
			if mt.nextEnd.IsZero() || h.end.Before(mt.nextEnd) {
				mt.nextEnd = h.end
			}
			continue
		}
		delete(mt.held, fp)
		due = append(due, h)
	}
	slices.SortFunc(due, func(a, b *maintHeld) int {
		if n := a.end.Compare(b.end); n != 0 {
			return n
		}
		return cmp.Compare(a.sig.fingerprint, b.sig.fingerprint)
	})
	for _, h := range due {
		sig := h.sig
		if !sig.firing {
			c.xm.maintCleared.Inc()
			probe := sig
			probe.at = h.end
			if inc := c.st.target(probe); inc != nil {
				cs.add(&change{inc: inc, entries: []osprey.TimelineEntry{entry(h.end, osprey.TimelineSuppressed, sig.ref,
					fmt.Sprintf("%s %s%s fired at %s during maintenance window %s and resolved during it",
						sig.kind, sig.name, sig.labels, h.firstAt.UTC().Format(time.RFC3339), h.window))}})
			}
			continue
		}
		if cw, end := mt.set.Load().match(sig.labels, h.end); cw != nil {
			// Another window follows on: keep holding.
			mt.held[sig.fingerprint] = &maintHeld{sig: sig, window: cw.w.ID, end: end, firstAt: h.firstAt}
			if mt.nextEnd.IsZero() || end.Before(mt.nextEnd) {
				mt.nextEnd = end
			}
			continue
		}
		c.xm.maintReleased.Inc()
		sig.at = laterOf(sig.at, h.end)
		if ch, suppressed := c.suppressLocked(c.silences.Load(), sig); suppressed {
			// A silence or inhibition rule takes over from the window.
			if ch != nil {
				cs.add(ch)
			}
			continue
		}
		c.inhib.observe(sig)
		ch := c.st.apply(sig)
		if ch == nil {
			continue
		}
		if ch.opened {
			c.m.opened.Inc()
		}
		ch.entries = append(ch.entries, entry(h.end, osprey.TimelineMemberUpdate, sig.ref,
			fmt.Sprintf("%s %s%s fired at %s during maintenance window %s, which ended at %s; it is still firing",
				sig.kind, sig.name, sig.labels, h.firstAt.UTC().Format(time.RFC3339), h.window, h.end.UTC().Format(time.RFC3339))))
		cs.add(ch)
	}
}
