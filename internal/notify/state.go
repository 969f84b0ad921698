package notify

import (
	"strconv"
	"strings"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/store"
)

// The state machine: what the notifier knows of each incident at each
// receiver, and which notification is due next.

// tracked is what the notifier knows of one incident.
type tracked struct {
	inc     osprey.Incident
	targets map[string]*target
	// silenceNoted is set once the timeline says a silence holds the
	// incident's notifications, so it says so once.
	silenceNoted bool
}

// target is the state of one incident at one receiver.
type target struct {
	recv      *receiver
	groupWait time.Duration
	repeat    time.Duration
	// done holds the keys that need nothing more from this process: sent,
	// failed, or claimed by another notifier.
	done map[string]store.NotificationStatus
	// notified is the highest severity a message told this receiver.
	notified osprey.Severity
	// lastRepeat is the number of the latest repeat done.
	lastRepeat int
	// gen counts the times the incident was reopened after this receiver
	// was told it resolved; keys of a later generation carry "-r<gen>".
	gen int
	// openedAt is when the opening was sent; repeats start one interval
	// after it (an incident first notified long after it opened is not
	// repeated at once).
	openedAt  time.Time
	busy      bool      // a job is queued or being delivered
	holdUntil time.Time // silenced or store trouble: not before
}

// key returns the log key of base in the target's generation.
func (tg *target) key(base Kind) string { return genKey(string(base), tg.gen) }

// genKey appends the generation suffix to a key.
func genKey(base string, gen int) string {
	if gen == 0 {
		return base
	}
	return base + "-r" + strconv.Itoa(gen)
}

// splitGen splits a logged key into its base and generation.
func splitGen(key string) (string, int) {
	i := strings.LastIndex(key, "-r")
	if i < 0 || i+2 == len(key) {
		return key, 0
	}
	g, err := strconv.Atoi(key[i+2:])
	if err != nil || g < 1 {
		return key, 0
	}
	return key[:i], g
}

// job is one notification to deliver.
type job struct {
	incID  string
	t      *target
	kind   Kind
	key    string
	repeat int
	prev   osprey.Severity
	gen    int
}

// routed reports whether any receiver gets inc.
func (n *Notifier) routed(inc *osprey.Incident) bool {
	if n.cfg.DefaultReceiver != "" {
		return true
	}
	labels := labelsWith(inc)
	for _, rt := range n.routes {
		if rt.set.Matches(labels) {
			return true
		}
	}
	return false
}

// observeLocked applies a snapshot: routes it, and when fresh (first sight,
// or reopened) seeds the targets from the log.
func (n *Notifier) observeLocked(inc osprey.Incident, logged []store.Notification, fresh bool) {
	tr := n.tracked[inc.ID]
	if fresh {
		if tr != nil && inc.UpdatedAt.Before(tr.inc.UpdatedAt) {
			return
		}
		if inc.Status == osprey.IncidentResolved && len(logged) == 0 {
			return // never notified: nothing to resolve
		}
		if tr == nil && len(n.tracked) >= maxTracked {
			n.m.suppressed.WithLabelValues("", reasonTooManyTracked).Inc()
			return
		}
		tr = &tracked{inc: inc, targets: make(map[string]*target)}
		n.tracked[inc.ID] = tr
		n.seedLocked(tr, logged)
	} else if inc.UpdatedAt.Before(tr.inc.UpdatedAt) {
		return // an older snapshot than the one held
	}
	tr.inc = inc
	labels := labelsWith(&inc)
	matched := false
	for _, rt := range n.routes {
		if !rt.set.Matches(labels) {
			continue
		}
		matched = true
		for _, name := range rt.receivers {
			n.addTarget(tr, name, rt.groupWait, rt.repeat)
		}
		if !rt.cont {
			break
		}
	}
	if !matched && n.cfg.DefaultReceiver != "" {
		n.addTarget(tr, n.cfg.DefaultReceiver, n.cfg.GroupWait, n.cfg.RepeatInterval)
	}
	if len(tr.targets) == 0 {
		delete(n.tracked, inc.ID)
	}
	n.m.tracked.Set(float64(len(n.tracked)))
}

