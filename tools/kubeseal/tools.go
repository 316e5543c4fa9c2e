//go:build tools

// Package tools pins the kubeseal version the tests use as a peer of `npm run seal`.
package tools

import _ "github.com/bitnami-labs/sealed-secrets/cmd/kubeseal"
