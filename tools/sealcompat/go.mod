// Test tool: decrypts with the sealed-secrets controller's own crypto package, so the tests can
// prove `npm run seal` output is byte-compatible with what the controller accepts.
module openfaas-gitops/tools/sealcompat

go 1.26.2

require github.com/bitnami-labs/sealed-secrets v0.36.6

require (
	golang.org/x/crypto v0.49.0 // indirect
	golang.org/x/sys v0.42.0 // indirect
)
