//go:build tools

// Package tools pins the kubelet of the test cluster's one real node.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kubelet"
)
