package remediate

import (
	"errors"
	"strings"

	"github.com/osprey-aiops/osprey"
)

// Statuses the remediation engine uses beyond the ones the root package
// defines. They are osprey.RunStatus values so they store and serialise like
// the others; they belong in the root package once the API shows them.
const (
	// StatusPlanned is a dry run's status, and an action's before it runs.
	StatusPlanned osprey.RunStatus = "planned"
	// StatusSkipped is an action that will not run: its when condition was
	// false, an earlier step failed, or the run succeeded (on_failure).
	StatusSkipped osprey.RunStatus = "skipped"
	// StatusUnknown is an action that was started but whose outcome was
	// never recorded (the process died, or shutdown killed it). It is not
	// re-run: its run is escalated to a person.
	StatusUnknown osprey.RunStatus = "unknown"
	// StatusExpired is a run that waited for approval longer than allowed.
	StatusExpired osprey.RunStatus = "expired"
	// StatusCancelled is a run that waited for approval while its incident
	// resolved.
	StatusCancelled osprey.RunStatus = "cancelled"
)

// How the engine lays out a run's actions: the steps in runbook order, named
// by Action.Target; then the verification (Type "verify"); then the
// on_failure steps, whose Target is prefixed with "on_failure/".
const (
	verifyType      = "verify"
	onFailurePrefix = "on_failure/"
)

// Actor is the audit and timeline actor of the engine's own decisions.
const Actor = "osprey"

// ErrPaused is returned (wrapped, with osprey.ErrConflict) by Approve while
// remediation is paused.
var ErrPaused = errors.New("remediation is paused")

// ErrStopped is returned after Shutdown began.
var ErrStopped = errors.New("remediation engine stopped")

// terminal reports whether a run will change no more.
func terminal(s osprey.RunStatus) bool {
	switch s {
	case osprey.RunPendingApproval, osprey.RunApproved, osprey.RunRunning:
		return false
	}
	return true
}

// phase of an action in a run.
type phase int

const (
	phaseSteps phase = iota
	phaseVerify
	phaseOnFailure
)

func phaseOf(a *osprey.Action) phase {
	switch {
	case a.Type == verifyType:
		return phaseVerify
	case strings.HasPrefix(a.Target, onFailurePrefix):
		return phaseOnFailure
	}
	return phaseSteps
}

// Outcomes of a finished run that acted, as Outcome reports them.
const (
	// OutcomeCleared: the steps ran and the verification saw the incident
	// (or its watched members) clear.
	OutcomeCleared = "cleared"
	// OutcomeNotCleared: the steps ran but the incident did not clear
	// within verify.within.
	OutcomeNotCleared = "not_cleared"
	// OutcomeError: the run could not do its work: the plan was refused, a
	// step failed, or a step's outcome is unknown.
	OutcomeError = "error"
	// OutcomeUnverified: the steps succeeded and the runbook has no
	// verification.
	OutcomeUnverified = "unverified"
)

// Outcome is what a finished run achieved: OutcomeCleared,
// OutcomeNotCleared, OutcomeError or OutcomeUnverified. It is "" for a run
// that is not finished or never acted (a dry run, or one pending approval,
// rejected, expired or cancelled). It is derived from the stored run alone.
func Outcome(run osprey.RunbookRun) string {
	switch run.Status {
	case osprey.RunSucceeded, osprey.RunFailed, osprey.RunEscalated:
	default:
		return ""
	}
	for _, a := range run.Actions {
		if a.Type != verifyType {
			continue
		}
		switch a.Status {
		case osprey.RunSucceeded:
			return OutcomeCleared
		case osprey.RunFailed:
			return OutcomeNotCleared
		}
	}
	if run.Status == osprey.RunSucceeded {
		return OutcomeUnverified
	}
	return OutcomeError
}
