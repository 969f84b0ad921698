package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/osprey-aiops/osprey/internal/remediate/action"
)

// fieldManager names Osprey as the writer of what it changes.
const fieldManager = "osprey"

// Deployments is the part of client-go's typed DeploymentInterface
// (k8s.io/client-go/kubernetes/typed/apps/v1) the actions use, with the same
// method signatures, so that the fake clientset's
// AppsV1().Deployments(namespace) is one. The production implementation
// talks to the API server through client-go's REST client without linking
// the generated clientset (which would add some 30 MB to the binary).
type Deployments interface {
	Patch(ctx context.Context, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions, subresources ...string) (*appsv1.Deployment, error)
	GetScale(ctx context.Context, name string, opts metav1.GetOptions) (*autoscalingv1.Scale, error)
	UpdateScale(ctx context.Context, name string, scale *autoscalingv1.Scale, opts metav1.UpdateOptions) (*autoscalingv1.Scale, error)
}

// DeploymentsFunc returns the Deployments of a namespace.
type DeploymentsFunc func(namespace string) Deployments

// Factory builds the Deployments access of a cluster.
type Factory func(c action.KubeCluster) (DeploymentsFunc, error)

// Connector is an action.KubeConnector. It builds one client per cluster,
// on first use, and keeps it.
type Connector struct {
	factory Factory

	mu      sync.Mutex
	clients map[action.KubeCluster]action.KubeClient
}

var _ action.KubeConnector = (*Connector)(nil)

// New returns a Connector that builds clients with factory; nil means
// RESTFactory (kubeconfig files and in-cluster service accounts).
func New(factory Factory) *Connector {
	if factory == nil {
		factory = RESTFactory
	}
	return &Connector{factory: factory, clients: make(map[action.KubeCluster]action.KubeClient)}
}

// Connect returns the client of cluster c.
func (k *Connector) Connect(c action.KubeCluster) (action.KubeClient, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if cl, ok := k.clients[c]; ok {
		return cl, nil
	}
	deps, err := k.factory(c)
	if err != nil {
		return nil, err
	}
	cl := NewClient(deps)
	k.clients[c] = cl
	return cl, nil
}

// RESTFactory connects to a cluster with the kubeconfig file (with its
// context, if set) or the in-cluster service account, through client-go's
// REST client for apps/v1.
func RESTFactory(c action.KubeCluster) (DeploymentsFunc, error) {
	var (
		cfg *rest.Config
		err error
	)
	switch {
	case c.InCluster:
		cfg, err = rest.InClusterConfig()
	case c.Kubeconfig != "":
		rules := &clientcmd.ClientConfigLoadingRules{ExplicitPath: c.Kubeconfig}
		overrides := &clientcmd.ConfigOverrides{CurrentContext: c.Context}
		cfg, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).ClientConfig()
	default:
		return nil, errors.New("no kubeconfig and not in-cluster")
	}
	if err != nil {
		return nil, fmt.Errorf("load cluster config %s: %w", c, err)
	}
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = "osprey"
	cfg.APIPath = "/apis"
	cfg.GroupVersion = &appsv1.SchemeGroupVersion
	// Only the error Status needs decoding by the client; bodies are JSON
	// that this package encodes and decodes itself.
	sch := runtime.NewScheme()
	metav1.AddToGroupVersion(sch, schema.GroupVersion{Version: "v1"})
	metav1.AddToGroupVersion(sch, appsv1.SchemeGroupVersion)
	cfg.NegotiatedSerializer = serializer.NewCodecFactory(sch).WithoutConversion()
	rc, err := rest.RESTClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("client for %s: %w", c, err)
	}
	return func(ns string) Deployments { return restDeployments{c: rc, ns: ns} }, nil
}

// restDeployments implements Deployments with the apps/v1 REST paths the
// generated client uses.
type restDeployments struct {
	c  rest.Interface
	ns string
}

func (d restDeployments) Patch(ctx context.Context, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions,
	subresources ...string) (*appsv1.Deployment, error) {
	req := d.c.Patch(pt).Namespace(d.ns).Resource("deployments").Name(name).SubResource(subresources...).Body(data)
	if opts.FieldManager != "" {
		req = req.Param("fieldManager", opts.FieldManager)
	}
	out := &appsv1.Deployment{}
	return out, into(req.Do(ctx), out)
}

func (d restDeployments) GetScale(ctx context.Context, name string, _ metav1.GetOptions) (*autoscalingv1.Scale, error) {
	out := &autoscalingv1.Scale{}
	return out, into(d.c.Get().Namespace(d.ns).Resource("deployments").Name(name).SubResource("scale").Do(ctx), out)
}

func (d restDeployments) UpdateScale(ctx context.Context, name string, scale *autoscalingv1.Scale, opts metav1.UpdateOptions) (*autoscalingv1.Scale, error) {
	in := scale.DeepCopy()
	in.TypeMeta = metav1.TypeMeta{APIVersion: "autoscaling/v1", Kind: "Scale"}
	body, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	req := d.c.Put().Namespace(d.ns).Resource("deployments").Name(name).SubResource("scale").
		SetHeader("Content-Type", "application/json").Body(body)
	if opts.FieldManager != "" {
		req = req.Param("fieldManager", opts.FieldManager)
	}
	out := &autoscalingv1.Scale{}
	return out, into(req.Do(ctx), out)
}

// into decodes a successful JSON response into out.
func into(res rest.Result, out any) error {
	if err := res.Error(); err != nil {
		return err // a *errors.StatusError when the server sent a Status
	}
	raw, err := res.Raw()
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("decode response: %w", err)
	}
	return nil
}

// NewClient returns an action.KubeClient over deps: the REST client's, or
// client-go's fake clientset's (func(ns) { return cs.AppsV1().Deployments(ns) }).
func NewClient(deps DeploymentsFunc) action.KubeClient { return &client{deps: deps} }

type client struct{ deps DeploymentsFunc }

// RolloutRestart patches the pod template's restartedAt annotation, as
// kubectl does: the Deployment controller then rolls every pod.
func (c *client) RolloutRestart(ctx context.Context, namespace, name string, at time.Time) error {
	patch, err := json.Marshal(map[string]any{
		"spec": map[string]any{"template": map[string]any{"metadata": map[string]any{
			"annotations": map[string]string{action.RestartedAtAnnotation: at.UTC().Format(time.RFC3339)},
		}}},
	})
	if err != nil {
		return err
	}
	_, err = c.deps(namespace).Patch(ctx, name, types.StrategicMergePatchType, patch,
		metav1.PatchOptions{FieldManager: fieldManager})
	return err
}

// Scale reads the scale subresource and, when desired differs from the
// current count, updates it with the read resourceVersion (a concurrent
// change makes it fail with a conflict rather than overwrite).
func (c *client) Scale(ctx context.Context, namespace, name string, desired func(int32) int32) (int32, int32, error) {
	d := c.deps(namespace)
	sc, err := d.GetScale(ctx, name, metav1.GetOptions{})
	if err != nil {
		return 0, 0, err
	}
	from := sc.Spec.Replicas
	to := desired(from)
	if to == from {
		return from, to, nil
	}
	upd := &autoscalingv1.Scale{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, ResourceVersion: sc.ResourceVersion},
		Spec:       autoscalingv1.ScaleSpec{Replicas: to},
	}
	if _, err := d.UpdateScale(ctx, name, upd, metav1.UpdateOptions{FieldManager: fieldManager}); err != nil {
		return from, from, err
	}
	return from, to, nil
}
