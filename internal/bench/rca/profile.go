package rca

import (
	"time"

	"github.com/osprey-aiops/osprey/internal/detect/trace"
)

// The profiles and the surprise arithmetic are the production trace
// detector's (internal/detect/trace); this file adapts them to the
// harness's units, which are grouped per service.

// unit is one observed unit of behaviour of a service: the log lines of one
// span (keys = log template keys) or one span with its child calls (keys =
// the operation and the calls it made).
type unit struct {
	service string
	at      time.Time
	keys    []string // sorted, unique
}

func (u unit) unit() trace.Unit { return trace.Unit{Group: u.service, At: u.at, Keys: u.keys} }

// seqProfile is a trace.FlowProfile per service: which keys occur in a
// unit and which always come together in normal operation. A unit of the
// incident window that has key A but lacks B, where B came with A in nearly
// every normal unit, is broken; keys never seen in normal operation are new.
// The harness sets no caps: it replays a bounded corpus.
type seqProfile struct{ *trace.FlowProfile }

func newSeqProfile() *seqProfile { return &seqProfile{trace.NewFlowProfile()} }

func (p *seqProfile) learn(u unit)                   { p.Learn(u.unit()) }
func (p *seqProfile) breaks(u unit) [][2]string      { return p.Breaks(u.unit()) }
func (p *seqProfile) expects(u unit) bool            { return p.Expects(u.unit()) }
func (p *seqProfile) known(service, key string) bool { return p.Known(service, key) }

// latProfile keeps, per key (service and operation), a bounded sample of
// normal self-times.
type latProfile struct{ *trace.LatencyProfile }

func newLatProfile() *latProfile { return &latProfile{trace.NewLatencyProfile(4096)} }

func (p *latProfile) learn(key string, v float64) { p.Learn(key, v) }

func (p *latProfile) quantile(key string, q float64) (float64, int) { return p.Quantile(key, q) }

// surprise is −log10 of the binomial upper tail P(X ≥ k) for X ~ Bin(n, p).
func surprise(k, n int, p float64) float64 { return trace.Surprise(k, n, p) }

// surpriseScore maps a surprise to an evidence score: s/(s+10), nothing
// below p = 1e-3.
func surpriseScore(s float64) float64 { return trace.SurpriseScore(s) }

// breakTally counts, per key A of one service, the window's units that
// had A with expected companions and those where one was missing.
type breakTally struct{ *trace.Tally }

func newBreakTally() *breakTally { return &breakTally{trace.NewTally()} }

func (t *breakTally) add(p *seqProfile, u unit) bool { return t.Add(p.FlowProfile, u.unit()) }

// addBreaks is add with u's breaks already computed.
func (t *breakTally) addBreaks(p *seqProfile, u unit, br [][2]string) bool {
	return t.AddBreaks(p.Checkable(u.unit()), u.at, br)
}

// worst returns the key whose units broke most surprisingly, with the
// surprise, its counts and its most common missing companion.
func (t *breakTally) worst(p0 float64) (a, missing string, k, n int, s float64) { return t.Worst(p0) }