// seedLocked fills tr's targets from the incident's log: per receiver, the
// generation (one more than its resolutions, unless the incident is
// resolved and its last resolution is the current one), and what that
// generation already sent.
func (n *Notifier) seedLocked(tr *tracked, logged []store.Notification) {
	resolutions := make(map[string]int)
	keys := make(map[string]map[string]bool)
	for _, row := range logged {
		if isRunbookKey(row.Key) {
			continue // a runbook message does not route the incident
		}
		base, gen := splitGen(row.Key)
		if base == string(KindResolved) {
			resolutions[row.Receiver] = max(resolutions[row.Receiver], gen+1)
		}
		if keys[row.Receiver] == nil {
			keys[row.Receiver] = make(map[string]bool)
		}
		keys[row.Receiver][row.Key] = true
	}
	for name, ks := range keys {
		r := n.receivers[name]
		if r == nil {
			continue
		}
		tg := n.newTarget(r, n.cfg.GroupWait, n.cfg.RepeatInterval, tr.inc.Severity)
		tg.gen = resolutions[name]
		if tg.gen > 0 && tr.inc.Status == osprey.IncidentResolved && !ks[tg.key(KindOpened)] {
			tg.gen-- // resolved, and that resolution was the last one sent
		}
		tr.targets[name] = tg
	}
	for _, row := range logged {
		tg := tr.targets[row.Receiver]
		base, gen := splitGen(row.Key)
		if tg == nil || gen != tg.gen || isRunbookKey(row.Key) {
			continue
		}
		// A claim still sending may be this instance's from before a
		// restart: it is tried again, and the claim decides.
		_, isRepeat := strings.CutPrefix(base, string(KindRepeat)+"-")
		if row.Status != store.NotificationSending && !isRepeat {
			tg.done[row.Key] = row.Status
		}
		if base == string(KindOpened) {
			tg.openedAt = row.ClaimedAt
		}
		if sev, ok := strings.CutPrefix(base, string(KindEscalated)+"-"); ok {
			if s, err := osprey.ParseSeverity(sev); err == nil {
				tg.notified = max(tg.notified, s)
			}
		}
		if num, ok := strings.CutPrefix(base, string(KindRepeat)+"-"); ok {
			if k, err := strconv.Atoi(num); err == nil {
				tg.lastRepeat = max(tg.lastRepeat, k)
			}
		}
	}
}

// addTarget routes tr to the named receiver, unless it already is. Once
// routed, an incident stays routed, so a receiver told of an opening is
// told of the resolution.
func (n *Notifier) addTarget(tr *tracked, name string, groupWait, repeat time.Duration) {
	if tg, ok := tr.targets[name]; ok {
		// Seeded from the log: take the route's timings.
		tg.groupWait, tg.repeat = groupWait, repeat
		return
	}
	r := n.receivers[name]
	if r == nil {
		n.m.suppressed.WithLabelValues(name, reasonUnknownReceiver).Inc()
		return
	}
	tr.targets[name] = n.newTarget(r, groupWait, repeat, osprey.SeverityUnknown)
}

func (n *Notifier) newTarget(r *receiver, groupWait, repeat time.Duration, notified osprey.Severity) *target {
	return &target{recv: r, groupWait: groupWait, repeat: repeat, notified: notified, done: make(map[string]store.NotificationStatus)}
}

// dispatch queues every notification due now and returns how many.
func (n *Notifier) dispatch() int {
	now := n.now()
	var jobs []*job
	n.mu.Lock()
	if n.stopping {
		n.mu.Unlock()
		return 0
	}
	for id, tr := range n.tracked {
		for _, tg := range tr.targets {
			if j := n.dueLocked(tr, tg, now); j != nil {
				tg.busy = true
				jobs = append(jobs, j)
			}
		}
		if n.finishedLocked(tr) {
			delete(n.tracked, id)
		}
	}
	n.m.tracked.Set(float64(len(n.tracked)))
	n.mu.Unlock()
	queued := 0
	for _, j := range jobs {
		n.inflight.Add(1)
		select {
		case j.t.recv.queue <- j:
			queued++
		default:
			n.inflight.Done()
			n.m.failed.WithLabelValues(j.t.recv.name, reasonQueueFull).Inc()
			n.release(j, time.Time{})
		}
	}
	return queued
}

