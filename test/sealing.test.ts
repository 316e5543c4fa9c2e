import { strict as assert } from "node:assert";
import { execFileSync, spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { describe, it } from "node:test";
import * as yaml from "js-yaml";
import { runSeal, SealError } from "../sealing/cli";
import { ensureGoTools, haveGo, toolCacheDir } from "../tools/go-tools";
import { ROOT } from "./helpers";

/**
 * An independent decryption written from the format description (shared/upstream/README.md), not
 * from sealing/crypto.ts: RSA-OAEP SHA-256 with the scope label, then AES-256-GCM, zero nonce.
 */
function unseal(privateKeyPem: string, label: string, b64: string): Buffer {
    const blob = Buffer.from(b64, "base64");
    const rsaLen = blob.readUInt16BE(0);
    const wrapped = blob.subarray(2, 2 + rsaLen);
    const body = blob.subarray(2 + rsaLen);
    const aesKey = crypto.privateDecrypt({ key: privateKeyPem, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256", oaepLabel: Buffer.from(label) }, wrapped);
    const decipher = crypto.createDecipheriv("aes-256-gcm", aesKey, Buffer.alloc(12));
    decipher.setAuthTag(body.subarray(body.length - 16));
    return Buffer.concat([decipher.update(body.subarray(0, body.length - 16)), decipher.final()]);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ofg-seal-"));
function openssl(args: string[]) {
    execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
}
openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out", "cert.pem", "-days", "30", "-subj", "/CN=sealed-secret"]);
openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "ec.key", "-out", "ec.pem", "-days", "30", "-subj", "/CN=x"]);
const KEY = fs.readFileSync(path.join(dir, "key.pem"), "utf8");
const CERT = path.join(dir, "cert.pem");

/** Runs the real CLI in a child process, as a user would. */
function cli(args: string[], stdin?: string) {
    // The loader by absolute URL: the command runs in a scratch directory, as a user's would.
    const tsx = pathToFileURL(path.join(ROOT, "node_modules", "tsx", "dist", "loader.mjs")).href;
    const r = spawnSync(process.execPath, ["--import", tsx, path.join(ROOT, "sealing", "cli.ts"), "--cert", CERT, ...args], { input: stdin ?? "", encoding: "utf8", cwd: dir });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function sealedDoc(stdout: string): any {
    return yaml.load(stdout);
}

describe("sealing: byte-compatible output for every scope", () => {
    it("strict: only the same namespace and name decrypt", () => {
        const r = cli(["--name", "api", "--namespace", "openfaas-fn", "--from-literal", "token=s3cr3t", "--from-literal", "user=bob"]);
        assert.equal(r.code, 0, r.stderr);
        const doc = sealedDoc(r.stdout);
        assert.equal(doc.apiVersion, "bitnami.com/v1alpha1");
        assert.equal(doc.kind, "SealedSecret");
        assert.deepEqual(doc.metadata, { name: "api", namespace: "openfaas-fn" });
        assert.deepEqual(doc.spec.template, { metadata: { name: "api", namespace: "openfaas-fn" }, type: "Opaque" });
        assert.equal(unseal(KEY, "openfaas-fn/api", doc.spec.encryptedData.token).toString(), "s3cr3t");
        assert.equal(unseal(KEY, "openfaas-fn/api", doc.spec.encryptedData.user).toString(), "bob");
        assert.throws(() => unseal(KEY, "openfaas/api", doc.spec.encryptedData.token), "another namespace cannot decrypt");
        assert.throws(() => unseal(KEY, "openfaas-fn/other", doc.spec.encryptedData.token), "another name cannot decrypt");
        assert.throws(() => unseal(KEY, "openfaas-fn", doc.spec.encryptedData.token), "a namespace-wide label cannot decrypt");
        assert.doesNotMatch(r.stdout, /s3cr3t/);
    });

    it("namespace-wide: any name in the namespace", () => {
        const doc = sealedDoc(cli(["--name", "api", "--namespace", "openfaas-fn", "--scope", "namespace-wide", "--from-literal", "k=v1"]).stdout);
        assert.deepEqual(doc.metadata.annotations, { "sealedsecrets.bitnami.com/namespace-wide": "true" });
        assert.equal(unseal(KEY, "openfaas-fn", doc.spec.encryptedData.k).toString(), "v1");
        assert.throws(() => unseal(KEY, "openfaas", doc.spec.encryptedData.k));
    });

    it("cluster-wide: an empty label, namespace optional", () => {
        const doc = sealedDoc(cli(["--name", "api", "--scope", "cluster-wide", "--from-literal", "k=v2"]).stdout);
        assert.deepEqual(doc.metadata, { name: "api", annotations: { "sealedsecrets.bitnami.com/cluster-wide": "true" } });
        assert.equal(unseal(KEY, "", doc.spec.encryptedData.k).toString(), "v2");
    });

    it("a Secret manifest on stdin keeps its type, labels and binary data", () => {
        const manifest = yaml.dump({
            apiVersion: "v1", kind: "Secret",
            metadata: { name: "basic-auth", namespace: "openfaas", labels: { team: "a" } },
            type: "kubernetes.io/basic-auth",
            data: { password: Buffer.from([0, 1, 2, 255]).toString("base64") },
            stringData: { username: "admin" },
        });
        const r = cli([], manifest);
        assert.equal(r.code, 0, r.stderr);
        const doc = sealedDoc(r.stdout);
        assert.deepEqual(doc.spec.template, { metadata: { name: "basic-auth", namespace: "openfaas", labels: { team: "a" } }, type: "kubernetes.io/basic-auth" });
        assert.deepEqual([...unseal(KEY, "openfaas/basic-auth", doc.spec.encryptedData.password)], [0, 1, 2, 255]);
        assert.equal(unseal(KEY, "openfaas/basic-auth", doc.spec.encryptedData.username).toString(), "admin");
    });

    it("a JSON manifest from --secret-file, written to --out, and --from-file values", () => {
        fs.writeFileSync(path.join(dir, "s.json"), JSON.stringify({ kind: "Secret", metadata: { name: "db", namespace: "openfaas-fn" }, stringData: { url: "postgres://x" } }));
        fs.writeFileSync(path.join(dir, "cert-file"), "-----BEGIN X-----");
        const r = cli(["--secret-file", "s.json", "--from-file", "ca=cert-file", "--out", "db.yaml"]);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, "");
        const doc = yaml.load(fs.readFileSync(path.join(dir, "db.yaml"), "utf8")) as any;
        assert.equal(unseal(KEY, "openfaas-fn/db", doc.spec.encryptedData.url).toString(), "postgres://x");
        assert.equal(unseal(KEY, "openfaas-fn/db", doc.spec.encryptedData.ca).toString(), "-----BEGIN X-----");
        assert.doesNotMatch(fs.readFileSync(path.join(dir, "db.yaml"), "utf8"), /postgres/);
    });

    it("--merge-into adds and replaces keys and keeps the rest", () => {
        const file = path.join(dir, "merge.yaml");
        assert.equal(cli(["--name", "m", "--namespace", "openfaas-fn", "--from-literal", "a=1", "--from-literal", "b=2", "--out", file]).code, 0);
        const before = yaml.load(fs.readFileSync(file, "utf8")) as any;
        const r = cli(["--from-literal", "b=22", "--from-literal", "c=3", "--merge-into", file]);
        assert.equal(r.code, 0, r.stderr);
        const after = yaml.load(fs.readFileSync(file, "utf8")) as any;
        assert.equal(after.spec.encryptedData.a, before.spec.encryptedData.a);
        assert.equal(unseal(KEY, "openfaas-fn/m", after.spec.encryptedData.b).toString(), "22");
        assert.equal(unseal(KEY, "openfaas-fn/m", after.spec.encryptedData.c).toString(), "3");
        const clash = cli(["--name", "other", "--namespace", "openfaas-fn", "--from-literal", "x=1", "--merge-into", file]);
        assert.equal(clash.code, 2);
        assert.match(clash.stderr, /--merge-into .*merge\.yaml: cannot merge: the file is sealed for openfaas-fn\/m \(strict\)/);
    });

    it("--raw seals one value from stdin", () => {
        const r = cli(["--raw", "--name", "api", "--namespace", "openfaas-fn"], "raw-value");
        assert.equal(r.code, 0, r.stderr);
        assert.equal(unseal(KEY, "openfaas-fn/api", r.stdout.trim()).toString(), "raw-value");
    });
});

describe("sealing: refusals name the problem and exit 2", () => {
    const cases: [string, string[], RegExp, string?][] = [
        ["non-RSA certificate", ["--cert", "ec.pem", "--name", "a", "--namespace", "n", "--from-literal", "k=v"], /--cert ec\.pem cannot be used: its key is ec, but sealed-secrets needs RSA/],
        ["not a certificate", ["--cert", "key.pem", "--name", "a", "--namespace", "n", "--from-literal", "k=v"], /--cert key\.pem is not a PEM certificate/],
        ["missing certificate", ["--cert", "nope.pem", "--name", "a", "--namespace", "n", "--from-literal", "k=v"], /cannot read certificate nope\.pem: ENOENT/],
        ["name not DNS-1123", ["--name", "My_Secret", "--namespace", "n", "--from-literal", "k=v"], /name "My_Secret" is not a DNS-1123 subdomain/],
        ["namespace not DNS-1123", ["--name", "a", "--namespace", "Team.A", "--from-literal", "k=v"], /namespace "Team\.A" is not a DNS-1123 label/],
        ["key outside Secret's charset", ["--name", "a", "--namespace", "n", "--from-literal", "bad key=v"], /key "bad key" is not a valid Secret key/],
        ["unknown scope", ["--name", "a", "--namespace", "n", "--scope", "global", "--from-literal", "k=v"], /--scope "global" is not one of strict, namespace-wide, cluster-wide/],
        ["strict without namespace", ["--name", "a", "--from-literal", "k=v"], /--namespace is required with scope strict/],
        ["literal without =", ["--name", "a", "--namespace", "n", "--from-literal", "novalue"], /--from-literal expects key=value/],
        ["nothing to seal", ["--name", "a", "--namespace", "n"], /nothing to seal/],
        ["stdin not a Secret", [], /stdin is not a Secret manifest/, "kind: ConfigMap\n"],
        ["manifest contradicts a flag", ["--name", "b"], /--name "b" contradicts the manifest's metadata\.name "a"/, "kind: Secret\nmetadata: {name: a, namespace: n}\nstringData: {k: v}\n"],
        ["unknown flag", ["--nmae", "a"], /Unknown option '--nmae'/],
    ];
    for (const [label, args, message, stdin] of cases) {
        it(label, () => {
            const r = cli(args, stdin);
            assert.equal(r.code, 2, `exit code; stderr: ${r.stderr}`);
            assert.match(r.stderr, /^seal: /);
            assert.match(r.stderr, message);
            assert.equal(r.stdout, "");
        });
    }

    it("expired certificate (clock moved past its end)", () => {
        const future = new Date(Date.now() + 60 * 24 * 3600 * 1000);
        assert.throws(
            () => runSeal(["--cert", CERT, "--name", "a", "--namespace", "n", "--from-literal", "k=v"], { readStdin: () => undefined, write: () => {}, now: future }),
            (e: unknown) => e instanceof SealError && e.exitCode === 2 && /cannot be used: it expired on/.test(e.message),
        );
    });

    it("never leaves plaintext on disk", () => {
        const before = new Set(fs.readdirSync(dir));
        cli(["--name", "p", "--namespace", "n", "--from-literal", "k=plain-text-value", "--out", "p.yaml"]);
        const added = fs.readdirSync(dir).filter((f) => !before.has(f));
        assert.deepEqual(added, ["p.yaml"]);
        assert.doesNotMatch(fs.readFileSync(path.join(dir, "p.yaml"), "utf8"), /plain-text-value/);
    });
});

describe("sealing-key import", () => {
    /**
     * TEST DOUBLE for the Pulumi CLI, which cannot be installed on these machines: a `pulumi` script
     * on PATH that records its arguments and standard input, so the test sees exactly what import
     * hands to `pulumi config set`.
     */
    function fakePulumi(): { bin: string; log: string } {
        const bin = fs.mkdtempSync(path.join(os.tmpdir(), "ofg-fake-pulumi-"));
        const log = path.join(bin, "calls.log");
        fs.writeFileSync(path.join(bin, "pulumi"), `#!/bin/sh\nprintf 'ARGS %s\\n' "$*" >> "${log}"\ncat >> "${log}"\nprintf '\\nEND\\n' >> "${log}"\n`, { mode: 0o755 });
        return { bin, log };
    }
    const keyCli = (args: string[], pathPrefix?: string) =>
        spawnSync(process.execPath, ["--import", pathToFileURL(path.join(ROOT, "node_modules", "tsx", "dist", "loader.mjs")).href, path.join(ROOT, "sealing", "key-cli.ts"), ...args], {
            cwd: dir,
            encoding: "utf8",
            env: { ...process.env, PATH: pathPrefix ? `${pathPrefix}:${process.env.PATH}` : process.env.PATH },
        });

    it("sets the key as a secret and the certificate through stdin, never as arguments", () => {
        fs.writeFileSync(path.join(dir, "bundle.pem"), KEY + fs.readFileSync(CERT, "utf8"));
        const { bin, log } = fakePulumi();
        const r = keyCli(["import", "--in", "bundle.pem", "--stack", "prod"], bin);
        assert.equal(r.status, 0, r.stderr);
        const calls = fs.readFileSync(log, "utf8");
        assert.match(calls, /^ARGS config set --stack prod --secret sealingKeyPem\n-----BEGIN PRIVATE KEY-----/m);
        assert.match(calls, /^ARGS config set --stack prod sealingCertPem\n-----BEGIN CERTIFICATE-----/m);
        for (const line of calls.split("\n").filter((l) => l.startsWith("ARGS"))) assert.doesNotMatch(line, /BEGIN/);
    });

    it("refuses a bundle without a certificate, a mismatched pair, a missing file and an unknown command", () => {
        fs.writeFileSync(path.join(dir, "keyonly.pem"), KEY);
        const r1 = keyCli(["import", "--in", "keyonly.pem"]);
        assert.equal(r1.status, 2);
        assert.match(r1.stderr, /--in keyonly\.pem must hold a PEM private key and its certificate/);
        openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other.key", "-out", "other.pem", "-days", "30", "-subj", "/CN=x"]);
        fs.writeFileSync(path.join(dir, "mismatch.pem"), KEY + fs.readFileSync(path.join(dir, "other.pem"), "utf8"));
        const r2 = keyCli(["import", "--in", "mismatch.pem"]);
        assert.equal(r2.status, 2);
        assert.match(r2.stderr, /the certificate does not belong to the private key/);
        const r3 = keyCli(["import", "--in", "missing.pem"]);
        assert.equal(r3.status, 2);
        assert.match(r3.stderr, /cannot read --in missing\.pem: ENOENT/);
        const r4 = keyCli(["backup"]);
        assert.equal(r4.status, 2);
        assert.match(r4.stderr, /expected export or import, got "backup"/);
    });
});

describe("compatibility with the controller's own crypto package", () => {
    // tools/sealcompat decrypts with github.com/bitnami-labs/sealed-secrets/pkg/crypto.HybridDecrypt
    // at v0.36.6, the controller version of the pinned chart, built through the Go module proxy.
    const available = haveGo() || fs.existsSync(path.join(toolCacheDir("sealcompat", "v0.36.6"), "sealcompat"));
    if (!available) console.log("# SKIP controller-crypto compatibility: no `go` on PATH and no cached tools/sealcompat");

    it("the controller decrypts what npm run seal produced, for every scope, and only under its label", { skip: !available && "no Go toolchain" }, () => {
        const { sealcompat } = ensureGoTools("sealcompat", "v0.36.6", { sealcompat: "." });
        const keyFile = path.join(dir, "key.pem");
        const decrypt = (label: string, b64: string) => spawnSync(sealcompat!, [keyFile, label], { input: b64, encoding: "utf8" });
        const scopes: [string, string][] = [["strict", "openfaas-fn/api"], ["namespace-wide", "openfaas-fn"], ["cluster-wide", ""]];
        for (const [scope, label] of scopes) {
            const doc = sealedDoc(cli(["--name", "api", "--namespace", "openfaas-fn", "--scope", scope, "--from-literal", `k=value for ${scope}`]).stdout);
            const ok = decrypt(label, doc.spec.encryptedData.k);
            assert.equal(ok.status, 0, ok.stderr);
            assert.equal(ok.stdout, `value for ${scope}`);
            const wrong = decrypt(`${label}x`, doc.spec.encryptedData.k);
            assert.notEqual(wrong.status, 0, `${scope}: a different label must not decrypt`);
        }
    });
});
