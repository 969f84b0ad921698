package action

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
)

func TestExecCompileErrors(t *testing.T) {
	allow := []string{"/usr/bin/systemctl"}
	tests := []struct {
		name string
		spec ExecSpec
		want []string // substrings of the error, each with its path
	}{
		{"empty", ExecSpec{}, []string{"argv: must list"}},
		{"relative program", ExecSpec{Argv: []string{"systemctl"}}, []string{"argv[0]:", "absolute"}},
		{"unclean program", ExecSpec{Argv: []string{"/usr/bin/../bin/systemctl"}}, []string{"argv[0]:", "clean"}},
		{"templated program", ExecSpec{Argv: []string{"{{.Incident.Labels.prog}}"}}, []string{"argv[0]:", "literal path"}},
		{"not allowed", ExecSpec{Argv: []string{"/bin/sh", "-c", "x"}}, []string{"argv[0]:", "not on remediation.exec_allow"}},
		{"control structure", ExecSpec{Argv: []string{"/usr/bin/systemctl", "{{if .Incident.ID}}x{{end}}"}}, []string{"argv[1]:", "not allowed"}},
		{"range", ExecSpec{Argv: []string{"/usr/bin/systemctl", "{{range .Incident.Members}}{{.Name}}{{end}}"}}, []string{"argv[1]:", "not allowed"}},
		{"variable", ExecSpec{Argv: []string{"/usr/bin/systemctl", "{{$x := .Incident.ID}}"}}, []string{"argv[1]:", "variables"}},
		{"parse error", ExecSpec{Argv: []string{"/usr/bin/systemctl", "{{.Incident.ID"}}, []string{"argv[1]:"}},
		{"unused field", ExecSpec{Argv: []string{"/usr/bin/systemctl", "restart"}, Fields: []FieldPattern{{Field: ".Incident.ID"}}},
			[]string{"fields[0].field:", "not used"}},
		{"bad pattern", ExecSpec{Argv: []string{"/usr/bin/systemctl", "{{.Incident.ID}}"}, Fields: []FieldPattern{{Field: ".Incident.ID", Pattern: "("}}},
			[]string{"fields[0].pattern:"}},
		{"duplicate field", ExecSpec{Argv: []string{"/usr/bin/systemctl", "{{.Incident.ID}}"}, Fields: []FieldPattern{{Field: ".Incident.ID"}, {Field: "{{ .Incident.ID }}"}}},
			[]string{"fields[1].field:", "already"}},
		{"bad env", ExecSpec{Argv: []string{"/usr/bin/systemctl"}, Env: []string{"NOEQUALS", "A={{.Incident.ID}}"}},
			[]string{"env[0]:", "env[1]:"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.spec.Compile(Options{ExecAllow: allow})
			if err == nil {
				t.Fatal("Compile succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestExecPlanAndRun(t *testing.T) {
	rec := newRecorder(t)
	x, err := ExecSpec{
		Argv:   []string{rec.path, "restart", "{{ .Incident.Labels.service }}.service", "--reason={{ .Incident.Labels.service | upper }}"},
		Fields: []FieldPattern{{Field: ".Incident.Labels.service", Pattern: `[a-z0-9-]{1,63}`}},
	}.Compile(Options{ExecAllow: []string{rec.path}})
	if err != nil {
		t.Fatal(err)
	}
	argv, err := x.Plan(NewData(incident(osprey.Labels{"service": "web"}), "rb", "run1", "web"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{rec.path, "restart", "web.service", "--reason=WEB"}
	if !slices.Equal(argv, want) {
		t.Fatalf("Plan = %q, want %q", argv, want)
	}
	res := x.Execute(t.Context(), argv)
	if res.Err != nil || res.ExitCode != 0 || res.Stdout != "recorded\n" {
		t.Fatalf("Execute = %+v", res)
	}
	if got := rec.calls(t); len(got) != 1 || !slices.Equal(got[0], want[1:]) {
		t.Fatalf("recorded %q, want one call with %q", got, want[1:])
	}
	// Execute refuses anything Plan could not have produced.
	for _, bad := range [][]string{
		{"/bin/sh", "-c", "true", "x"},
		{rec.path, "stop", "web.service", "--reason=WEB"},
		{rec.path, "restart"},
		{rec.path, "restart", "web\x00.service", "x"},
	} {
		if res := x.Execute(t.Context(), bad); res.Err == nil || !strings.Contains(res.Err.Error(), "refused") {
			t.Errorf("Execute(%q) = %v, want refused", bad, res.Err)
		}
	}
	if n := len(rec.calls(t)); n != 1 {
		t.Fatalf("%d calls, want 1", n)
	}
}

func TestExecMissingLabelFailsPlan(t *testing.T) {
	x, err := ExecSpec{Argv: []string{"/usr/bin/true", "{{ .Incident.Labels.service }}"}}.Compile(Options{ExecAllow: []string{"/usr/bin/true"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x.Plan(NewData(incident(nil), "rb", "r", "t")); err == nil || !strings.Contains(err.Error(), "service") {
		t.Fatalf("Plan = %v, want a missing-key error", err)
	}
}

func TestExecTimeoutKillsProcessGroup(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "sleepy")
	marker := filepath.Join(dir, "survived")
	// The child outlives the script unless the whole group is killed.
	body := "#!/bin/sh\n(sleep 2; /usr/bin/touch " + marker + ") &\nsleep 30\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	x, err := ExecSpec{Argv: []string{script}}.Compile(Options{ExecAllow: []string{script}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	res := x.Execute(ctx, []string{script})
	if res.Err == nil || res.ExitCode != -1 {
		t.Fatalf("Execute = %+v, want a timeout", res)
	}
	time.Sleep(2500 * time.Millisecond)
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the script's child survived the timeout")
	}
}

func TestExecOutputTruncated(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "loud")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nhead -c 100000 /dev/zero | tr '\\0' x\necho err >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	x, err := ExecSpec{Argv: []string{script}, Env: []string{"PATH=/usr/bin:/bin"}}.Compile(Options{ExecAllow: []string{script}, MaxOutput: 1000})
	if err != nil {
		t.Fatal(err)
	}
	res := x.Execute(t.Context(), []string{script})
	if res.ExitCode != 3 || res.Err == nil || res.Err.Error() != "exit status 3" {
		t.Fatalf("Execute = exit %d, err %v", res.ExitCode, res.Err)
	}
	if len(res.Stdout) != 1000 || !res.Truncated || res.Stderr != "err\n" {
		t.Fatalf("stdout %d bytes, truncated %v, stderr %q", len(res.Stdout), res.Truncated, res.Stderr)
	}
}
