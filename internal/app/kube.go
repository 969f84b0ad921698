package app

import (
	"github.com/osprey-aiops/osprey/internal/remediate/action"
	"github.com/osprey-aiops/osprey/internal/remediate/kube"
)

// kubeConnector connects the kubernetes runbook steps to their clusters
// with client-go.
func kubeConnector() action.KubeConnector { return kube.New(nil) }
