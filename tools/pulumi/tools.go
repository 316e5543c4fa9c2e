//go:build tools

// Package tools pins the Pulumi CLI the engine tests build.
package tools

import (
	_ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
)
