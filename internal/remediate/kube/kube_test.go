package kube

import (
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/osprey-aiops/osprey"
	"github.com/osprey-aiops/osprey/internal/remediate/action"
)

// These tests run the kubernetes action against client-go's fake
// clientset: no cluster runs here. The fake's object tracker does not
// implement the scale subresource, so scaleReactors answer it from the
// Deployment's spec.replicas, as the API server does.

func deployment(ns, name string, replicas int32) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, ResourceVersion: "1"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{"team": "shop"}}},
		},
	}
}

// scaleReactors serve get and update of deployments/scale from the tracker.
func scaleReactors(cs *fake.Clientset) {
	gvr := appsv1.SchemeGroupVersion.WithResource("deployments")
	cs.PrependReactor("get", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "scale" {
			return false, nil, nil
		}
		g := a.(k8stesting.GetAction)
		obj, err := cs.Tracker().Get(gvr, g.GetNamespace(), g.GetName())
		if err != nil {
			return true, nil, err
		}
		d := obj.(*appsv1.Deployment)
		return true, &autoscalingv1.Scale{
			ObjectMeta: metav1.ObjectMeta{Namespace: d.Namespace, Name: d.Name, ResourceVersion: d.ResourceVersion},
			Spec:       autoscalingv1.ScaleSpec{Replicas: *d.Spec.Replicas},
		}, nil
	})
	cs.PrependReactor("update", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "scale" {
			return false, nil, nil
		}
		sc := a.(k8stesting.UpdateAction).GetObject().(*autoscalingv1.Scale)
		obj, err := cs.Tracker().Get(gvr, sc.Namespace, sc.Name)
		if err != nil {
			return true, nil, err
		}
		d := obj.(*appsv1.Deployment).DeepCopy()
		d.Spec.Replicas = &sc.Spec.Replicas
		if err := cs.Tracker().Update(gvr, d, d.Namespace); err != nil {
			return true, nil, err
		}
		return true, sc, nil
	})
}

// fakeCluster returns a connector whose every cluster is cs, and records
// the clusters asked for.
func fakeCluster(cs *fake.Clientset, asked *[]action.KubeCluster) *Connector {
	return New(func(c action.KubeCluster) (DeploymentsFunc, error) {
		*asked = append(*asked, c)
		return func(ns string) Deployments { return cs.AppsV1().Deployments(ns) }, nil
	})
}

func incident(labels osprey.Labels) *action.Data {
	return action.NewData(&osprey.Incident{ID: "01INC", Title: "checkout slow", Labels: labels}, "rb", "run1", "t")
}

func TestRolloutRestartPatchesTemplateAnnotation(t *testing.T) {
	cs := fake.NewSimpleClientset(deployment("shop", "checkout", 3))
	var asked []action.KubeCluster
	k, err := action.KubernetesSpec{
		Kubeconfig: "/etc/osprey/kubeconfig", Context: "prod",
		Namespace: "{{ .Incident.Labels.namespace }}", Deployment: "{{ .Incident.Labels.deployment }}",
		Operation: action.KubeRolloutRestart,
	}.Compile(action.Options{Kube: fakeCluster(cs, &asked)})
	if err != nil {
		t.Fatal(err)
	}
	args, err := k.Plan(incident(osprey.Labels{"namespace": "shop", "deployment": "checkout"}))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"rollout_restart", "cluster=/etc/osprey/kubeconfig#prod", "namespace=shop", "deployment=checkout"}
	if strings.Join(args, "|") != strings.Join(want, "|") {
		t.Fatalf("plan = %q, want %q", args, want)
	}
	before := time.Now().UTC().Truncate(time.Second)
	res := k.Execute(t.Context(), args)
	if res.Err != nil {
		t.Fatalf("Execute: %v (%s)", res.Err, res.Output())
	}
	d, err := cs.AppsV1().Deployments("shop").Get(t.Context(), "checkout", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ann := d.Spec.Template.Annotations
	at, err := time.Parse(time.RFC3339, ann[action.RestartedAtAnnotation])
	if err != nil || at.Before(before) {
		t.Fatalf("restartedAt = %q (%v), want an RFC 3339 time not before %s", ann[action.RestartedAtAnnotation], err, before)
	}
	if ann["team"] != "shop" || *d.Spec.Replicas != 3 {
		t.Errorf("the patch changed more than the annotation: %+v replicas %d", ann, *d.Spec.Replicas)
	}
	if len(asked) != 1 || asked[0] != (action.KubeCluster{Kubeconfig: "/etc/osprey/kubeconfig", Context: "prod"}) {
		t.Errorf("clusters asked for = %+v", asked)
	}
	var patched bool
	for _, a := range cs.Actions() {
		if p, ok := a.(k8stesting.PatchAction); ok && a.GetVerb() == "patch" {
			patched = strings.Contains(string(p.GetPatch()), `"kubectl.kubernetes.io/restartedAt"`) && string(p.GetPatchType()) == "application/strategic-merge-patch+json"
		}
	}
	if !patched {
		t.Errorf("no strategic merge patch of the restartedAt annotation among %v", cs.Actions())
	}
}

