// Command sealcompat decrypts one sealed value with the controller's crypto.HybridDecrypt.
// Usage: sealcompat <private-key.pem> <label> < base64-ciphertext; prints the plaintext.
package main

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/bitnami-labs/sealed-secrets/pkg/crypto"
)

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "sealcompat: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	if len(os.Args) != 3 {
		fail("usage: sealcompat <private-key.pem> <label> < ciphertext")
	}
	pemBytes, err := os.ReadFile(os.Args[1])
	if err != nil {
		fail("%v", err)
	}
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		fail("no PEM block in %s", os.Args[1])
	}
	var key *rsa.PrivateKey
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		key = k
	} else if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		key = k.(*rsa.PrivateKey)
	} else {
		fail("not an RSA private key: %v", err)
	}
	in, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail("%v", err)
	}
	ciphertext, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(in)))
	if err != nil {
		fail("ciphertext is not base64: %v", err)
	}
	keys := map[string]*rsa.PrivateKey{"key": key}
	plain, err := crypto.HybridDecrypt(nil, keys, ciphertext, []byte(os.Args[2]))
	if err != nil {
		fail("%v", err)
	}
	os.Stdout.Write(plain)
}