// finishedLocked reports whether a resolved incident needs nothing more.
func (n *Notifier) finishedLocked(tr *tracked) bool {
	if tr.inc.Status != osprey.IncidentResolved {
		return false
	}
	for _, tg := range tr.targets {
		if tg.busy {
			return false
		}
		_, opened := tg.done[tg.key(KindOpened)]
		_, resolved := tg.done[tg.key(KindResolved)]
		if opened && !resolved {
			return false
		}
	}
	return true
}

// dueLocked returns the notification due for tr at tg now, or nil.
func (n *Notifier) dueLocked(tr *tracked, tg *target, now time.Time) *job {
	if tg.busy || now.Before(tg.holdUntil) {
		return nil
	}
	inc := &tr.inc
	j := &job{incID: inc.ID, t: tg, gen: tg.gen}
	if _, ok := tg.done[tg.key(KindOpened)]; !ok {
		if inc.Status == osprey.IncidentResolved {
			tg.done[tg.key(KindOpened)] = ""
			tg.done[tg.key(KindResolved)] = ""
			n.m.suppressed.WithLabelValues(tg.recv.name, reasonResolvedEarly).Inc()
			return nil
		}
		if now.Before(inc.OpenedAt.Add(tg.groupWait)) {
			return nil
		}
		j.kind, j.key = KindOpened, tg.key(KindOpened)
		return j
	}
	if tg.done[tg.key(KindOpened)] == "" {
		return nil // resolved before it was ever sent
	}
	switch inc.Status {
	case osprey.IncidentResolved:
		if _, ok := tg.done[tg.key(KindResolved)]; !ok {
			j.kind, j.key = KindResolved, tg.key(KindResolved)
			return j
		}
		return nil
	case osprey.IncidentAcknowledged:
		if _, ok := tg.done[tg.key(KindAcknowledged)]; !ok {
			j.kind, j.key = KindAcknowledged, tg.key(KindAcknowledged)
			return j
		}
	}
	if inc.Severity > tg.notified {
		key := genKey(string(KindEscalated)+"-"+inc.Severity.String(), tg.gen)
		if _, ok := tg.done[key]; ok {
			tg.notified = inc.Severity
		} else {
			j.kind, j.key, j.prev = KindEscalated, key, tg.notified
			return j
		}
	}
	refresh := tg.recv.kind == kindAlertmanager
	if tg.repeat > 0 && (inc.Status == osprey.IncidentOpen || refresh) && !now.Before(tg.openedAt.Add(tg.repeat)) {
		base := inc.OpenedAt.Add(tg.groupWait)
		k := int(now.Sub(base) / tg.repeat)
		if k >= 1 && k > tg.lastRepeat {
			j.kind, j.key, j.repeat = KindRepeat, genKey(string(KindRepeat)+"-"+strconv.Itoa(k), tg.gen), k
			return j
		}
	}
	return nil
}

// release gives a job back undone; it is due again from holdUntil.
func (n *Notifier) release(j *job, holdUntil time.Time) {
	n.mu.Lock()
	j.t.busy = false
	j.t.holdUntil = holdUntil
	n.mu.Unlock()
}

// finish records a job's final status (or a claim held elsewhere) and what
// it told the receiver.
func (n *Notifier) finish(j *job, status store.NotificationStatus, sev osprey.Severity) {
	n.mu.Lock()
	defer n.mu.Unlock()
	tg := j.t
	tg.busy = false
	// Repeats are remembered by their number only, so an incident open for
	// weeks does not grow the map.
	if j.kind != KindRepeat {
		tg.done[j.key] = status
	}
	switch j.kind {
	case KindOpened, KindEscalated, KindRepeat:
		tg.notified = max(tg.notified, sev)
	}
	if j.kind == KindRepeat {
		tg.lastRepeat = max(tg.lastRepeat, j.repeat)
	}
	if j.kind == KindOpened {
		tg.openedAt = n.now()
	}
}

// snapshot returns the incident held for id, and whether there is one.
func (n *Notifier) snapshot(id string) (osprey.Incident, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	tr := n.tracked[id]
	if tr == nil {
		return osprey.Incident{}, false
	}
	return tr.inc, true
}
