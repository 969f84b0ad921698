package action

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/osprey-aiops/osprey"
)

// stubKube records what the kubernetes action asks of a cluster. The
// client-go implementation is tested in package kube against client-go's
// fake clientset.
type stubKube struct {
	clusters []KubeCluster
	restarts []string
	scales   []string
	current  int32
}

func (s *stubKube) Connect(c KubeCluster) (KubeClient, error) {
	s.clusters = append(s.clusters, c)
	return s, nil
}

func (s *stubKube) RolloutRestart(_ context.Context, ns, name string, at time.Time) error {
	s.restarts = append(s.restarts, ns+"/"+name)
	return nil
}

func (s *stubKube) Scale(_ context.Context, ns, name string, desired func(int32) int32) (int32, int32, error) {
	from := s.current
	s.current = desired(from)
	s.scales = append(s.scales, ns+"/"+name)
	return from, s.current, nil
}

func TestKubernetesCompileErrors(t *testing.T) {
	base := KubernetesSpec{InCluster: true, Namespace: "shop", Deployment: "checkout", Operation: KubeRolloutRestart}
	with := func(f func(*KubernetesSpec)) KubernetesSpec {
		s := base
		f(&s)
		return s
	}
	tests := []struct {
		name string
		spec KubernetesSpec
		want []string
	}{
		{"no cluster", with(func(s *KubernetesSpec) { s.InCluster = false }), []string{"kubeconfig", "in_cluster"}},
		{"both clusters", with(func(s *KubernetesSpec) { s.Kubeconfig = "/k" }), []string{"not both"}},
		{"relative kubeconfig", with(func(s *KubernetesSpec) { s.InCluster, s.Kubeconfig = false, "kube/config" }), []string{"kubeconfig:", "absolute"}},
		{"templated kubeconfig", with(func(s *KubernetesSpec) { s.InCluster, s.Kubeconfig = false, "/{{.Incident.ID}}" }), []string{"kubeconfig:"}},
		{"context in cluster", with(func(s *KubernetesSpec) { s.Context = "prod" }), []string{"context:"}},
		{"bad namespace", with(func(s *KubernetesSpec) { s.Namespace = "Shop_1" }), []string{"namespace:", "DNS-1123"}},
		{"empty deployment", with(func(s *KubernetesSpec) { s.Deployment = "" }), []string{"deployment: must not be empty"}},
		{"control structure", with(func(s *KubernetesSpec) { s.Deployment = "{{range .Incident.Members}}x{{end}}" }), []string{"deployment:", "not allowed"}},
		{"bad operation", with(func(s *KubernetesSpec) { s.Operation = "delete" }), []string{"operation:", "rollout_restart, scale"}},
		{"restart with replicas", with(func(s *KubernetesSpec) { s.Replicas = 3 }), []string{"operation:", "takes no replicas"}},
		{"scale without count", with(func(s *KubernetesSpec) { s.Operation, s.MaxReplicas = KubeScale, 5 }), []string{"replicas:", "exactly one"}},
		{"scale with both", with(func(s *KubernetesSpec) { s.Operation, s.Replicas, s.ReplicasDelta, s.MaxReplicas = KubeScale, 2, 1, 5 }), []string{"exactly one"}},
		{"scale without max", with(func(s *KubernetesSpec) { s.Operation, s.Replicas = KubeScale, 2 }), []string{"max_replicas:"}},
		{"scale above max", with(func(s *KubernetesSpec) { s.Operation, s.Replicas, s.MaxReplicas = KubeScale, 8, 5 }), []string{"replicas:", "outside [1, 5]"}},
		{"min above max", with(func(s *KubernetesSpec) {
			s.Operation, s.ReplicasDelta, s.MinReplicas, s.MaxReplicas = KubeScale, 1, 6, 5
		}), []string{"min_replicas:"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.spec.Validate()
			if err == nil {
				t.Fatal("Validate succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	if err := base.Validate(); err != nil {
		t.Errorf("base spec: %v", err)
	}
}

func TestKubernetesPlanExecute(t *testing.T) {
	stub := &stubKube{current: 3}
	k, err := KubernetesSpec{
		Kubeconfig: "/etc/osprey/kubeconfig", Namespace: "{{ .Incident.Labels.namespace }}",
		Deployment: "{{ .Incident.Labels.deployment }}", Operation: KubeScale, ReplicasDelta: 2, MaxReplicas: 4,
	}.Compile(Options{Kube: stub})
	if err != nil {
		t.Fatal(err)
	}
	args, err := k.Plan(NewData(incident(osprey.Labels{"namespace": "shop", "deployment": "checkout.v2"}), "rb", "run", "t"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"scale", "cluster=/etc/osprey/kubeconfig", "namespace=shop", "deployment=checkout.v2", "replicas=+2", "bounds=1..4"}
	if !slices.Equal(args, want) {
		t.Fatalf("plan = %q, want %q", args, want)
	}
	res := k.Execute(t.Context(), args)
	if res.Err != nil || stub.current != 4 || res.Stdout != "deployment shop/checkout.v2 scaled from 3 to 4 replicas" {
		t.Fatalf("Execute = %+v, replicas %d", res, stub.current)
	}
	for _, bad := range [][]string{
		{"scale", "cluster=/etc/osprey/kubeconfig", "namespace=kube-system", "deployment=checkout.v2", "replicas=+9", "bounds=1..4"},
		{"rollout_restart", "cluster=/etc/osprey/kubeconfig", "namespace=shop", "deployment=checkout.v2"},
		{"scale", "cluster=/other", "namespace=shop", "deployment=checkout.v2", "replicas=+2", "bounds=1..4"},
		{"scale", "cluster=/etc/osprey/kubeconfig", "namespace=shop", "deployment=--all", "replicas=+2", "bounds=1..4"},
		{"scale"},
	} {
		if res := k.Execute(t.Context(), bad); res.Err == nil || !strings.HasPrefix(res.Err.Error(), "refused") {
			t.Errorf("Execute(%q) = %v, want refused", bad, res.Err)
		}
	}
	if len(stub.scales) != 1 {
		t.Errorf("scales = %v, want one", stub.scales)
	}
	// Without a connector (not wired), execution fails clearly.
	k2, _ := KubernetesSpec{InCluster: true, Namespace: "shop", Deployment: "web", Operation: KubeRolloutRestart}.Compile(Options{})
	args, _ = k2.Plan(NewData(incident(nil), "rb", "run", "t"))
	if res := k2.Execute(t.Context(), args); res.Err == nil || !strings.Contains(res.Err.Error(), "not configured") {
		t.Errorf("Execute without connector = %v", res.Err)
	}
}

// TestSecurityCorpusKubernetes feeds the hostile corpus into the namespace
// and the Deployment name: every value is refused unless it is a valid
// DNS-1123 name, and nothing reaches the cluster for a refused one.
func TestSecurityCorpusKubernetes(t *testing.T) {
	corpus := hostile(t.TempDir())
	corpus["all-namespaces"] = "--all-namespaces"
	corpus["selector"] = "-l app=x"
	corpus["valid"] = "checkout"
	names := make([]string, 0, len(corpus))
	for name := range corpus {
		names = append(names, name)
	}
	sort.Strings(names)
	stub := &stubKube{}
	k, err := KubernetesSpec{InCluster: true, Namespace: "{{ .Incident.Labels.ns }}", Deployment: "{{ .Incident.Labels.service }}",
		Operation: KubeRolloutRestart}.Compile(Options{Kube: stub})
	if err != nil {
		t.Fatal(err)
	}
	var acted []string
	for _, name := range names {
		v := corpus[name]
		for _, labels := range []osprey.Labels{{"ns": v, "service": "web"}, {"ns": "shop", "service": v}} {
			args, err := k.Plan(NewData(incident(labels), "rb", "run", "t"))
			if err != nil {
				continue
			}
			if res := k.Execute(t.Context(), args); res.Err != nil {
				t.Errorf("%s: %v", name, res.Err)
			}
			acted = append(acted, labels["ns"]+"/"+labels["service"])
		}
	}
	if want := []string{"checkout/web", "shop/checkout"}; !slices.Equal(acted, want) || !slices.Equal(stub.restarts, want) {
		t.Errorf("acted on %v (cluster saw %v), want only %v", acted, stub.restarts, want)
	}
}

func TestNotifyPlanExecute(t *testing.T) {
	var got []string
	send := func(_ context.Context, receiver, incidentID, text string) error {
		got = append(got, receiver+"|"+incidentID+"|"+text)
		if receiver == "down" {
			return errors.New("receiver down")
		}
		return nil
	}
	n, err := NotifySpec{Receiver: "oncall", Text: "runbook {{ .Runbook }} acted on {{ .Incident.Labels.service }}: {{ .Incident.Title }}"}.
		Compile(Options{Notify: send})
	if err != nil {
		t.Fatal(err)
	}
	inc := incident(osprey.Labels{"service": "web"})
	inc.Title = "web is down\x00\xff"
	args, err := n.Plan(NewData(inc, "restart-web", "run", "t"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"oncall", "01INC", "runbook restart-web acted on web: web is down\uFFFD"}
	if !slices.Equal(args, want) {
		t.Fatalf("plan = %q, want %q", args, want)
	}
	if res := n.Execute(t.Context(), args); res.Err != nil {
		t.Fatal(res.Err)
	}
	if len(got) != 1 || got[0] != strings.Join(want, "|") {
		t.Errorf("sent %q", got)
	}
	if res := n.Execute(t.Context(), []string{"other", "01INC", "x"}); res.Err == nil {
		t.Error("a changed receiver was sent to")
	}
	if _, err := (NotifySpec{Receiver: "{{ .Incident.Labels.team }}", Text: "x"}).Compile(Options{}); err == nil {
		t.Error("a templated receiver compiled")
	}
	if _, err := (NotifySpec{Receiver: "oncall"}).Compile(Options{}); err == nil {
		t.Error("an empty text compiled")
	}
	n2, _ := NotifySpec{Receiver: "oncall", Text: "x"}.Compile(Options{})
	if res := n2.Execute(t.Context(), []string{"oncall", "01INC", "x"}); !errors.Is(res.Err, ErrNotifyNotConfigured) {
		t.Errorf("Execute without notifier = %v, want ErrNotifyNotConfigured", res.Err)
	}
}
