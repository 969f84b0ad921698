package remediate

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/remediate/action"
)

// TestSecurityCorpusEngine sends incidents whose labels and title are the
// hostile corpus through the whole engine in auto mode: each run either has
// its plan refused (and nothing runs) or executes exactly its planned argv,
// with the value as one argument. No payload creates its marker file.
func TestSecurityCorpusEngine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		marker := t.TempDir()
		corpus := map[string]string{
			"semicolon":    "; rm -rf / ; touch " + marker + "/a",
			"subshell":     "$(touch " + marker + "/b)",
			"backticks":    "`touch " + marker + "/c`",
			"newline":      "web\ntouch " + marker + "/d",
			"flag":         "--flag=x",
			"traversal":    "../../etc/passwd",
			"long":         strings.Repeat("x", 100<<10),
			"invalid-utf8": "web\xff",
			"nul":          "web\x00x",
			"plain":        "web",
		}
		rb := Runbook{
			Name: "corpus", Trigger: `"service" in incident.labels`, Mode: ModeAuto,
			Steps: []Step{
				{Name: "strict", Exec: action.ExecSpec{Argv: []string{"REC", "strict", "{{ .Incident.Labels.service }}"}}},
			},
		}
		loose := Runbook{
			Name: "loose", Trigger: `"service" in incident.labels`, Mode: ModeAuto,
			Steps: []Step{{Name: "loose", Exec: action.ExecSpec{
				Argv:   []string{"REC", "loose", "--title={{ .Incident.Title }}"},
				Fields: []action.FieldPattern{{Field: ".Incident.Title", Pattern: `(?s).*`, AllowLeadingDash: true}},
			}}},
		}
		h := newHarness(t, rb, loose)
		var want [][]string
		i := 0
		for name, v := range corpus {
			i++
			id := fmt.Sprintf("inc%02d", i)
			inc := h.incident(id, osprey.Labels{"service": v})
			inc.Title = v
			h.consume(h.eng, inc)
			synctest.Wait()
			for _, r := range h.runs(id) {
				a := r.Actions[0]
				switch r.Status {
				case osprey.RunSucceeded:
					want = append(want, a.Args[1:])
				case osprey.RunFailed:
					if !strings.HasPrefix(a.Error, "plan refused") {
						t.Errorf("%s/%s: failed without a refused plan: %+v", name, r.Runbook, a)
					}
				default:
					t.Errorf("%s/%s: status %s", name, r.Runbook, r.Status)
				}
				t.Logf("%-12s %-6s %s", name, r.Runbook, r.Status)
			}
		}
		got := h.rec.calls(t)
		slices.SortFunc(got, func(a, b []string) int { return strings.Compare(strings.Join(a, "\x00"), strings.Join(b, "\x00")) })
		slices.SortFunc(want, func(a, b []string) int { return strings.Compare(strings.Join(a, "\x00"), strings.Join(b, "\x00")) })
		if !slices.EqualFunc(got, want, slices.Equal[[]string]) {
			t.Fatalf("executed %q, want exactly the planned %q", got, want)
		}
		for _, c := range got {
			if len(c) != 2 {
				t.Errorf("a call with %d arguments: %q", len(c), c)
			}
		}
		if entries, _ := os.ReadDir(marker); len(entries) != 0 {
			t.Fatalf("payloads executed: %v", entries)
		}
	})
}
