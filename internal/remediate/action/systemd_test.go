package action

import (
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/osprey-aiops/osprey"
)

func TestSystemdCompileErrors(t *testing.T) {
	allow := []string{"/usr/bin/systemctl"}
	tests := []struct {
		name string
		spec SystemdSpec
		opts Options
		want []string
	}{
		{"no verb", SystemdSpec{Unit: "web.service"}, Options{ExecAllow: allow}, []string{"verb:", "restart, start, stop, reload"}},
		{"bad verb", SystemdSpec{Unit: "web.service", Verb: "kill"}, Options{ExecAllow: allow}, []string{"verb:", `"kill"`}},
		{"no unit", SystemdSpec{Verb: "restart"}, Options{ExecAllow: allow}, []string{"unit: must name"}},
		{"literal flag", SystemdSpec{Unit: "--now", Verb: "restart"}, Options{ExecAllow: allow}, []string{"unit:", "option"}},
		{"literal no suffix", SystemdSpec{Unit: "web", Verb: "restart"}, Options{ExecAllow: allow}, []string{"unit:", "not a systemd unit name"}},
		{"control structure", SystemdSpec{Unit: "{{if .Incident.ID}}x{{end}}.service", Verb: "restart"}, Options{ExecAllow: allow}, []string{"unit:", "not allowed"}},
		{"not allowed", SystemdSpec{Unit: "web.service", Verb: "restart"}, Options{}, []string{"/usr/bin/systemctl", "not on remediation.exec_allow"}},
		{"other systemctl not allowed", SystemdSpec{Unit: "web.service", Verb: "restart"}, Options{ExecAllow: allow, Systemctl: "/bin/systemctl"},
			[]string{"/bin/systemctl", "not on remediation.exec_allow"}},
		{"relative systemctl", SystemdSpec{Unit: "web.service", Verb: "restart"}, Options{ExecAllow: allow, Systemctl: "systemctl"},
			[]string{"clean absolute path"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.spec.Compile(tc.opts)
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
	if err := (SystemdSpec{Unit: "web.service", Verb: "restart"}).Validate(); err != nil {
		t.Errorf("Validate (no allow-list) = %v", err)
	}
}

func TestValidUnitName(t *testing.T) {
	for _, ok := range []string{"web.service", "getty@tty1.service", "nginx.socket", "backup.timer", "a:b_c.d-e.service", `foo@x\x2dy.service`, "home.mount"} {
		if err := ValidUnitName(ok); err != nil {
			t.Errorf("ValidUnitName(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "web", "web.exe", "-.mount", "--now", "-H host", "web service.service", "a/b.service", "web.service\n",
		"a@b@c.service", "@.service", ".service.", strings.Repeat("a", 250) + ".service", "wéb.service"} {
		if err := ValidUnitName(bad); err == nil {
			t.Errorf("ValidUnitName(%q) accepted it", bad)
		}
	}
}

// TestSystemdRunsSystemctl runs a fake systemctl (a real program that
// records its argv) and checks the exact argv of the plan and of the call.
func TestSystemdRunsSystemctl(t *testing.T) {
	rec := newRecorder(t)
	s, err := SystemdSpec{Unit: "{{ .Incident.Labels.service }}.service", Verb: "restart"}.
		Compile(Options{ExecAllow: []string{rec.path}, Systemctl: rec.path})
	if err != nil {
		t.Fatal(err)
	}
	if s.Type() != "systemd" {
		t.Errorf("Type = %q", s.Type())
	}
	argv, err := s.Plan(NewData(incident(osprey.Labels{"service": "web"}), "rb", "run", "t"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{rec.path, "restart", "--", "web.service"}
	if !slices.Equal(argv, want) {
		t.Fatalf("plan = %q, want %q", argv, want)
	}
	if res := s.Execute(t.Context(), argv); res.Err != nil || res.ExitCode != 0 {
		t.Fatalf("Execute = %+v", res)
	}
	// A stored plan that was tampered with is refused before anything runs.
	for _, bad := range [][]string{
		{rec.path, "restart", "--", "--now"},
		{rec.path, "restart", "--", "web"},
		{rec.path, "stop", "--", "web.service"},
		{rec.path, "restart", "--now", "web.service"},
		{"/bin/sh", "restart", "--", "web.service"},
		{rec.path, "restart", "--", "web.service", "-H", "host"},
	} {
		if res := s.Execute(t.Context(), bad); res.Err == nil {
			t.Errorf("Execute(%q) ran", bad)
		}
	}
	if got := rec.calls(t); !slices.EqualFunc(got, [][]string{want[1:]}, slices.Equal[[]string]) {
		t.Errorf("systemctl saw %q, want exactly one call %q", got, want[1:])
	}
}

// TestSecurityCorpusSystemd feeds the hostile corpus into the unit name:
// a value is refused, or becomes part of one valid unit-name argument after
// "--"; it never becomes a flag, and no payload runs.
func TestSecurityCorpusSystemd(t *testing.T) {
	marker := t.TempDir()
	corpus := hostile(marker)
	corpus["now"] = "--now"
	corpus["host-flag"] = "-H host"
	corpus["host-flag-joined"] = "-Hevil.example.com"
	corpus["unit-and-flag"] = "web.service --now"
	corpus["two-units"] = "web.service db"
	corpus["valid"] = "web"
	names := make([]string, 0, len(corpus))
	for name := range corpus {
		names = append(names, name)
	}
	sort.Strings(names)
	rec := newRecorder(t)
	s, err := SystemdSpec{Unit: "{{ .Incident.Labels.service }}.service", Verb: "restart"}.
		Compile(Options{ExecAllow: []string{rec.path}, Systemctl: rec.path})
	if err != nil {
		t.Fatal(err)
	}
	var executed [][]string
	var accepted []string
	for _, name := range names {
		v := corpus[name]
		argv, err := s.Plan(NewData(incident(osprey.Labels{"service": v}), "rb", "run", "t"))
		if err != nil {
			continue
		}
		if len(argv) != 4 || argv[1] != "restart" || argv[2] != "--" || argv[3] != v+".service" || strings.HasPrefix(argv[3], "-") {
			t.Errorf("%s: Plan = %q", name, argv)
			continue
		}
		if res := s.Execute(t.Context(), argv); res.Err != nil {
			t.Errorf("%s: Execute: %v", name, res.Err)
			continue
		}
		accepted = append(accepted, name)
		executed = append(executed, argv[1:])
	}
	if !slices.Equal(accepted, []string{"valid"}) {
		t.Errorf("accepted %v, want only the valid name", accepted)
	}
	for _, name := range accepted {
		// Only values that are a plain unit-name prefix may pass.
		if strings.ContainsAny(corpus[name], " /;$`|&<>\n\r\x00") {
			t.Errorf("%s (%q) was accepted", name, corpus[name])
		}
	}
	if got := rec.calls(t); !slices.EqualFunc(got, executed, slices.Equal[[]string]) {
		t.Errorf("systemctl saw %q, want exactly the planned argvs %q", got, executed)
	}
	if entries, _ := os.ReadDir(marker); len(entries) != 0 {
		t.Fatalf("payloads executed: marker files %v", entries)
	}
}
