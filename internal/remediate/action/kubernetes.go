package action

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// KubernetesSpec restarts or scales a Deployment through the Kubernetes API
// (package kube implements it with client-go): operation rollout_restart sets
// the pod template annotation kubectl.kubernetes.io/restartedAt, as
// `kubectl rollout restart` does; operation scale sets the replicas through
// the Deployment's scale subresource, as `kubectl scale` does.
type KubernetesSpec struct {
	// Kubeconfig is the absolute path of a kubeconfig file; exactly one of
	// Kubeconfig and InCluster is set.
	Kubeconfig string `yaml:"kubeconfig"`
	// InCluster uses the service account Osprey runs under in a pod.
	InCluster bool `yaml:"in_cluster"`
	// Context selects a kubeconfig context; empty means the file's current
	// context.
	Context string `yaml:"context"`
	// Namespace and Deployment name the Deployment. They may hold
	// {{ value }} templates (exec's argv rules); the rendered namespace must
	// be a DNS-1123 label and the name a DNS-1123 subdomain.
	Namespace  string `yaml:"namespace"`
	Deployment string `yaml:"deployment"`
	// Operation is rollout_restart or scale.
	Operation string `yaml:"operation"`
	// Replicas (scale) is the replica count to set, or, with ReplicasDelta,
	// zero. Exactly one of the two is set.
	Replicas int `yaml:"replicas"`
	// ReplicasDelta (scale) is added to the current replica count
	// (negative scales down).
	ReplicasDelta int `yaml:"replicas_delta"`
	// MinReplicas and MaxReplicas (scale) bound the result: it is clamped
	// into [max(1, MinReplicas), MaxReplicas]. MaxReplicas is required;
	// this action never scales to zero.
	MinReplicas int `yaml:"min_replicas"`
	MaxReplicas int `yaml:"max_replicas"`
}

// Kubernetes operations.
const (
	KubeRolloutRestart = "rollout_restart"
	KubeScale          = "scale"
)

// RestartedAtAnnotation is the pod template annotation a rollout restart
// sets, the one kubectl uses.
const RestartedAtAnnotation = "kubectl.kubernetes.io/restartedAt"

// maxKubeReplicas bounds max_replicas.
const maxKubeReplicas = 10000

// KubeCluster says how to reach a cluster.
type KubeCluster struct {
	Kubeconfig string
	InCluster  bool
	Context    string
}

// String names the cluster in plans: "in-cluster" or the kubeconfig path
// and context.
func (c KubeCluster) String() string {
	if c.InCluster {
		return "in-cluster"
	}
	if c.Context != "" {
		return c.Kubeconfig + "#" + c.Context
	}
	return c.Kubeconfig
}

// KubeConnector returns a client for a cluster. Package kube implements it
// with client-go; tests inject client-go's fake clientset through it.
type KubeConnector interface {
	Connect(c KubeCluster) (KubeClient, error)
}

// KubeClient acts on the Deployments of one cluster.
type KubeClient interface {
	// RolloutRestart sets the restartedAt annotation of the Deployment's
	// pod template to at (RFC 3339), which rolls its pods.
	RolloutRestart(ctx context.Context, namespace, name string, at time.Time) error
	// Scale reads the Deployment's scale subresource, computes the
	// desired replicas from the current ones and writes them (unless they
	// are equal). It returns both counts.
	Scale(ctx context.Context, namespace, name string, desired func(current int32) int32) (from, to int32, err error)
}

var (
	dns1123Label     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	dns1123Subdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
)

// ValidNamespace checks a namespace name: a DNS-1123 label.
func ValidNamespace(s string) error {
	if len(s) > 63 || !dns1123Label.MatchString(s) {
		return fmt.Errorf("%q is not a namespace name (DNS-1123 label: lowercase letters, digits and '-', at most 63)", clip(s))
	}
	return nil
}

// ValidDeploymentName checks a Deployment name: a DNS-1123 subdomain.
func ValidDeploymentName(s string) error {
	if len(s) > 253 || !dns1123Subdomain.MatchString(s) {
		return fmt.Errorf("%q is not a Deployment name (DNS-1123 subdomain: lowercase letters, digits, '-' and '.', at most 253)", clip(s))
	}
	return nil
}

