//go:build !osprey_kube

package app

import (
	"errors"

	"github.com/osprey-aiops/osprey/internal/remediate/action"
)

// kubeConnector, in a build without the osprey_kube tag, makes kubernetes
// runbook steps fail with a clear error; their configuration is still
// validated and planned.
func kubeConnector() action.KubeConnector { return noKube{} }

type noKube struct{}

func (noKube) Connect(action.KubeCluster) (action.KubeClient, error) {
	return nil, errors.New("this osprey binary was built without Kubernetes support (build with -tags osprey_kube)")
}
