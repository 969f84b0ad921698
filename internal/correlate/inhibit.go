package correlate

import (
	"fmt"
	"slices"
	"strings"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/match"
)

// InhibitRule mutes target signals while a source signal fires: a firing
// signal that matches Target is suppressed while another signal that matches
// Source is firing with the same values of the Equal labels (a label absent
// from both counts as equal), as in Alertmanager. A signal never inhibits
// itself.
type InhibitRule struct {
	Source []osprey.Matcher
	Target []osprey.Matcher
	Equal  []string
}

// maxInhibitSources bounds the firing sources remembered per rule; beyond it
// new sources are not remembered (and so do not inhibit) and are counted.
const maxInhibitSources = 100_000

// inhibitor tracks, per rule, the firing signals that match its source,
// from every signal the stage sees (suppressed ones included, so a silenced
// source still inhibits). Sources are forgotten when they resolve. It is not
// safe for concurrent use; the Correlator's lock guards it.
type inhibitor struct {
	rules []*inhibitRule
	// overflow counts sources not remembered because a rule was full.
	overflow func()
}

type inhibitRule struct {
	source, target match.Set
	equal          []string
	// sources maps the Equal-label values of a firing source to the
	// firing sources with those values, by fingerprint.
	sources map[string]map[osprey.Fingerprint]osprey.Labels
	n       int
}

func newInhibitor(rules []InhibitRule) (*inhibitor, error) {
	in := &inhibitor{overflow: func() {}}
	for i, r := range rules {
		src, err := match.Compile(r.Source)
		if err != nil {
			return nil, fmt.Errorf("correlate: inhibit[%d].source: %w", i, err)
		}
		tgt, err := match.Compile(r.Target)
		if err != nil {
			return nil, fmt.Errorf("correlate: inhibit[%d].target: %w", i, err)
		}
		if src.Len() == 0 || tgt.Len() == 0 {
			return nil, fmt.Errorf("correlate: inhibit[%d]: source and target need at least one matcher each", i)
		}
		in.rules = append(in.rules, &inhibitRule{source: src, target: tgt, equal: slices.Clone(r.Equal),
			sources: make(map[string]map[osprey.Fingerprint]osprey.Labels)})
	}
	return in, nil
}

// reset forgets every source (before the state is rebuilt from the store).
func (in *inhibitor) reset() {
	for _, r := range in.rules {
		clear(r.sources)
		r.n = 0
	}
}

// observe records a signal's firing or resolution as a source of the rules
// whose source it matches.
func (in *inhibitor) observe(sig signal) {
	for _, r := range in.rules {
		if !r.source.Matches(sig.labels) {
			continue
		}
		key := r.key(sig.labels)
		set := r.sources[key]
		_, known := set[sig.fingerprint]
		switch {
		case sig.firing && !known:
			if r.n >= maxInhibitSources {
				in.overflow()
				continue
			}
			if set == nil {
				set = make(map[osprey.Fingerprint]osprey.Labels)
				r.sources[key] = set
			}
			set[sig.fingerprint] = sig.labels.Clone()
			r.n++
		case !sig.firing && known:
			delete(set, sig.fingerprint)
			r.n--
			if len(set) == 0 {
				delete(r.sources, key)
			}
		}
	}
}

// inhibited reports whether a firing source inhibits sig, with the index of
// the rule and a sentence saying why.
func (in *inhibitor) inhibited(sig signal) (int, string, bool) {
	for i, r := range in.rules {
		if !r.target.Matches(sig.labels) {
			continue
		}
		set := r.sources[r.key(sig.labels)]
		var by osprey.Fingerprint
		var byLabels osprey.Labels
		for fp, l := range set {
			if fp != sig.fingerprint && (byLabels == nil || fp < by) {
				by, byLabels = fp, l
			}
		}
		if byLabels == nil {
			continue
		}
		why := fmt.Sprintf("inhibition rule correlate.inhibit[%d]: source %s fires", i, byLabels)
		if len(r.equal) > 0 {
			why += " with the same " + strings.Join(r.equal, ", ")
		}
		return i, why, true
	}
	return 0, "", false
}

// key joins the values of the rule's Equal labels.
func (r *inhibitRule) key(l osprey.Labels) string {
	if len(r.equal) == 0 {
		return ""
	}
	var b strings.Builder
	for _, name := range r.equal {
		b.WriteString(l[name])
		b.WriteByte(0xff)
	}
	return b.String()
}
