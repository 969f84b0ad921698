package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
)

// testLargeIncident checks writes that need more than one statement: an
// incident with more members and timeline entries than one statement's
// parameters hold keeps them all, in order, with increasing Seqs.
func testLargeIncident(t *testing.T, open Opener) {
	st := open(t)
	ctx := t.Context()
	inc := newIncident("big", osprey.IncidentOpen, 0)
	inc.Members = nil
	const members, entries = 8000, 6000 // 32,000 and 36,000 parameters
	for i := range members {
		inc.Members = append(inc.Members, member(osprey.Fingerprint(i+1), time.Duration(i)*time.Millisecond))
	}
	tl := make([]osprey.TimelineEntry, entries)
	for i := range tl {
		tl[i] = entry(osprey.TimelineMemberJoined, fmt.Sprintf("m%d", i), time.Duration(i)*time.Millisecond)
	}
	must(t, "save", st.SaveIncident(ctx, inc, tl...))
	got, err := st.GetIncident(ctx, "big")
	must(t, "get", err)
	if len(got.Members) != members || len(got.Timeline) != entries {
		t.Fatalf("stored %d members and %d entries, want %d and %d", len(got.Members), len(got.Timeline), members, entries)
	}
	for i, m := range got.Members {
		if m.Fingerprint != osprey.Fingerprint(i+1) {
			t.Fatalf("member %d has fingerprint %s, want %s", i, m.Fingerprint, osprey.Fingerprint(i+1))
		}
	}
	for i, e := range got.Timeline {
		if e.Message != fmt.Sprintf("m%d", i) || i > 0 && e.Seq <= got.Timeline[i-1].Seq {
			t.Fatalf("entry %d: %q seq %d after seq %d", i, e.Message, e.Seq, got.Timeline[max(i-1, 0)].Seq)
		}
	}
}
