//go:build tools

// Package tools pins the source-controller version the Flux tests run.
package tools

import _ "github.com/fluxcd/source-controller"
