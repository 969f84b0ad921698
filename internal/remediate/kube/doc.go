// Package kube connects the remediate stage's kubernetes actions to
// clusters with client-go. It implements action.KubeConnector: a rollout
// restart is a strategic merge patch of the Deployment's pod template
// annotation kubectl.kubernetes.io/restartedAt (what `kubectl rollout
// restart` sends), and a scale reads and writes the Deployment's scale
// subresource (what `kubectl scale` uses).
//
// The generated clientset is not linked (it would add some 30 MB to the
// binary): the requests go through client-go's REST client (rest,
// tools/clientcmd) on the paths and with the bodies the generated apps/v1
// client uses. The Deployments interface has the generated client's method
// signatures, so tests inject client-go's fake clientset through the
// Factory; no cluster runs in Osprey's tests. The REST path is tested
// against an HTTP server speaking the API's wire format, reached through a
// real kubeconfig file.
package kube
