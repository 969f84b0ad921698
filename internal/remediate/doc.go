// Package remediate is Osprey's remediate stage: runbooks that act on
// incidents behind guardrails and verify that the problem cleared.
//
// A Runbook (configuration: Config.Runbooks) has a CEL trigger over the
// incident, ordered steps (actions from package action: exec, http,
// systemd, kubernetes, notify, wait), a verification window and on_failure
// steps. Kubernetes steps reach clusters through Options.Kube (package kube,
// client-go), notify steps the notification stage through Options.Notifier. The Engine receives every incident
// snapshot the correlate stage emits (it is an osprey.IncidentConsumer). For
// each runbook whose trigger holds and whose guardrails allow it, it plans a
// run: every template is rendered and every value from the incident checked,
// and the exact argv or HTTP request is stored. By mode, the run then stops
// there (dry-run), waits for Approve or Reject until it expires (approval), or
// runs (auto).
//
// Guardrails: at most one run per (incident, runbook); cooldown per runbook
// and target; target_cooldown across runbooks; max_runs_per_hour per
// runbook; max_targets (blast radius); max_concurrency for executing runs; and
// a stored kill switch (Pause, Resume).
//
// Durability: a run's stored actions are its state. A step's start (its
// idempotency key: incident, runbook, step) is stored before it runs and its
// outcome after. A restarted engine continues from the store: completed
// steps are never repeated, and a step that started without a stored outcome
// is marked unknown and its run escalated instead of run again; an
// interrupted wait, which has no effect, runs again.
//
// Reload (and ReloadConfig) swap the runbooks atomically after validating
// them; runs already planned keep the compiled runbook they were planned
// with. Outcome derives a finished run's result (cleared, not_cleared,
// error, unverified) from its stored actions.
//
// Everything the engine decides is appended to the audit log
// ("remediation.*" actions, JSON details) and, for people, to the incident's
// timeline (osprey.TimelineAction entries whose Ref is the run id).
package remediate
