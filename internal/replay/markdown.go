package replay

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// Markdown lists at most this many anomalies, incidents and runs per result.
const (
	mdAnomalies = 50
	mdIncidents = 30
	mdRuns      = 50
	mdDiff      = 30
	// mdNotifications is the notifications listed per result.
	mdNotifications = 50
)

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteMarkdown writes the report for people. The header (generation time,
// timings) comes first, in lines starting with "> ", and only when r.Header
// is set; the rest depends on the data and configuration alone.
func (r *Report) WriteMarkdown(w io.Writer) error {
	b := &strings.Builder{}
	b.WriteString("# Osprey replay report\n\n")
	if h := r.Header; h != nil {
		fmt.Fprintf(b, "> Generated %s by osprey %s.\n", h.GeneratedAt.Format(time.RFC3339), h.Version)
		for _, t := range h.Timings {
			stages := slices.Sorted(maps.Keys(t.Stages))
			parts := make([]string, 0, len(stages))
			for _, s := range stages {
				parts = append(parts, fmt.Sprintf("%s %.2fs", s, t.Stages[s]))
			}
			fmt.Fprintf(b, "> Config %s: %.2fs, %.0f samples/s (%s).\n", t.Config, t.Seconds, t.SamplesPerSecond, strings.Join(parts, ", "))
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(b, "Data from %s to %s.\n\n", ts(r.From), ts(r.To))
	b.WriteString("## Inputs\n\n| kind | input | series | samples | lines | events | first | last |\n|---|---|---:|---:|---:|---:|---|---|\n")
	for _, in := range r.Inputs {
		fmt.Fprintf(b, "| %s | %s | %d | %d | %d | %d | %s | %s |\n", in.Kind, cell(in.Name), in.Series, in.Samples, in.Lines, in.Events, ts(in.First), ts(in.Last))
	}
	for _, in := range r.Inputs {
		if in.UntimedLines > 0 {
			fmt.Fprintf(b, "\n%s: %d lines before the first line with a time were skipped.\n", in.Name, in.UntimedLines)
		}
		for _, inj := range in.Injected {
			fmt.Fprintf(b, "\nInjected into %s: %s.\n", in.Name, inj)
		}
	}
	b.WriteString("\n")
	for i := range r.Results {
		writeResult(b, &r.Results[i], len(r.Results) > 1)
	}
	if r.Diff != nil {
		writeDiff(b, r.Diff)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeResult(b *strings.Builder, res *Result, multi bool) {
	h := "##"
	if multi {
		fmt.Fprintf(b, "## Config %s", res.Config)
		if res.ConfigPath != "" {
			fmt.Fprintf(b, " (%s)", res.ConfigPath)
		}
		b.WriteString("\n\n")
		h = "###"
	} else if res.ConfigPath != "" {
		fmt.Fprintf(b, "Configuration: %s.\n\n", res.ConfigPath)
	}
	s := res.Settings
	fmt.Fprintf(b, "Metric detection %s, log mining %s, log anomalies %s; correlation window %s by %s; %d runbooks.\n\n",
		onOff(s.Detect), onOff(s.Logs), onOff(s.LogAnomalies), s.CorrelateWindow, strings.Join(s.CorrelateGroupBy, ", "), s.Runbooks)

	n := res.Noise
	fmt.Fprintf(b, "%s Noise\n\n", h)
	fmt.Fprintf(b, "| samples | log lines | events | anomalies | signals | incidents | compression |\n|---:|---:|---:|---:|---:|---:|---:|\n")
	fmt.Fprintf(b, "| %d | %d | %d | %d | %d | %d | %.2f |\n\n", n.Samples, n.LogLines, n.Events, n.Anomalies, n.Signals, n.Incidents, n.CompressionRatio)
	if n.UnscoredSamples > 0 || n.UnminedLines > 0 {
		fmt.Fprintf(b, "Not analysed (stage disabled): %d samples, %d log lines.\n\n", n.UnscoredSamples, n.UnminedLines)
	}

	a := res.Anomalies
	fmt.Fprintf(b, "%s Anomalies\n\n", h)
	fmt.Fprintf(b, "%d anomalies (%d still ongoing at the end); by kind: %s; by severity: %s.\n\n", a.Total, a.Ongoing, counts(a.ByKind), counts(a.BySeverity))
	if len(a.TopSeries) > 0 {
		b.WriteString("| series | anomalies |\n|---|---:|\n")
		for _, sc := range a.TopSeries {
			fmt.Fprintf(b, "| %s | %d |\n", cell(sc.Series), sc.Count)
		}
		b.WriteString("\n")
	}
	if len(a.List) > 0 {
		b.WriteString("| ref | start | end | kind | series | score | severity | incident | explanation |\n|---|---|---|---|---|---:|---|---|---|\n")
		for _, it := range a.List[:min(len(a.List), mdAnomalies)] {
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %.3f | %s | %s | %s |\n", it.Ref, ts(it.StartsAt), ts(it.EndsAt), it.Kind,
				cell(it.Series), it.Score, it.Severity, it.Incident, cell(it.Explanation))
		}
		if more := a.Total - min(len(a.List), mdAnomalies); more > 0 {
			fmt.Fprintf(b, "\n%d more in the JSON report.\n", more)
		}
		b.WriteString("\n")
	}

	is := res.Incidents
	fmt.Fprintf(b, "%s Incidents\n\n", h)
	fmt.Fprintf(b, "%d incidents (%d unresolved at the end).\n\n", is.Total, is.Unresolved)
	for _, inc := range is.List[:min(len(is.List), mdIncidents)] {
		fmt.Fprintf(b, "- **%s** %s — %s, %s, opened %s", inc.Ref, cell(inc.Title), inc.Status, inc.Severity, ts(inc.OpenedAt))
		if !inc.ResolvedAt.IsZero() {
			fmt.Fprintf(b, ", resolved %s", ts(inc.ResolvedAt))
		}
		fmt.Fprintf(b, "; %d members\n", len(inc.Members))
		for _, m := range inc.Members[:min(len(inc.Members), 10)] {
			fmt.Fprintf(b, "  - member %s %s%s (%s, %s, %d×, first %s)\n", m.Ref, m.Name, labelsText(m.Labels), m.Severity, m.Status, m.Count, ts(m.FirstSeen))
		}
		if len(inc.Members) > 10 {
			fmt.Fprintf(b, "  - and %d more members\n", len(inc.Members)-10)
		}
		for i, c := range inc.Causes[:min(len(inc.Causes), 3)] {
			fmt.Fprintf(b, "  - cause #%d %s %s (%.2f): %s\n", i+1, c.Kind, c.Name, c.Score, c.Explanation)
		}
		if len(inc.Runs) > 0 {
			fmt.Fprintf(b, "  - runbook runs (dry run): %s\n", strings.Join(inc.Runs, ", "))
		}
	}
	if more := is.Total - min(len(is.List), mdIncidents); more > 0 {
		fmt.Fprintf(b, "\n%d more in the JSON report.\n", more)
	}
	b.WriteString("\n")

	rs := res.Runbooks
	fmt.Fprintf(b, "%s Runbooks (dry run)\n\n", h)
	fmt.Fprintf(b, "Note: %s.\n\n", rs.Note)
	if len(rs.ByRunbook) > 0 {
		b.WriteString("| runbook | configured mode | runs | plan refused | blocked by guardrails | incidents |\n|---|---|---:|---:|---|---|\n")
		for _, rb := range rs.ByRunbook {
			fmt.Fprintf(b, "| %s | %s | %d | %d | %s | %s |\n", rb.Runbook, rb.Mode, rb.Runs, rb.PlanRefused, counts(rb.Blocked), strings.Join(rb.Incidents, ", "))
		}
		b.WriteString("\n")
	}
	for _, run := range rs.Runs[:min(len(rs.Runs), mdRuns)] {
		fmt.Fprintf(b, "- %s %s (%s) for %s at %s: %s\n", run.Ref, run.Runbook, run.Mode, run.Incident, ts(run.RequestedAt), run.Status)
		for _, act := range run.Actions {
			fmt.Fprintf(b, "  - %s: %s %q %s", act.Step, act.Type, act.Args, act.Status)
			if act.Note != "" {
				fmt.Fprintf(b, " (%s)", act.Note)
			}
			b.WriteString("\n")
		}
	}
	if len(rs.Runs) > 0 {
		b.WriteString("\n")
	}

	writeNotifications(b, h, &res.Notifications)

	if len(res.LogSources) > 0 {
		fmt.Fprintf(b, "%s Log sources\n\n| source | lines | templates | overflow |\n|---|---:|---:|---:|\n", h)
		for _, ls := range res.LogSources {
			fmt.Fprintf(b, "| %s | %d | %d | %d |\n", cell(ls.Source), ls.Lines, ls.Templates, ls.Overflow)
		}
		b.WriteString("\n")
	}
}

func writeNotifications(b *strings.Builder, h string, ns *NotificationSummary) {
	fmt.Fprintf(b, "%s Notifications\n\n", h)
	if !ns.Available {
		fmt.Fprintf(b, "%s.\n\n", capitalise(ns.Note))
		return
	}
	fmt.Fprintf(b, "%d notifications would have been sent. Note: %s.\n\n", ns.Total, ns.Note)
	b.WriteString("| receiver | type | " + strings.Join(NotificationKinds, " | ") + " | total |\n|---|---|")
	b.WriteString(strings.Repeat("---:|", len(NotificationKinds)+1) + "\n")
	for _, rn := range ns.ByReceiver {
		fmt.Fprintf(b, "| %s | %s |", cell(rn.Receiver), rn.Type)
		for _, k := range NotificationKinds {
			fmt.Fprintf(b, " %d |", rn.ByKind[k])
		}
		fmt.Fprintf(b, " %d |\n", rn.Total)
	}
	b.WriteString("\n")
	for _, it := range ns.List[:min(len(ns.List), mdNotifications)] {
		fmt.Fprintf(b, "- %s %s %s: %s %s (%s)\n", it.Ref, ts(it.At), cell(it.Receiver), it.Kind, it.Incident, it.Key)
	}
	if n := len(ns.List) + ns.Omitted - mdNotifications; n > 0 {
		fmt.Fprintf(b, "- and %d more\n", n)
	}
	if len(ns.List) > 0 {
		b.WriteString("\n")
	}
}

func writeDiff(b *strings.Builder, d *Diff) {
	fmt.Fprintf(b, "## Difference: %s vs %s\n\n", d.A, d.B)
	fmt.Fprintf(b, "Anomalies match on fingerprint and overlapping time; incidents on a shared member and overlapping time.\n\n")
	b.WriteString("| | only in " + d.A + " | only in " + d.B + " | in both |\n|---|---:|---:|---:|\n")
	fmt.Fprintf(b, "| anomalies | %d | %d | %d |\n", len(d.Anomalies.OnlyA), len(d.Anomalies.OnlyB), d.Anomalies.Both)
	fmt.Fprintf(b, "| incidents | %d | %d | %d |\n\n", len(d.Incidents.OnlyA), len(d.Incidents.OnlyB), d.Incidents.Both)
	fmt.Fprintf(b, "| notifications | %s | %s |\n|---|---:|---:|\n", d.A, d.B)
	for _, k := range append(slices.Clone(NotificationKinds), "total") {
		fmt.Fprintf(b, "| %s | %d | %d |\n", k, d.Notifications.A[k], d.Notifications.B[k])
	}
	b.WriteString("\n")
	list := func(title string, items []DiffItem) {
		if len(items) == 0 {
			return
		}
		fmt.Fprintf(b, "%s:\n\n", title)
		for _, it := range items[:min(len(items), mdDiff)] {
			fmt.Fprintf(b, "- %s %s at %s\n", it.Ref, cell(it.What), ts(it.At))
		}
		if len(items) > mdDiff {
			fmt.Fprintf(b, "- and %d more\n", len(items)-mdDiff)
		}
		b.WriteString("\n")
	}
	list("Anomalies only in "+d.A, d.Anomalies.OnlyA)
	list("Anomalies only in "+d.B, d.Anomalies.OnlyB)
	list("Incidents only in "+d.A, d.Incidents.OnlyA)
	list("Incidents only in "+d.B, d.Incidents.OnlyB)
}

// WriteSummary writes a few lines for a terminal.
func (r *Report) WriteSummary(w io.Writer) error {
	b := &strings.Builder{}
	for _, in := range r.Inputs {
		fmt.Fprintf(b, "input %s %s: %d series, %d samples, %d lines, %d events\n", in.Kind, in.Name, in.Series, in.Samples, in.Lines, in.Events)
	}
	for i, res := range r.Results {
		n := res.Noise
		fmt.Fprintf(b, "config %s: %d anomalies, %d events -> %d incidents (compression %.2f); %d runbook runs planned (dry run)",
			res.Config, n.Anomalies, n.Events, n.Incidents, n.CompressionRatio, len(res.Runbooks.Runs)+res.Runbooks.Omitted)
		if res.Notifications.Available {
			fmt.Fprintf(b, "; %d notifications (not sent)", res.Notifications.Total)
		}
		if r.Header != nil && i < len(r.Header.Timings) {
			t := r.Header.Timings[i]
			fmt.Fprintf(b, "; %.2fs, %.0f samples/s", t.Seconds, t.SamplesPerSecond)
		}
		b.WriteString("\n")
	}
	if d := r.Diff; d != nil {
		fmt.Fprintf(b, "diff: anomalies only in %s %d, only in %s %d, both %d; incidents only in %s %d, only in %s %d, both %d\n",
			d.A, len(d.Anomalies.OnlyA), d.B, len(d.Anomalies.OnlyB), d.Anomalies.Both,
			d.A, len(d.Incidents.OnlyA), d.B, len(d.Incidents.OnlyB), d.Incidents.Both)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func ts(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format(time.RFC3339)
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// counts renders a map of counts as "a 1, b 2" in key order.
func counts(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func labelsText(l map[string]string) string {
	if len(l) == 0 {
		return ""
	}
	keys := slices.Sorted(maps.Keys(l))
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%q", k, l[k]))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// cell makes s safe in a Markdown table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}

func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
