package correlate

import (
	"fmt"
	"time"

	"github.com/osprey-aiops/osprey"
)

// Placement is implemented by a Topology that knows which services run on
// which hosts (topology.Graph: declared in topology.placement, or learnt
// from spans naming their host). Implementations must be safe for
// concurrent use.
type Placement interface {
	// Hosts returns the hosts service runs on.
	Hosts(service string) []string
	// Services returns the services that run on host.
	Services(host string) []string
}

// spreading reports whether a new signal at at may join inc as a
// neighbour's symptom (neighbourIncident, placementIncident): inc was
// active and opened within the window, and one of its members first
// fired within half the window before at.
func (s *state) spreading(inc *osprey.Incident, at time.Time) bool {
	return at.Sub(lastActivity(inc)) <= s.window && at.Sub(inc.OpenedAt) <= s.window && at.Sub(latestOnset(inc)) <= s.window/2
}

// placementIncident finds the unresolved incident that a new signal of
// the service or host in key may join through placement, when the
// topology knows it: a host's signal (a full disk, a host's CPU, a kernel
// message in syslog) joins the incident of a service that runs on the
// host, and a service's signal the incident of its host, under the rules
// of a call-graph join (neighbourIncident: active and opened within the
// window, still spreading). A host failing takes down what runs on it,
// and a service's failure shows on its host (CPU, memory, disk), so
// either way they are one problem. It needs the host label in
// correlate.group_by (the default), else a host's signals have no group
// whose incident to look up. Of the qualifying incidents it prefers the
// most recently active, then the one opened first. except, if not nil, is
// the incident the signal's own group settled in (groupIncident), which
// it does not rejoin this way either.
func (s *state) placementIncident(key string, at time.Time, except *osprey.Incident) (*osprey.Incident, string) {
	pl, ok := s.topo.(Placement)
	name, value, cutOK := cut(key)
	if !ok || !cutOK {
		return nil, ""
	}
	var others []string
	var otherLabel, why string
	switch name {
	case osprey.LabelService:
		others, otherLabel, why = pl.Hosts(value), osprey.LabelHost, "service %s runs on host %s"
	case osprey.LabelHost:
		others, otherLabel, why = pl.Services(value), osprey.LabelService, "host %s runs service %s"
	default:
		return nil, ""
	}
	var best *osprey.Incident
	var reason string
	for _, o := range others {
		id, ok := s.byGroup[otherLabel+"="+o]
		if !ok {
			continue
		}
		inc := s.open[id]
		if inc == nil || inc == except || !s.spreading(inc, at) {
			continue
		}
		last := lastActivity(inc)
		if best == nil || last.After(lastActivity(best)) || last.Equal(lastActivity(best)) && openedBefore(inc, best) {
			best = inc
			reason = fmt.Sprintf(why, value, o) + fmt.Sprintf(", an incident opened within %s", s.window)
		}
	}
	return best, reason
}
