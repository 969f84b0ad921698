package action

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/osprey-aiops/osprey"
)

// FuzzRenderArgv renders hostile label values and titles into an argv, and
// arbitrary template sources as an argv element. Whatever comes in, a planned
// argv has the runbook's shape: the program and literal elements unchanged,
// each value whole and matching its pattern, no NUL, no leading dash from a
// value.
func FuzzRenderArgv(f *testing.F) {
	for _, v := range hostile("/nonexistent") {
		f.Add(v, v, "{{ .Incident.Labels.service }}")
	}
	f.Add("web", "Title", "--unit={{ .Incident.Labels.service | lower }}.service")
	f.Add("web", "x", "{{ index .Incident.Labels \"service\" }}")
	f.Add("web", "x", "{{ printf \"%s-%s\" .Incident.Labels.service .Incident.Title }}")
	f.Add("web", "x", "{{ call .Incident.Labels }}")
	f.Add("web", "x", "{{ template \"x\" }}{{ define \"x\" }}y{{ end }}")
	const prog = "/usr/bin/true"
	fixed, err := ExecSpec{
		Argv:   []string{prog, "restart", "{{ .Incident.Labels.service }}.service", "--title={{ .Incident.Title }}"},
		Fields: []FieldPattern{{Field: ".Incident.Title", Pattern: `[ -~]{0,80}`}},
	}.Compile(Options{ExecAllow: []string{prog}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, service, title, src string) {
		inc := &osprey.Incident{ID: "i", Title: title, Labels: osprey.Labels{"service": service}}
		d := NewData(inc, "rb", "run", "t")
		if argv, err := fixed.Plan(d); err == nil {
			if len(argv) != 4 || argv[0] != prog || argv[1] != "restart" {
				t.Fatalf("argv shape changed: %q", argv)
			}
			if argv[2] != service+".service" || !defaultPattern.MatchString(service) || strings.HasPrefix(service, "-") {
				t.Fatalf("service %q accepted into %q", service, argv[2])
			}
			if argv[3] != "--title="+title || len(title) > 80 || strings.HasPrefix(title, "-") {
				t.Fatalf("title %q accepted into %q", title, argv[3])
			}
			for _, a := range argv {
				if strings.IndexByte(a, 0) >= 0 || !utf8.ValidString(a) {
					t.Fatalf("argv element %q has a NUL or invalid UTF-8", a)
				}
			}
		}
		x, err := ExecSpec{Argv: []string{prog, src}}.Compile(Options{ExecAllow: []string{prog}})
		if err != nil {
			return
		}
		argv, err := x.Plan(d)
		if err != nil {
			return
		}
		if len(argv) != 2 || argv[0] != prog || strings.IndexByte(argv[1], 0) >= 0 {
			t.Fatalf("argv %q from template %q", argv, src)
		}
	})
}

// FuzzSystemdAndKubeNames renders arbitrary label values into a systemd unit
// and a Kubernetes namespace and Deployment name. A plan that is accepted
// always has the fixed shape, a valid unit name after "--", and DNS-1123
// names; nothing from the value ever starts an argument with '-'.
func FuzzSystemdAndKubeNames(f *testing.F) {
	for _, v := range hostile("/nonexistent") {
		f.Add(v)
	}
	f.Add("web")
	f.Add("getty@tty1")
	f.Add("checkout.v2")
	const prog = "/usr/bin/systemctl"
	sd, err := SystemdSpec{Unit: "{{ .Incident.Labels.v }}.service", Verb: "restart"}.Compile(Options{ExecAllow: []string{prog}})
	if err != nil {
		f.Fatal(err)
	}
	k, err := KubernetesSpec{InCluster: true, Namespace: "{{ .Incident.Labels.v }}", Deployment: "{{ .Incident.Labels.v }}",
		Operation: KubeScale, Replicas: 2, MaxReplicas: 3}.Compile(Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, v string) {
		d := NewData(incident(osprey.Labels{"v": v}), "rb", "run", "t")
		if argv, err := sd.Plan(d); err == nil {
			if len(argv) != 4 || argv[0] != prog || argv[1] != "restart" || argv[2] != "--" || argv[3] != v+".service" {
				t.Fatalf("systemd plan %q for %q", argv, v)
			}
			if ValidUnitName(argv[3]) != nil || strings.HasPrefix(argv[3], "-") {
				t.Fatalf("systemd plan accepted unit %q", argv[3])
			}
		}
		if args, err := k.Plan(d); err == nil {
			if len(args) != 6 || args[2] != "namespace="+v || args[3] != "deployment="+v {
				t.Fatalf("kubernetes plan %q for %q", args, v)
			}
			if ValidNamespace(v) != nil || ValidDeploymentName(v) != nil || strings.HasPrefix(v, "-") {
				t.Fatalf("kubernetes plan accepted %q", v)
			}
		}
	})
}
