package config

import "fmt"

// MaxDeclared bounds the calls and, separately, the placements a
// configuration may declare (the learnt graph's edge cap).
const MaxDeclared = 10_000

// TopologyConfig declares what the call graph learnt from traces cannot
// see: calls to services without tracing (a database, a queue, a
// third-party API) and which services run on which host. The correlate
// stage groups along both like along learnt calls, and the root-cause
// ranking walks the declared calls (docs/rca.md, "Declared dependencies
// and placement").
type TopologyConfig struct {
	// Dependencies lists callers and the services they call.
	Dependencies []DependencyConfig `yaml:"dependencies"`
	// Placement lists hosts and the services that run on them.
	Placement []PlacementConfig `yaml:"placement"`
}

// DependencyConfig declares that Caller calls each of Callees.
type DependencyConfig struct {
	Caller  string   `yaml:"caller"`
	Callees []string `yaml:"callees"`
}

// PlacementConfig declares that Services run on Host.
type PlacementConfig struct {
	Host     string   `yaml:"host"`
	Services []string `yaml:"services"`
}

// Validate checks the topology section.
func (c TopologyConfig) Validate() error {
	var p problems
	calls, placed := 0, 0
	for i, d := range c.Dependencies {
		at := fmt.Sprintf("dependencies[%d]", i)
		if d.Caller == "" {
			p.addf(at+".caller", "must name a service")
		}
		if len(d.Callees) == 0 {
			p.addf(at+".callees", "must name at least one service")
		}
		for j, callee := range d.Callees {
			switch {
			case callee == "":
				p.addf(fmt.Sprintf("%s.callees[%d]", at, j), "must name a service")
			case callee == d.Caller:
				p.addf(fmt.Sprintf("%s.callees[%d]", at, j), "%q cannot call itself", callee)
			}
		}
		calls += len(d.Callees)
	}
	for i, pl := range c.Placement {
		at := fmt.Sprintf("placement[%d]", i)
		if pl.Host == "" {
			p.addf(at+".host", "must name a host")
		}
		if len(pl.Services) == 0 {
			p.addf(at+".services", "must name at least one service")
		}
		for j, s := range pl.Services {
			if s == "" {
				p.addf(fmt.Sprintf("%s.services[%d]", at, j), "must name a service")
			}
		}
		placed += len(pl.Services)
	}
	if calls > MaxDeclared {
		p.addf("dependencies", "declares %d calls, at most %d", calls, MaxDeclared)
	}
	if placed > MaxDeclared {
		p.addf("placement", "declares %d placements, at most %d", placed, MaxDeclared)
	}
	return p.err()
}
