package correlate

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/osprey-aiops/osprey"
)

// Text similarity: a log anomaly whose template text says something
// specific joins the unresolved incident holding a log anomaly whose
// template reads nearly the same, when neither its group, the call graph
// nor placement placed it. One error spreading through services that
// share a dependency the graph does not know (a cache, a DNS server, a
// certificate) reads the same in each of them: "connection refused to
// redis-master:6379" in checkout and in cart.
//
// An alert's summary and description are not compared: they are its
// rule's template with the alert's label values filled in, and the rules
// of one rule group share their wording ("<metric> of <pod> is <value>,
// above <limit>"), so on the Nezha threshold alerts comparing them joined
// alerts of different rules and services by wording alone (docs/rca.md,
// "Text similarity"). A metric or trace anomaly's text is its metric or
// operation and numbers, which every service shares.
const (
	// minTextTokens is the fewest distinct words a text needs to be
	// compared: fewer say too little to tell one problem from another.
	minTextTokens = 4
	// maxIncidentTexts bounds the texts kept per incident: its first
	// members' (an incident's first symptoms say what it is about).
	maxIncidentTexts = 16
)

// anomalyText returns the words of a log anomaly's template text
// (Anomaly.TemplateText) for similarity, nil for any other
// anomaly or when it has too few. The values of its labels (its service,
// host, source) are left out: they say where, not what.
func anomalyText(a *osprey.Anomaly) []string {
	if a.Kind != osprey.AnomalyLog {
		return nil
	}
	if text, ok := a.TemplateText(); ok {
		return words(text, a.Labels)
	}
	return nil
}

// words splits text into its distinct lower-case words of two or more
// letters, sorted, leaving out words with digits (ids, counts, addresses
// vary between reports of one problem), the placeholders of a log
// template (<*>) and the values of labels; nil when fewer than
// minTextTokens are left.
func words(text string, labels osprey.Labels) []string {
	if text == "" {
		return nil
	}
	skip := map[string]bool{}
	for _, v := range labels {
		for _, w := range strings.FieldsFunc(strings.ToLower(v), notWordRune) {
			skip[w] = true
		}
	}
	var out []string
	for _, w := range strings.FieldsFunc(strings.ToLower(text), notWordRune) {
		if len(w) < 2 || skip[w] || strings.ContainsFunc(w, unicode.IsDigit) {
			continue
		}
		out = append(out, w)
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) < minTextTokens {
		return nil
	}
	return out
}

func notWordRune(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }

// jaccard is the Jaccard similarity of two sorted sets of words and the
// size of their intersection.
func jaccard(a, b []string) (float64, int) {
	i, j, both := 0, 0, 0
	for i < len(a) && j < len(b) {
		switch strings.Compare(a[i], b[j]) {
		case 0:
			both++
			i++
			j++
		case -1:
			i++
		default:
			j++
		}
	}
	union := len(a) + len(b) - both
	if union == 0 {
		return 0, 0
	}
	return float64(both) / float64(union), both
}

// incidentText is the text of one member of an incident, kept for
// similarity.
type incidentText struct {
	name  string
	words []string
}

// noteText keeps the text of a signal that opened or joined inc.
func (s *state) noteText(inc *osprey.Incident, sig *signal) {
	if s.similarity <= 0 || len(sig.words) == 0 {
		return
	}
	if s.texts == nil {
		s.texts = map[string][]incidentText{}
	}
	if texts := s.texts[inc.ID]; len(texts) < maxIncidentTexts {
		s.texts[inc.ID] = append(texts, incidentText{name: sig.name, words: sig.words})
	}
}

// similarIncident finds the unresolved incident holding a member whose
// text is at least Options.Similarity similar (Jaccard over words) to the
// signal's, under the rules of a call-graph join (active and opened
// within the window, still spreading); the most similar wins, then the
// most recently active. except is as in placementIncident.
func (s *state) similarIncident(sig *signal, at time.Time, except *osprey.Incident) (*osprey.Incident, string) {
	if s.similarity <= 0 || len(sig.words) == 0 {
		return nil, ""
	}
	var best *osprey.Incident
	var bestSim float64
	var why string
	for id, texts := range s.texts {
		inc := s.open[id]
		if inc == nil || inc == except || !s.spreading(inc, at) {
			continue
		}
		for _, t := range texts {
			sim, both := jaccard(sig.words, t.words)
			if sim < s.similarity || both < minTextTokens {
				continue
			}
			if best == nil || sim > bestSim || sim == bestSim && (lastActivity(inc).After(lastActivity(best)) ||
				lastActivity(inc).Equal(lastActivity(best)) && openedBefore(inc, best)) {
				best, bestSim = inc, sim
				why = fmt.Sprintf("text %.2f similar to member %s (%d shared words), an incident opened within %s", sim, t.name, both, s.window)
			}
		}
	}
	return best, why
}
