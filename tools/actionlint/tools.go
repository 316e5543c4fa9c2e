//go:build tools

// Package tools pins the actionlint version .ci/run builds.
package tools

import _ "github.com/rhysd/actionlint/cmd/actionlint"