func TestScaleThroughScaleSubresource(t *testing.T) {
	tests := []struct {
		name      string
		spec      action.KubernetesSpec
		from, to  int32
		wantArg   string
		unchanged bool
	}{
		{"absolute", action.KubernetesSpec{Replicas: 6, MaxReplicas: 10}, 3, 6, "replicas=6", false},
		{"delta", action.KubernetesSpec{ReplicasDelta: 2, MaxReplicas: 10}, 3, 5, "replicas=+2", false},
		{"delta clamped to max", action.KubernetesSpec{ReplicasDelta: 5, MaxReplicas: 6}, 3, 6, "replicas=+5", false},
		{"delta clamped to min", action.KubernetesSpec{ReplicasDelta: -5, MinReplicas: 2, MaxReplicas: 6}, 3, 2, "replicas=-5", false},
		{"never to zero", action.KubernetesSpec{ReplicasDelta: -9, MaxReplicas: 6}, 3, 1, "replicas=-9", false},
		{"already there", action.KubernetesSpec{Replicas: 3, MaxReplicas: 6}, 3, 3, "replicas=3", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cs := fake.NewSimpleClientset(deployment("shop", "checkout", tc.from))
			scaleReactors(cs)
			var asked []action.KubeCluster
			spec := tc.spec
			spec.InCluster, spec.Namespace, spec.Deployment, spec.Operation = true, "shop", "{{ .Incident.Labels.deployment }}", action.KubeScale
			k, err := spec.Compile(action.Options{Kube: fakeCluster(cs, &asked)})
			if err != nil {
				t.Fatal(err)
			}
			args, err := k.Plan(incident(osprey.Labels{"deployment": "checkout"}))
			if err != nil {
				t.Fatal(err)
			}
			if args[1] != "cluster=in-cluster" || args[4] != tc.wantArg {
				t.Errorf("plan = %q", args)
			}
			res := k.Execute(t.Context(), args)
			if res.Err != nil {
				t.Fatalf("Execute: %v", res.Err)
			}
			d, err := cs.AppsV1().Deployments("shop").Get(t.Context(), "checkout", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if *d.Spec.Replicas != tc.to {
				t.Errorf("replicas = %d, want %d (%s)", *d.Spec.Replicas, tc.to, res.Stdout)
			}
			updates := 0
			for _, a := range cs.Actions() {
				if a.GetVerb() == "update" && a.GetSubresource() == "scale" {
					updates++
				}
			}
			if want := map[bool]int{true: 0, false: 1}[tc.unchanged]; updates != want {
				t.Errorf("%d updates of deployments/scale, want %d", updates, want)
			}
		})
	}
}

func TestMissingDeploymentFails(t *testing.T) {
	cs := fake.NewSimpleClientset()
	scaleReactors(cs)
	var asked []action.KubeCluster
	k, err := action.KubernetesSpec{InCluster: true, Namespace: "shop", Deployment: "gone", Operation: action.KubeRolloutRestart}.
		Compile(action.Options{Kube: fakeCluster(cs, &asked)})
	if err != nil {
		t.Fatal(err)
	}
	args, _ := k.Plan(incident(nil))
	if res := k.Execute(t.Context(), args); res.Err == nil || !strings.Contains(res.Err.Error(), "not found") {
		t.Fatalf("Execute on a missing Deployment: %v, want not found", res.Err)
	}
}

