package demo

import (
	"fmt"
	"time"
)

// FaultKind names a kind of fault the environment can suffer.
type FaultKind string

// Fault kinds.
const (
	// FaultLatency makes one service's own work 15 times slower for 60
	// samples (as do errors and CPU); callers
	// wait for it, so the latency propagates up the call graph.
	FaultLatency FaultKind = "latency"
	// FaultErrors makes a quarter of one service's requests fail; callers
	// fail with it.
	FaultErrors FaultKind = "errors"
	// FaultCPU saturates one service's CPU limit: its own work is six
	// times slower.
	FaultCPU FaultKind = "cpu"
	// FaultCrashLoop makes one service crash seconds after every start;
	// it does not clear on its own, only when the service is restarted
	// (Sim.Restart, which the demo's auto runbook calls).
	FaultCrashLoop FaultKind = "crashloop"
	// FaultDisk fills one file system fast (debug logging left on): it
	// would be full 180 samples after the fault starts; log rotation frees
	// it again after 90.
	FaultDisk FaultKind = "disk"
)

// Fault is one injected fault.
type Fault struct {
	Kind    FaultKind
	Service string
	// Mount is the file system a disk fault fills.
	Mount string
	// Steps is how many samples the fault lasts; 0 means the kind's
	// default. A crash loop ignores it: it lasts until a restart.
	Steps int
}

// Default durations, in samples.
const (
	defaultFaultSteps = 60
	// diskFullSteps is how many samples a disk fault would take to fill
	// its file system; it lasts diskSteps, so it never gets there.
	diskFullSteps = 180
	diskSteps     = 90
)

func (f Fault) steps() int {
	switch {
	case f.Kind == FaultCrashLoop:
		return 0
	case f.Steps > 0:
		return f.Steps
	case f.Kind == FaultDisk:
		return diskSteps
	default:
		return defaultFaultSteps
	}
}

// String describes the fault: "latency on payment".
func (f Fault) String() string {
	switch f.Kind {
	case FaultLatency:
		return "latency on " + f.Service
	case FaultErrors:
		return "errors on " + f.Service
	case FaultCPU:
		return "CPU saturation on " + f.Service
	case FaultCrashLoop:
		return "crash loop of " + f.Service
	case FaultDisk:
		return fmt.Sprintf("disk filling up on %s %s", f.Service, f.Mount)
	}
	return string(f.Kind) + " on " + f.Service
}

// Expect says what Osprey should show for the fault.
func (f Fault) Expect() string {
	switch f.Kind {
	case FaultCrashLoop:
		return fmt.Sprintf("an incident with root cause %s, then the auto runbook restarts it and verifies", f.Service)
	case FaultDisk:
		return fmt.Sprintf("a forecast that %s %s will be full, and a dry-run log clean-up", f.Service, f.Mount)
	}
	return "an incident with root cause " + f.Service
}

// Scheduled is a fault and when it starts, as an offset from the start of
// the environment.
type Scheduled struct {
	At    time.Duration
	Fault Fault
}

// DefaultRotation is the faults the demo rotates through, in order: the
// slow disk fault first (its forecast needs a minute of the trend), the
// crash loop half a minute later, so that the first two minutes show a
// forecast and a verified remediation, then one fault every interval.
// Consecutive faults hit services whose incidents do not touch, so each
// fault is its own incident.
func DefaultRotation() []Fault {
	return []Fault{
		{Kind: FaultDisk, Service: "catalog", Mount: "/var/log"},
		{Kind: FaultCrashLoop, Service: "inventory"},
		{Kind: FaultLatency, Service: "payment"},
		{Kind: FaultErrors, Service: "checkout"},
		{Kind: FaultCPU, Service: "postgres"},
	}
}

// Schedule lays out one cycle of rotation from first on: a fault starts
// interval after the one before it, except after a disk fault, which runs
// slowly in the background: then the next one follows after a sixth of the
// interval. It returns the schedule and the cycle's length, after which the
// rotation repeats.
func Schedule(rotation []Fault, first, interval time.Duration) ([]Scheduled, time.Duration) {
	gap := func(f Fault) time.Duration {
		if f.Kind == FaultDisk {
			return interval / 6
		}
		return interval
	}
	out := make([]Scheduled, 0, len(rotation))
	at := first
	var cycle time.Duration
	for i, f := range rotation {
		if i > 0 {
			at += gap(rotation[i-1])
		}
		out = append(out, Scheduled{At: at, Fault: f})
		cycle += gap(f)
	}
	return out, cycle
}
