//go:build tools

// Package tools pins the kubeseal version the tests use as a peer of `npm run seal`, and the
// sealed-secrets controller of the same release, which the tests run as a process against the
// control plane (tools/sealed-secrets-controller.ts).
package tools

import (
	_ "github.com/bitnami-labs/sealed-secrets/cmd/controller"
	_ "github.com/bitnami-labs/sealed-secrets/cmd/kubeseal"
)