func TestKubeconfigErrorsAreClear(t *testing.T) {
	_, err := RESTFactory(action.KubeCluster{Kubeconfig: "/nonexistent/kubeconfig"})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/kubeconfig") {
		t.Fatalf("RESTFactory on a missing file: %v", err)
	}
}

// TestRESTWireFormat runs both operations through RESTFactory with a real
// kubeconfig file whose server is an HTTP server speaking the API's wire
// format for apps/v1 Deployments and their scale subresource.
func TestRESTWireFormat(t *testing.T) {
	var (
		mu       sync.Mutex
		requests []string
		replicas int32 = 3
	)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		requests = append(requests, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery+" "+r.Header.Get("Content-Type")+" "+r.Header.Get("Authorization")+" "+string(body))
		w.Header().Set("Content-Type", "application/json")
		const base = "/apis/apps/v1/namespaces/shop/deployments/"
		switch {
		case r.URL.Path == base+"checkout" && r.Method == http.MethodPatch:
			_, _ = w.Write([]byte(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"checkout","namespace":"shop"}}`))
		case r.URL.Path == base+"checkout/scale" && r.Method == http.MethodGet:
			fmt.Fprintf(w, `{"apiVersion":"autoscaling/v1","kind":"Scale","metadata":{"name":"checkout","namespace":"shop","resourceVersion":"42"},"spec":{"replicas":%d}}`, replicas)
		case r.URL.Path == base+"checkout/scale" && r.Method == http.MethodPut:
			var sc autoscalingv1.Scale
			if err := json.Unmarshal(body, &sc); err != nil || sc.ResourceVersion != "42" {
				w.WriteHeader(http.StatusConflict)
				_, _ = w.Write([]byte(`{"apiVersion":"v1","kind":"Status","status":"Failure","reason":"Conflict","code":409,"message":"stale"}`))
				return
			}
			replicas = sc.Spec.Replicas
			_, _ = w.Write(body)
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"apiVersion":"v1","kind":"Status","status":"Failure","reason":"NotFound","code":404,"message":"deployments.apps \"` + path.Base(r.URL.Path) + `\" not found"}`))
		}
	}))
	defer srv.Close()
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := `apiVersion: v1
kind: Config
clusters:
- name: test
  cluster: {server: "` + srv.URL + `", certificate-authority-data: "` + base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})) + `"}
users:
- name: osprey
  user: {token: s3cret}
contexts:
- name: prod
  context: {cluster: test, user: osprey}
- name: other
  context: {cluster: nowhere, user: osprey}
current-context: other
`
	if err := os.WriteFile(kubeconfig, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	conn := New(nil)
	cl, err := conn.Connect(action.KubeCluster{Kubeconfig: kubeconfig, Context: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	if err := cl.RolloutRestart(t.Context(), "shop", "checkout", at); err != nil {
		t.Fatal(err)
	}
	from, to, err := cl.Scale(t.Context(), "shop", "checkout", func(n int32) int32 { return n + 2 })
	if err != nil || from != 3 || to != 5 || replicas != 5 {
		t.Fatalf("Scale = %d, %d, %v; server has %d", from, to, err, replicas)
	}
	if err := cl.RolloutRestart(t.Context(), "shop", "gone", at); err == nil || !strings.Contains(err.Error(), `deployments.apps "gone" not found`) {
		t.Errorf("restart of a missing Deployment: %v", err)
	}
	want := []string{
		`PATCH /apis/apps/v1/namespaces/shop/deployments/checkout?fieldManager=osprey application/strategic-merge-patch+json Bearer s3cret {"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":"2026-11-26T08:00:00Z"}}}}}`,
		`GET /apis/apps/v1/namespaces/shop/deployments/checkout/scale?  Bearer s3cret `,
	}
	for i, w := range want {
		if i >= len(requests) || requests[i] != w {
			t.Errorf("request %d = %q, want %q", i, requests[i], w)
		}
	}
	if len(requests) < 3 || !strings.HasPrefix(requests[2], "PUT /apis/apps/v1/namespaces/shop/deployments/checkout/scale?fieldManager=osprey application/json Bearer s3cret ") ||
		!strings.Contains(requests[2], `"kind":"Scale"`) || !strings.Contains(requests[2], `"replicas":5`) {
		t.Errorf("scale update request %q", requests[2:])
	}
}
