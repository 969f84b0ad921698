package demo

import (
	"strings"
	"time"

	"github.com/osprey-aiops/osprey/internal/config"
	"github.com/osprey-aiops/osprey/internal/remediate"
	"github.com/osprey-aiops/osprey/internal/remediate/action"
)

// Runbook names.
const (
	RunbookRestart = "restart-crashlooping-service"
	RunbookCleanup = "clean-old-logs"
)

// Config returns the engine configuration of the demo: serve's defaults,
// with the data directory and listen address given; the log stage's
// buckets and new-template warm-up and the correlator's window and resolve
// grace scaled to the sample interval step (the defaults are made for hours
// of history and faults hours apart; the demo backfills half an hour of
// samples a second apart and injects a fault every few minutes); and the
// two runbooks acting through the control endpoint at controlURL.
func Config(listen, dataDir string, step time.Duration, controlURL string) config.Config {
	cfg := config.Default()
	cfg.Server.Listen = listen
	cfg.DataDir = dataDir
	cfg.Logs.Bucket = step
	cfg.Logs.NewTemplateWarmup = 600 * step
	cfg.Logs.NewTemplateWarmupLines = 2000
	// An incident resolves 20 samples after its last member cleared
	// (serve waits 5 minutes, for flapping alerts), so that each fault of
	// the rotation, a few minutes apart, gets its own incident.
	cfg.Correlate.ResolveGrace = 20 * step
	// Signals join (or reopen) an incident active within the last 90
	// samples (serve: 5 minutes), for the same reason.
	cfg.Correlate.Window = 90 * step
	cfg.Remediation.Runbooks = Runbooks(controlURL, step)
	return cfg
}

// Runbooks returns the demo's runbooks:
//
//   - restart-crashlooping-service (auto): when an incident holds a firing
//     KubePodCrashLooping alert, restart that alert's service through the
//     control endpoint and verify that the alert resolves;
//   - clean-old-logs (dry-run): when an incident holds a firing signal of a
//     file system (a forecast that it fills, an anomaly of its free
//     space), plan deleting old logs there. Dry-run: it is only planned.
//
// Both keep production guardrails: a cooldown per target, a cap of runs
// per hour and of distinct targets.
func Runbooks(controlURL string, step time.Duration) []remediate.Runbook {
	return []remediate.Runbook{
		{
			Name:        RunbookRestart,
			Description: "Restart a crash-looping service (the simulated shop's control API), then check that the crash-loop alert resolves.",
			Trigger:     `incident.members.exists(m, m.name == "` + AlertCrashLooping + `" && m.status == "firing")`,
			Mode:        remediate.ModeAuto,
			Target:      `{{ range .Incident.Members }}{{ if eq .Name "` + AlertCrashLooping + `" }}{{ index .Labels "service" }}{{ break }}{{ end }}{{ end }}`,
			Steps: []remediate.Step{{
				Name:       "restart",
				Timeout:    10 * time.Second,
				Retries:    2,
				RetryDelay: 2 * time.Second,
				HTTP: action.HTTPSpec{
					Method: "POST",
					URL:    controlURL + "/services/restart",
					Body:   `{"service": "{{ .Target }}", "reason": "osprey runbook {{ .Runbook }}, incident {{ .Incident.ID }}"}`,
				},
			}},
			Verify:         remediate.Verify{Within: 120 * step, Members: []string{AlertCrashLooping}},
			Cooldown:       300 * step,
			MaxRunsPerHour: 6,
			MaxTargets:     2,
		},
		{
			Name:        RunbookCleanup,
			Description: "Delete rotated logs older than 7 days on a file system that is filling up.",
			Trigger:     `incident.members.exists(m, "mountpoint" in m.labels && m.status == "firing")`,
			Mode:        remediate.ModeDryRun,
			Target:      mountTemplate(`{{ index $m.Labels "service" }}:{{ . }}`),
			Steps: []remediate.Step{{
				Name:    "delete-old-logs",
				Timeout: 30 * time.Second,
				HTTP: action.HTTPSpec{
					Method: "POST",
					URL:    controlURL + "/services/cleanup-logs",
					Body: `{"service": "` + inJSON(mountTemplate(`{{ index $m.Labels "service" }}`)) + `",` +
						` "mountpoint": "` + inJSON(mountTemplate(`{{ . }}`)) + `", "older_than": "168h"}`,
				},
			}},
			Cooldown:       1800 * step,
			MaxRunsPerHour: 4,
			MaxTargets:     3,
		},
	}
}

// mountTemplate renders inner for the first member with a mountpoint
// label, with $m the member and dot the mountpoint.
func mountTemplate(inner string) string {
	return `{{ range $m := .Incident.Members }}{{ with index $m.Labels "mountpoint" }}` + inner + `{{ break }}{{ end }}{{ end }}`
}

// inJSON escapes the quotes of a template that goes into a JSON string.
func inJSON(tmpl string) string { return strings.ReplaceAll(tmpl, `"`, `\"`) }
