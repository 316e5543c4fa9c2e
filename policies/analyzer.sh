#!/bin/sh
# The policy pack as an executable analyzer plugin, for a Pulumi CLI without the Node language host
# (the tests, an air-gapped runner): `pulumi preview --policy-pack policies/analyzer.sh`. The CLI
# launches an executable pack directly with the engine's address; this starts the SDK's own
# policy-pack runner (which compiles the TypeScript itself) in this directory. Needs `npm ci` first.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
runner=$(node -p "require.resolve('@pulumi/pulumi/cmd/run-policy-pack', { paths: ['$here'] })")
exec node "$runner" --pwd "$here" "$1" "$here"
