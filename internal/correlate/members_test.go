package correlate_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/correlate"
)

// digest renders what a consumer sees of a snapshot's members, causes
// and labels.
func digest(inc *osprey.Incident) string {
	var b strings.Builder
	for _, m := range inc.Members {
		fmt.Fprintf(&b, "%+v,", *m)
	}
	return fmt.Sprintf("%s|%+v|%v", b.String(), inc.Causes, inc.Labels)
}

// TestSnapshotsDoNotSeeLaterChanges hands snapshots on and then changes
// their incidents in every way the stage changes members — repeats,
// joins, resolutions, a reopening, flapping marked and unmarked, a rule's
// group key, people's actions, a split and a merge — while another
// goroutine reads every snapshot handed on so far (so that -race sees
// any write into a member array a snapshot shares). Each snapshot must
// still show exactly what it showed when it was handed on.
func TestSnapshotsDoNotSeeLaterChanges(t *testing.T) {
	rule := correlate.Rule{Name: "db", Match: `signal.labels.team == "db"`, GroupBy: []string{"cluster"}}
	r := newExtRig(t, correlate.Options{Flapping: flapping, Rules: []correlate.Rule{rule}})
	ctx := context.Background()

	var seen []string // digest of r.out[i] when it was handed on
	note := func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		for i := len(seen); i < len(r.out); i++ {
			seen = append(seen, digest(&r.out[i]))
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // a consumer reading its snapshots while the stage goes on
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			r.mu.Lock()
			snaps := r.out[:len(r.out):len(r.out)]
			r.mu.Unlock()
			for i := range snaps {
				_ = digest(&snaps[i])
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()

	send := func(at time.Duration, name string, labels osprey.Labels, resolved bool) {
		t.Helper()
		r.at(at)
		r.send(ev{at: at, name: name, labels: labels, resolved: resolved})
		note()
	}
	db := osprey.Labels{"service": "db", "team": "db", "cluster": "c1"}
	db2 := osprey.Labels{"service": "db2", "team": "db", "cluster": "c1"}
	mn := time.Minute
	send(0, "A", checkout, false)     // opens
	send(1*mn, "B", checkout, false)  // joins
	send(2*mn, "A", checkout, false)  // repeat: A changes in place
	send(3*mn, "A", checkout, true)   // resolution
	send(3*mn+1, "B", checkout, true) // the incident resolves
	send(4*mn, "B", checkout, false)  // reopens it
	for i := range 6 {                // C flaps
		send(5*mn+time.Duration(i)*time.Second, "C", checkout, i%2 == 1)
	}
	send(6*mn, "D", db, false)  // opens by rule
	send(7*mn, "E", db2, false) // joins by rule: its group key is set in place

	incs := incidents(t, r.st)
	first := incs[0].ID
	if _, err := r.c.Ack(ctx, first, "alice", "looking"); err != nil {
		t.Fatal(err)
	}
	note()
	cut, _, err := r.c.Split(ctx, first, []osprey.Fingerprint{osprey.EventFingerprint("B", checkout)}, "alice")
	if err != nil {
		t.Fatal(err)
	}
	note()
	send(8*mn, "A", checkout, false) // a member of the split incident changes
	if _, err := r.c.Merge(ctx, incs[len(incs)-1].ID, cut.ID, "alice"); err != nil {
		t.Fatal(err)
	}
	note()
	send(9*mn, "D", db, false) // a member of the merged incident changes
	r.at(40 * mn)
	if err := r.c.Sweep(ctx); err != nil { // C settles: unmarked in place
		t.Fatal(err)
	}
	note()

	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.out) < 20 {
		t.Fatalf("only %d snapshots handed on", len(r.out))
	}
	// The scenario went through the paths it names.
	var flapped, settled, keyed, resolved bool
	for _, inc := range r.out {
		resolved = resolved || inc.Status == osprey.IncidentResolved
		for _, m := range inc.Members {
			flapped = flapped || m.Flapping
			settled = settled || (flapped && m.Name == "C" && !m.Flapping)
			keyed = keyed || (m.Name == "E" && m.GroupKey != "")
		}
	}
	if !flapped || !settled || !keyed || !resolved {
		t.Errorf("scenario incomplete: flapped %v, settled %v, rule key %v, resolved %v", flapped, settled, keyed, resolved)
	}
	for i := range r.out {
		if got := digest(&r.out[i]); got != seen[i] {
			t.Errorf("snapshot %d (incident %s) changed after hand-off:\nwas %s\nnow %s", i, r.out[i].ID, seen[i], got)
		}
	}
}