// IsZero reports whether the spec is unset (the step is of another kind).
func (s KubernetesSpec) IsZero() bool { return s == KubernetesSpec{} }

// Validate checks the spec without touching the file system or a cluster.
func (s KubernetesSpec) Validate() error {
	_, err := s.Compile(Options{})
	return err
}

// Compile checks the spec and returns the Action. It does not connect:
// that happens at each Execute, through o.Kube.
func (s KubernetesSpec) Compile(o Options) (*Kubernetes, error) {
	var p Problems
	k := &Kubernetes{
		cluster:   KubeCluster{Kubeconfig: s.Kubeconfig, InCluster: s.InCluster, Context: s.Context},
		operation: s.Operation,
		replicas:  s.Replicas, delta: s.ReplicasDelta,
		min: max(1, s.MinReplicas), max: s.MaxReplicas,
		conn: o.Kube,
	}
	switch {
	case s.InCluster && s.Kubeconfig != "":
		p.Addf("", "set one of kubeconfig and in_cluster, not both")
	case !s.InCluster && s.Kubeconfig == "":
		p.Addf("", "set kubeconfig (a path) or in_cluster: true")
	case s.Kubeconfig != "" && (strings.Contains(s.Kubeconfig, "{{") || !filepath.IsAbs(s.Kubeconfig) || filepath.Clean(s.Kubeconfig) != s.Kubeconfig):
		p.Addf("kubeconfig", "%q must be a clean absolute path", clip(s.Kubeconfig))
	}
	if s.Context != "" && (s.InCluster || strings.Contains(s.Context, "{{") || strings.ContainsAny(s.Context, "\x00\r\n")) {
		p.Addf("context", "must be a literal kubeconfig context, with kubeconfig")
	}
	var err error
	if k.namespace, err = kubeName(s.Namespace, ValidNamespace); err != nil {
		p.Addf("namespace", "%v", err)
	}
	if k.deployment, err = kubeName(s.Deployment, ValidDeploymentName); err != nil {
		p.Addf("deployment", "%v", err)
	}
	switch s.Operation {
	case KubeRolloutRestart:
		if s.Replicas != 0 || s.ReplicasDelta != 0 || s.MinReplicas != 0 || s.MaxReplicas != 0 {
			p.Addf("operation", "rollout_restart takes no replicas, replicas_delta, min_replicas or max_replicas")
		}
	case KubeScale:
		if (s.Replicas != 0) == (s.ReplicasDelta != 0) {
			p.Addf("replicas", "scale needs exactly one of replicas (a count) and replicas_delta (a change)")
		}
		if s.Replicas < 0 {
			p.Addf("replicas", "must not be negative")
		}
		if s.MinReplicas < 0 {
			p.Addf("min_replicas", "must not be negative")
		}
		if s.MaxReplicas < 1 || s.MaxReplicas > maxKubeReplicas {
			p.Addf("max_replicas", "scale needs max_replicas, between 1 and %d", maxKubeReplicas)
		} else if k.min > s.MaxReplicas {
			p.Addf("min_replicas", "%d is above max_replicas %d", k.min, s.MaxReplicas)
		} else if s.Replicas != 0 && (s.Replicas < k.min || s.Replicas > s.MaxReplicas) {
			p.Addf("replicas", "%d is outside [%d, %d] (min_replicas, max_replicas)", s.Replicas, k.min, s.MaxReplicas)
		}
	default:
		p.Addf("operation", "%q is not one of %s, %s", clip(s.Operation), KubeRolloutRestart, KubeScale)
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	return k, nil
}

// kubeName parses a namespace or name template; a literal one is checked
// at once.
func kubeName(src string, valid func(string) error) (*nameTemplate, error) {
	if strings.TrimSpace(src) == "" {
		return nil, errors.New("must not be empty")
	}
	parts, err := parseParts(src)
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(parts, func(pt part) bool { return pt.tmpl != nil }) {
		if err := valid(src); err != nil {
			return nil, err
		}
	}
	return &nameTemplate{parts: parts, valid: valid}, nil
}

// nameTemplate is a namespace or Deployment name, checked when rendered.
type nameTemplate struct {
	parts []part
	valid func(string) error
}

func (n *nameTemplate) render(d *Data) (string, error) {
	v, err := renderParts(n.parts, d)
	if err != nil {
		return "", err
	}
	return v, n.valid(v)
}

// Kubernetes is a compiled KubernetesSpec.
type Kubernetes struct {
	cluster         KubeCluster
	namespace       *nameTemplate
	deployment      *nameTemplate
	operation       string
	replicas, delta int
	min, max        int
	conn            KubeConnector
}

var _ Action = (*Kubernetes)(nil)

// Type returns "kubernetes".
func (k *Kubernetes) Type() string { return "kubernetes" }

// Plan returns the operation and its parameters, as key=value arguments:
// [operation, cluster=..., namespace=..., deployment=...] and, for scale,
// replicas=N or replicas=+N/-N with bounds=MIN..MAX.
func (k *Kubernetes) Plan(d *Data) ([]string, error) {
	ns, err := k.namespace.render(d)
	if err != nil {
		return nil, fmt.Errorf("namespace: %w", err)
	}
	name, err := k.deployment.render(d)
	if err != nil {
		return nil, fmt.Errorf("deployment: %w", err)
	}
	return k.args(ns, name), nil
}

func (k *Kubernetes) args(ns, name string) []string {
	args := []string{k.operation, "cluster=" + k.cluster.String(), "namespace=" + ns, "deployment=" + name}
	if k.operation == KubeScale {
		r := strconv.Itoa(k.replicas)
		if k.delta != 0 {
			r = fmt.Sprintf("%+d", k.delta)
		}
		args = append(args, "replicas="+r, fmt.Sprintf("bounds=%d..%d", k.min, k.max))
	}
	return args
}

// desired is the replica count scale sets, from the current one.
func (k *Kubernetes) desired(current int32) int32 {
	want := k.replicas
	if k.delta != 0 {
		want = int(current) + k.delta
	}
	return int32(min(max(want, k.min), k.max))
}

// Execute checks args against the spec and acts on the cluster.
func (k *Kubernetes) Execute(ctx context.Context, args []string) Result {
	res := Result{ExitCode: -1}
	if len(args) < 4 {
		res.Err = fmt.Errorf("refused: want the planned arguments, got %q", args)
		return res
	}
	ns, _ := strings.CutPrefix(args[2], "namespace=")
	name, _ := strings.CutPrefix(args[3], "deployment=")
	if err := ValidNamespace(ns); err != nil {
		res.Err = fmt.Errorf("refused: %w", err)
		return res
	}
	if err := ValidDeploymentName(name); err != nil {
		res.Err = fmt.Errorf("refused: %w", err)
		return res
	}
	if want := k.args(ns, name); !slices.Equal(args, want) {
		res.Err = fmt.Errorf("refused: arguments %q differ from the runbook step's %q", args, want)
		return res
	}
	if k.conn == nil {
		res.Err = errors.New("kubernetes is not configured in this Osprey (no cluster connector)")
		return res
	}
	start := time.Now()
	res = k.act(ctx, ns, name)
	res.Duration = time.Since(start)
	return res
}

// act connects and performs the operation.
func (k *Kubernetes) act(ctx context.Context, ns, name string) Result {
	res := Result{ExitCode: -1}
	client, err := k.conn.Connect(k.cluster)
	if err != nil {
		res.Err = fmt.Errorf("connect to %s: %w", k.cluster, err)
		return res
	}
	switch k.operation {
	case KubeRolloutRestart:
		at := time.Now().UTC()
		if err := client.RolloutRestart(ctx, ns, name, at); err != nil {
			res.Err = fmt.Errorf("rollout restart deployment %s/%s: %w", ns, name, err)
			return res
		}
		res.Stdout = fmt.Sprintf("deployment %s/%s restarted (%s=%s)", ns, name, RestartedAtAnnotation, at.Format(time.RFC3339))
	case KubeScale:
		from, to, err := client.Scale(ctx, ns, name, k.desired)
		if err != nil {
			res.Err = fmt.Errorf("scale deployment %s/%s: %w", ns, name, err)
			return res
		}
		if from == to {
			res.Stdout = fmt.Sprintf("deployment %s/%s already has %d replicas", ns, name, to)
		} else {
			res.Stdout = fmt.Sprintf("deployment %s/%s scaled from %d to %d replicas", ns, name, from, to)
		}
	}
	res.ExitCode = 0
	return res
}
