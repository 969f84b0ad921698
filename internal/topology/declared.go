package topology

import (
	"cmp"
	"slices"
	"time"

	"github.com/osprey-aiops/osprey/internal/config"
)

// Placement says that a service runs on a host.
type Placement struct {
	Host    string `json:"host"`
	Service string `json:"service"`
	// Declared is set when the configuration names it (Options.Placed);
	// otherwise it was learnt from the service's spans.
	Declared bool `json:"declared,omitempty"`
	// LastSeen is when a span last showed it; zero for a declared one
	// no span showed.
	LastSeen time.Time `json:"lastSeen,omitzero"`
}

// hostLabel is the span attribute naming the host a span's service runs
// on: the OTLP receiver renames the resource attribute host.name to it.
const hostLabel = "host"

// declared holds the configured calls and placements, indexed both ways.
// It never changes after New, so it is read without the lock.
type declared struct {
	calls  pairs[EdgeKey]  // caller → callee
	placed pairs[placeKey] // service → host
}

// pairs indexes a set of declared name pairs (first, second) both ways.
type pairs[K comparable] struct {
	set    map[K]struct{}
	sorted []K
	// seconds holds each first name's second names, firsts each second
	// name's first names; both sorted.
	seconds, firsts map[string][]string
}

// newPairs indexes keys by the names ends gives; a key with an empty
// name, or one ends refuses, is left out, as is a repeat.
func newPairs[K comparable](keys []K, ends func(K) (first, second string, ok bool), order func(a, b K) int) pairs[K] {
	p := pairs[K]{set: map[K]struct{}{}, seconds: map[string][]string{}, firsts: map[string][]string{}}
	for _, k := range keys {
		first, second, ok := ends(k)
		if !ok || first == "" || second == "" {
			continue
		}
		if _, dup := p.set[k]; dup {
			continue
		}
		p.set[k] = struct{}{}
		p.sorted = append(p.sorted, k)
		p.seconds[first] = append(p.seconds[first], second)
		p.firsts[second] = append(p.firsts[second], first)
	}
	for _, m := range []map[string][]string{p.seconds, p.firsts} {
		for _, l := range m {
			slices.Sort(l)
		}
	}
	slices.SortFunc(p.sorted, order)
	return p
}

// placeKey names a placement.
type placeKey struct{ host, service string }

// newDeclared indexes the configured calls and placements; empty names
// and self-calls are left out (config validation reports them).
func newDeclared(calls []EdgeKey, placed []Placement) declared {
	keys := make([]placeKey, len(placed))
	for i, p := range placed {
		keys[i] = placeKey{p.Host, p.Service}
	}
	return declared{
		calls: newPairs(calls, func(k EdgeKey) (string, string, bool) {
			return k.Caller, k.Callee, k.Caller != k.Callee
		}, byCallerCallee),
		placed: newPairs(keys, func(k placeKey) (string, string, bool) {
			return k.service, k.host, true
		}, byHostService),
	}
}

func byHostService(a, b placeKey) int {
	if c := cmp.Compare(a.host, b.host); c != 0 {
		return c
	}
	return cmp.Compare(a.service, b.service)
}

// merge returns the sorted union of two sorted lists without repeats.
func merge(a, b []string) []string {
	if len(b) == 0 {
		return a
	}
	out := append(a, b...)
	slices.Sort(out)
	return slices.Compact(out)
}

// place records that a span of service came from host. A placement
// beyond the cap (MaxEdges) is dropped and counted.
func (g *Graph) place(host, service string, now time.Time) {
	k := placeKey{host, service}
	if _, ok := g.placed[k]; !ok && len(g.placed) >= g.opts.MaxEdges {
		g.dropped.WithLabelValues("placement_cap").Inc()
		return
	}
	g.placed[k] = now
}

// Hosts returns the hosts service runs on, sorted: those configured
// (Options.Placed) and those its spans named (the host resource
// attribute) in the windows kept.
func (g *Graph) Hosts(service string) []string {
	return merge(slices.Clone(g.decl.placed.seconds[service]), g.learnt(func(k placeKey) (string, bool) { return k.host, k.service == service }))
}

// Services returns the services that run on host, sorted, by the same
// rules as Hosts.
func (g *Graph) Services(host string) []string {
	return merge(slices.Clone(g.decl.placed.firsts[host]), g.learnt(func(k placeKey) (string, bool) { return k.service, k.host == host }))
}

// learnt returns pick's name of every placement learnt in the windows
// kept that pick accepts.
func (g *Graph) learnt(pick func(placeKey) (string, bool)) []string {
	horizon := g.horizon()
	var out []string
	g.mu.Lock()
	defer g.mu.Unlock()
	for k, at := range g.placed {
		if name, ok := pick(k); ok && !at.Before(horizon) {
			out = append(out, name)
		}
	}
	return out
}

// Placements returns every placement, declared or seen in the windows
// kept, sorted by host and service.
func (g *Graph) Placements() []Placement {
	horizon := g.horizon()
	byKey := map[placeKey]*Placement{}
	for _, k := range g.decl.placed.sorted {
		byKey[k] = &Placement{Host: k.host, Service: k.service, Declared: true}
	}
	g.mu.Lock()
	for k, at := range g.placed {
		if at.Before(horizon) {
			continue
		}
		p := byKey[k]
		if p == nil {
			p = &Placement{Host: k.host, Service: k.service}
			byKey[k] = p
		}
		p.LastSeen = at.UTC()
	}
	g.mu.Unlock()
	out := make([]Placement, 0, len(byKey))
	for _, p := range byKey {
		out = append(out, *p)
	}
	slices.SortFunc(out, func(a, b Placement) int {
		return byHostService(placeKey{a.Host, a.Service}, placeKey{b.Host, b.Service})
	})
	return out
}

// horizon is the start of the windows kept.
func (g *Graph) horizon() time.Time {
	return g.opts.Now().Add(-time.Duration(g.opts.Windows) * g.opts.Window)
}

// FromConfig returns the options for the calls and placements the
// configuration's topology section declares, on the clock now.
func FromConfig(c config.TopologyConfig, now func() time.Time) Options {
	opts := Options{Now: now}
	for _, d := range c.Dependencies {
		for _, callee := range d.Callees {
			opts.Declared = append(opts.Declared, EdgeKey{Caller: d.Caller, Callee: callee})
		}
	}
	for _, p := range c.Placement {
		for _, s := range p.Services {
			opts.Placed = append(opts.Placed, Placement{Host: p.Host, Service: s})
		}
	}
	return opts
}
