import { strict as assert } from "node:assert";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { describe, it } from "node:test";
import * as yaml from "js-yaml";
import { runSeal, SealError } from "../sealing/cli";
import { replaceFile } from "../sealing/output-file";
import { ensureSmallTool, haveGo, smallToolAvailable, toolCacheDir } from "../tools/go-tools";
import { ensureKubeseal, KUBESEAL_VERSION } from "../tools/kubeseal";
import { parseSealedSecretFile } from "../sealing/manifests";
import { ROOT } from "./helpers";
import { tempDir } from "./support/tmp";

/**
 * An independent decryption written from the controller's format (sealed-secrets' pkg/crypto,
 * unchanged since v0.7), not from sealing/crypto.ts: a 2-byte length of the RSA ciphertext, RSA-OAEP
 * SHA-256 with the scope label of a 32-byte AES key, then AES-256-GCM with a zero nonce.
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

const dir = tempDir("ofg-seal-");
function openssl(args: string[]) {
    execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
}
openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out", "cert.pem", "-days", "30", "-subj", "/CN=sealed-secret"]);
openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "ec.key", "-out", "ec.pem", "-days", "30", "-subj", "/CN=x"]);
// Weak RSA: 1024 bits seals (and must be refused), 512 is too small for OAEP SHA-256 to wrap a key at all.
for (const bits of [512, 1024]) openssl(["req", "-x509", "-newkey", `rsa:${bits}`, "-nodes", "-keyout", `rsa${bits}.key`, "-out", `rsa${bits}.pem`, "-days", "30", "-subj", "/CN=weak"]);
const KEY = fs.readFileSync(path.join(dir, "key.pem"), "utf8");
const CERT = path.join(dir, "cert.pem");
fs.writeFileSync(path.join(dir, "not-a-cert.txt"), "plain text\n");

/** Runs the real CLI in a child process, as a user would (with the test certificate unless `withCert` is false). */
function cli(args: string[], stdin?: string, withCert = true) {
    // The loader by absolute URL: the command runs in a scratch directory, as a user's would.
    const tsx = pathToFileURL(path.join(ROOT, "node_modules", "tsx", "dist", "loader.mjs")).href;
    const r = spawnSync(process.execPath, ["--import", tsx, path.join(ROOT, "sealing", "cli.ts"), ...(withCert ? ["--cert", CERT] : []), ...args], { input: stdin ?? "", encoding: "utf8", cwd: dir });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const r2yaml = (doc: unknown) => yaml.dump(doc);

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
        assert.deepEqual(doc.spec.template.metadata.annotations, { "sealedsecrets.bitnami.com/namespace-wide": "true" }, "copied into the template, as kubeseal does");
        assert.equal(unseal(KEY, "openfaas-fn", doc.spec.encryptedData.k).toString(), "v1");
        assert.throws(() => unseal(KEY, "openfaas", doc.spec.encryptedData.k));
    });

    it("cluster-wide: an empty label, namespace optional", () => {
        const doc = sealedDoc(cli(["--name", "api", "--scope", "cluster-wide", "--from-literal", "k=v2"]).stdout);
        assert.deepEqual(doc.metadata, { name: "api", annotations: { "sealedsecrets.bitnami.com/cluster-wide": "true" } });
        assert.deepEqual(doc.spec.template.metadata, { name: "api", annotations: { "sealedsecrets.bitnami.com/cluster-wide": "true" } });
        const rendered = parseSealedSecretFile(r2yaml(doc), "secrets/dev/api.yaml");
        assert.deepEqual(rendered.problems, [], "our own render takes a cluster-wide seal without a namespace");
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

    it("--raw seals one value from stdin, without a trailing newline; --name only for strict", () => {
        const r = cli(["--raw", "--name", "api", "--namespace", "openfaas-fn"], "raw-value");
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /^[A-Za-z0-9+/]+=*$/, "only the ciphertext, no newline");
        assert.equal(unseal(KEY, "openfaas-fn/api", r.stdout).toString(), "raw-value");
        const nsWide = cli(["--raw", "--scope", "namespace-wide", "-n", "openfaas-fn"], "v");
        assert.equal(nsWide.code, 0, nsWide.stderr);
        assert.equal(unseal(KEY, "openfaas-fn", nsWide.stdout).toString(), "v");
        const clusterWide = cli(["--raw", "--scope", "cluster-wide"], "w");
        assert.equal(clusterWide.code, 0, clusterWide.stderr);
        assert.equal(unseal(KEY, "", clusterWide.stdout).toString(), "w");
        fs.writeFileSync(path.join(dir, "raw-value.txt"), "from a file");
        const fromFile = cli(["--raw", "--name", "api", "-n", "openfaas-fn", "--from-file", "ignored-key=raw-value.txt"]);
        assert.equal(unseal(KEY, "openfaas-fn/api", fromFile.stdout).toString(), "from a file");
        assert.match(cli(["--raw", "-n", "openfaas-fn"], "v").stderr, /--name is required with scope strict/);
        assert.match(cli(["--raw", "--scope", "namespace-wide"], "v").stderr, /--namespace is required with scope namespace-wide/);
    });
});

describe("sealing: kubeseal's flags and input", () => {
    const secretJson = (metadata: Record<string, unknown>, extra: Record<string, unknown> = {}) => JSON.stringify({ apiVersion: "v1", kind: "Secret", metadata, stringData: { k: "v" }, ...extra });

    it("scope annotations on the input Secret select the scope and reach spec.template; immutable is kept; last-applied copies are not", () => {
        for (const [annotation, scope, label] of [["sealedsecrets.bitnami.com/namespace-wide", "namespace-wide", "team"], ["sealedsecrets.bitnami.com/cluster-wide", "cluster-wide", ""]] as const) {
            const input = secretJson(
                { name: "s", namespace: "team", annotations: { [annotation]: "true", owner: "payments", "kubectl.kubernetes.io/last-applied-configuration": '{"stringData":{"k":"v"}}' } },
                { immutable: true },
            );
            const r = cli([], input);
            assert.equal(r.code, 0, r.stderr);
            const doc = sealedDoc(r.stdout);
            assert.deepEqual(doc.metadata.annotations, { [annotation]: "true" }, scope);
            assert.deepEqual(doc.spec.template.metadata.annotations, { [annotation]: "true", owner: "payments" }, scope);
            assert.equal(doc.spec.template.immutable, true);
            assert.equal(unseal(KEY, label, doc.spec.encryptedData.k).toString(), "v", `${scope} label`);
            assert.doesNotMatch(r.stdout, /last-applied/);
        }
        const overridden = sealedDoc(cli(["--scope", "strict"], secretJson({ name: "s", namespace: "team", annotations: { "sealedsecrets.bitnami.com/cluster-wide": "true" } })).stdout);
        assert.equal(overridden.metadata.annotations, undefined, "--scope wins over the annotation, as in kubeseal");
        assert.equal(unseal(KEY, "team/s", overridden.spec.encryptedData.k).toString(), "v");
    });

    it("output: JSON on stdout by default, -o yaml, and -w/--out files take their format from the extension", () => {
        const args = ["--name", "o", "-n", "openfaas-fn", "--from-literal", "k=v"];
        assert.match(cli(args).stdout, /^\{\n  "apiVersion": "bitnami\.com\/v1alpha1",\n/);
        assert.match(cli([...args, "-o", "yaml"]).stdout, /^apiVersion: bitnami\.com\/v1alpha1\n/);
        assert.equal(cli([...args, "-w", "o.yaml"]).stdout, "");
        assert.match(fs.readFileSync(path.join(dir, "o.yaml"), "utf8"), /^apiVersion: /);
        cli([...args, "--sealed-secret-file", "o.json", "-o", "yaml"]);
        assert.match(fs.readFileSync(path.join(dir, "o.json"), "utf8"), /^\{/);
        cli([...args, "--out", "o.out"]);
        assert.match(fs.readFileSync(path.join(dir, "o.out"), "utf8"), /^\{/, "no extension: --format, else JSON");
        assert.match(cli([...args, "-w", "a.yaml", "--out", "b.yaml"]).stderr, /give -w\/--sealed-secret-file or --out/);
    });

    it("-f reads the Secret; --from-file without a key uses the file name; --allow-empty-data seals an empty Secret", () => {
        fs.writeFileSync(path.join(dir, "in.yaml"), "apiVersion: v1\nkind: Secret\nmetadata: {name: f, namespace: openfaas-fn}\ntype: kubernetes.io/basic-auth\ndata: {password: cGFzcw==}\n");
        fs.writeFileSync(path.join(dir, "token.txt"), "tok");
        const r = cli(["-f", "in.yaml", "--from-file", "token.txt"]);
        assert.equal(r.code, 0, r.stderr);
        const doc = sealedDoc(r.stdout);
        assert.equal(doc.spec.template.type, "kubernetes.io/basic-auth");
        assert.equal(unseal(KEY, "openfaas-fn/f", doc.spec.encryptedData.password).toString(), "pass");
        assert.equal(unseal(KEY, "openfaas-fn/f", doc.spec.encryptedData["token.txt"]).toString(), "tok");
        const empty = cli(["--allow-empty-data"], "kind: Secret\nmetadata: {name: e, namespace: n}\n");
        assert.equal(empty.code, 0, empty.stderr);
        assert.deepEqual(sealedDoc(empty.stdout).spec.encryptedData, {});
    });

    it("data: line-wrapped base64 is accepted exactly as Kubernetes decodes it (line breaks ignored, nothing else)", () => {
        // Go's base64 decoder, which the apiserver decodes Secret data with, skips \r and \n and nothing else.
        const long = crypto.randomBytes(200);
        const wrapped = long.toString("base64").replace(/.{76}/g, "$&\n");
        const input = `kind: Secret\nmetadata: {name: w, namespace: openfaas-fn}\ndata:\n  block: |\n${wrapped.split("\n").map((l) => `    ${l}`).join("\n")}\n  crlf: "aGVs\\r\\nbG8=\\n"\n`;
        const r = cli([], input);
        assert.equal(r.code, 0, r.stderr);
        const doc = sealedDoc(r.stdout);
        assert.deepEqual(unseal(KEY, "openfaas-fn/w", doc.spec.encryptedData.block), long);
        assert.equal(unseal(KEY, "openfaas-fn/w", doc.spec.encryptedData.crlf).toString(), "hello");
        // A folded scalar joins lines with spaces, which Kubernetes refuses too.
        const folded = cli([], "kind: Secret\nmetadata: {name: w, namespace: n}\ndata:\n  k: aGVs\n    bG8=\n");
        assert.equal(folded.code, 2);
        assert.match(folded.stderr, /stdin data\.k: not base64/);
    });

    it("--merge-into refuses a file of several documents, naming it, and keeps a YAML file YAML", () => {
        const two = path.join(dir, "two.yaml");
        fs.writeFileSync(two, cli(["--name", "m", "-n", "n", "--from-literal", "a=1", "-o", "yaml"]).stdout + "---\n" + cli(["--name", "m2", "-n", "n", "--from-literal", "a=1", "-o", "yaml"]).stdout);
        const r = cli(["--from-literal", "b=2", "--merge-into", two]);
        assert.equal(r.code, 2);
        assert.match(r.stderr, new RegExp(`--merge-into ${two.replace(/[.]/g, "\\.")} holds 2 documents; give one SealedSecret per run`));
        const one = path.join(dir, "one.yaml");
        cli(["--name", "m", "-n", "n", "--from-literal", "a=1", "-w", one]);
        assert.equal(cli(["--from-literal", "b=2", "--merge-into", one]).code, 0);
        assert.match(fs.readFileSync(one, "utf8"), /^apiVersion: /);
        assert.deepEqual(Object.keys((yaml.load(fs.readFileSync(one, "utf8")) as any).spec.encryptedData), ["a", "b"]);
    });

    it("--recovery-unseal opens a sealed file with the private key (PEM or a key Secret backup), and only with the right key", () => {
        const file = path.join(dir, "rec.yaml");
        cli(["--name", "rec", "-n", "openfaas-fn", "--from-literal", "token=s3cr3t", "--scope", "namespace-wide", "-w", file]);
        const r = cli(["--recovery-unseal", "--recovery-private-key", "key.pem", "-f", file]);
        assert.equal(r.code, 0, r.stderr);
        const secret = JSON.parse(r.stdout);
        assert.equal(secret.kind, "Secret");
        assert.equal(Buffer.from(secret.data.token, "base64").toString(), "s3cr3t");
        const backup = yaml.dump({ apiVersion: "v1", kind: "List", items: [{ apiVersion: "v1", kind: "Secret", data: { "tls.key": Buffer.from(KEY).toString("base64") } }] });
        fs.writeFileSync(path.join(dir, "backup.yaml"), backup);
        assert.equal(JSON.parse(cli(["--recovery-unseal", "--recovery-private-key", "ec.key,backup.yaml"], fs.readFileSync(file, "utf8")).stdout).data.token, secret.data.token);
        const wrong = cli(["--recovery-unseal", "--recovery-private-key", "ec.key", "-f", file]);
        assert.equal(wrong.code, 2);
        assert.match(wrong.stderr, /spec\.encryptedData\.token does not decrypt with the given key\(s\) as namespace-wide openfaas-fn\/rec/);
    });

    it("--recovery-unseal -w writes the plaintext Secret mode 0600, and never through a symlink", () => {
        const file = path.join(dir, "rec-w.yaml");
        cli(["--name", "rec", "-n", "openfaas-fn", "--from-literal", "token=s3cr3t", "-w", file]);
        const out = path.join(dir, "plain-w.yaml");
        fs.writeFileSync(out, "an older file, world-readable\n", { mode: 0o644 });
        const r = cli(["--recovery-unseal", "--recovery-private-key", "key.pem", "-f", file, "-w", out]);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(fs.statSync(out).mode & 0o777, 0o600, "the replaced file is private too");
        assert.equal(Buffer.from((yaml.load(fs.readFileSync(out, "utf8")) as any).data.token, "base64").toString(), "s3cr3t");
        const victim = path.join(dir, "victim.txt");
        fs.writeFileSync(victim, "untouched\n", { mode: 0o644 });
        const link = path.join(dir, "link-w.yaml");
        fs.symlinkSync(victim, link);
        const refused = cli(["--recovery-unseal", "--recovery-private-key", "key.pem", "-f", file, "-w", link]);
        assert.equal(refused.code, 2);
        assert.match(refused.stderr, /output file .*link-w\.yaml is a symbolic link, not a regular file; remove it or write elsewhere/);
        assert.equal(fs.readFileSync(victim, "utf8"), "untouched\n");
        assert.ok(fs.lstatSync(link).isSymbolicLink());
        assert.deepEqual(fs.readdirSync(dir).filter((f) => f.includes(".tmp-")), [], "no temporary file left behind");
    });

    it("replaceFile (every output file, sealing-key export's key too): the given mode, never through a link, a directory or a dangling link", () => {
        const sub = fs.mkdtempSync(path.join(dir, "replace-"));
        const file = path.join(sub, "key.pem");
        fs.writeFileSync(file, "old\n", { mode: 0o644 });
        replaceFile(file, "new\n", 0o600);
        assert.equal(fs.readFileSync(file, "utf8"), "new\n");
        assert.equal(fs.statSync(file).mode & 0o777, 0o600);
        const target = path.join(sub, "target");
        fs.symlinkSync(target, path.join(sub, "link"));
        fs.mkdirSync(path.join(sub, "dir"));
        for (const [name, label] of [["link", "a symbolic link"], ["dir", "a directory"]] as const) {
            assert.throws(() => replaceFile(path.join(sub, name), "secret\n", 0o600), new RegExp(`output file .*${name} is ${label}, not a regular file`));
        }
        assert.equal(fs.existsSync(target), false, "nothing written through the dangling link");
        assert.deepEqual(fs.readdirSync(sub).sort(), ["dir", "key.pem", "link"], "no temporary file left behind");
    });

    it("the default certificate is the stack's, secrets/<stack>/pub-cert.pem; without --stack or --cert it asks", () => {
        fs.mkdirSync(path.join(dir, "secrets", "prod"), { recursive: true });
        fs.copyFileSync(CERT, path.join(dir, "secrets", "prod", "pub-cert.pem"));
        const r = cli(["--stack", "prod", "--name", "d", "-n", "openfaas-fn", "--from-literal", "k=v"], undefined, false);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(unseal(KEY, "openfaas-fn/d", sealedDoc(r.stdout).spec.encryptedData.k).toString(), "v");
        const none = cli(["--name", "d", "-n", "openfaas-fn", "--from-literal", "k=v"], undefined, false);
        assert.equal(none.code, 2);
        assert.match(none.stderr, /which stack's key\? give --stack <name> \(seals with secrets\/<name>\/pub-cert\.pem\) or --cert <file>/);
        assert.match(cli(["--stack", "staging", "--name", "d", "-n", "x", "--from-literal", "k=v"], undefined, false).stderr, /cannot read certificate secrets\/staging\/pub-cert\.pem: ENOENT/);
    });

    it("stdin that arrives slowly, as from a pipe whose writer pauses, is read whole", { timeout: 30_000 }, async () => {
        const tsx = pathToFileURL(path.join(ROOT, "node_modules", "tsx", "dist", "loader.mjs")).href;
        const child = spawn(process.execPath, ["--import", tsx, path.join(ROOT, "sealing", "cli.ts"), "--cert", CERT], { cwd: dir, stdio: ["pipe", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        child.stdin.on("error", () => {}); // a child that exits early closes the pipe; its exit code tells
        const closed = new Promise((r) => child.on("close", r));
        const secret = `kind: Secret\nmetadata: {name: slow, namespace: openfaas-fn}\nstringData:\n  big: "${"b".repeat(200_000)}"\n`;
        child.stdin.write(secret.slice(0, 100));
        // The reader finds the pipe empty (EAGAIN on a non-blocking pipe) before the rest comes.
        await new Promise((r) => setTimeout(r, 1500));
        child.stdin.end(secret.slice(100));
        const code = await closed;
        assert.equal(code, 0, stderr);
        assert.equal(unseal(KEY, "openfaas-fn/slow", sealedDoc(stdout).spec.encryptedData.big).toString(), "b".repeat(200_000));
    });

    it("npm run -s seal: stdout holds exactly the output", () => {
        const npm = (args: string[], input: string) => spawnSync("npm", ["run", "-s", "seal", "--", "--cert", CERT, ...args], { cwd: ROOT, input, encoding: "utf8" });
        const raw = npm(["--raw", "--name", "api", "-n", "openfaas-fn"], "exact");
        assert.equal(raw.status, 0, raw.stderr);
        assert.match(raw.stdout, /^[A-Za-z0-9+/]+={0,2}$/, "the ciphertext and nothing else: no banner, no newline");
        assert.equal(unseal(KEY, "openfaas-fn/api", raw.stdout).toString(), "exact");
        const doc = npm(["--name", "api", "-n", "openfaas-fn", "--from-literal", "k=v"], "");
        assert.equal(doc.stdout, JSON.stringify(JSON.parse(doc.stdout), null, 2) + "\n", "one JSON document and its newline");
    });
});

describe("sealing: refusals name the problem and exit 2", () => {
    const cases: [string, string[], RegExp, string?][] = [
        ["non-RSA certificate", ["--cert", "ec.pem", "--name", "a", "--namespace", "n", "--from-literal", "k=v"], /--cert ec\.pem cannot be used: expected an RSA key of at least 2048 bits \(sealed-secrets uses RSA-OAEP\), not ec/],
        ["RSA-1024 certificate", ["--cert", "rsa1024.pem", "--name", "a", "--namespace", "n", "--from-literal", "k=v"], /--cert rsa1024\.pem cannot be used: expected an RSA key of at least 2048 bits \(sealed-secrets uses RSA-OAEP\), not rsa of 1024 bits/],
        ["RSA-512 certificate", ["--cert", "rsa512.pem", "--name", "a", "--namespace", "n", "--from-literal", "k=v"], /--cert rsa512\.pem cannot be used: expected an RSA key of at least 2048 bits \(sealed-secrets uses RSA-OAEP\), not rsa of 512 bits/],
        ["RSA-512 certificate, --raw", ["--cert", "rsa512.pem", "--raw", "--name", "a", "--namespace", "n"], /--cert rsa512\.pem cannot be used: expected an RSA key of at least 2048 bits/, "v"],
        ["not a certificate", ["--cert", "not-a-cert.txt", "--name", "a", "--namespace", "n", "--from-literal", "k=v"], /--cert not-a-cert\.txt is not a PEM certificate; write the stack's certificate with: pulumi stack output sealingCertPem > secrets\/<stack>\/pub-cert\.pem/],
        ["a private key as the certificate", ["--cert", "key.pem", "--name", "a", "--namespace", "n", "--from-literal", "k=v"], /--cert key\.pem holds a private key, not a certificate: leave that file as it is.*pulumi stack output sealingCertPem > secrets\/<stack>\/pub-cert\.pem/],
        ["missing certificate", ["--cert", "nope.pem", "--name", "a", "--namespace", "n", "--from-literal", "k=v"], /cannot read certificate nope\.pem: ENOENT/],
        ["name not DNS-1123", ["--name", "My_Secret", "--namespace", "n", "--from-literal", "k=v"], /name "My_Secret" is not a DNS-1123 subdomain/],
        ["namespace not DNS-1123", ["--name", "a", "--namespace", "Team.A", "--from-literal", "k=v"], /namespace "Team\.A" is not a DNS-1123 label/],
        ["key outside Secret's charset", ["--name", "a", "--namespace", "n", "--from-literal", "bad key=v"], /key "bad key" is not a valid Secret key/],
        ["unknown scope", ["--name", "a", "--namespace", "n", "--scope", "global", "--from-literal", "k=v"], /--scope "global" is not one of strict, namespace-wide, cluster-wide/],
        ["strict without namespace", ["--name", "a", "--from-literal", "k=v"], /--namespace is required with scope strict/],
        ["literal without =", ["--name", "a", "--namespace", "n", "--from-literal", "novalue"], /--from-literal expects key=value/],
        ["nothing to seal", ["--name", "a", "--namespace", "n"], /nothing to seal/],
        ["empty Secret without --allow-empty-data", [], /the Secret has no data, assuming this is an error; to seal it empty, add --allow-empty-data/, "kind: Secret\nmetadata: {name: a, namespace: n}\n"],
        ["data that is not base64", [], /stdin data\.password: not base64; put plain text under stringData instead/, "kind: Secret\nmetadata: {name: a, namespace: n}\ndata: {password: hunter2!}\n"],
        ["stringData number", [], /stdin stringData\.port: expected a string, got a number; quote the value/, "kind: Secret\nmetadata: {name: a, namespace: n}\nstringData: {port: 5432}\n"],
        ["stringData null", [], /stdin stringData\.empty: expected a string, got null/, "kind: Secret\nmetadata: {name: a, namespace: n}\nstringData: {empty: null}\n"],
        ["metadata.name a number", [], /stdin metadata\.name: expected a string, not a number; quote it/, "kind: Secret\nmetadata: {name: 123, namespace: n}\nstringData: {k: v}\n"],
        ["a label that is a number", [], /stdin metadata\.labels\.team: expected a string; quote numbers and booleans/, "kind: Secret\nmetadata: {name: a, namespace: n, labels: {team: 5}}\nstringData: {k: v}\n"],
        ["a label that is a map", [], /stdin metadata\.labels\.team: expected a string/, "kind: Secret\nmetadata: {name: a, namespace: n, labels: {team: {a: b}}}\nstringData: {k: v}\n"],
        ["a label key Kubernetes refuses", [], /stdin metadata\.labels: key "bad key" is not a qualified name/, "kind: Secret\nmetadata: {name: a, namespace: n, labels: {bad key: x}}\nstringData: {k: v}\n"],
        ["a label value Kubernetes refuses", [], /stdin metadata\.labels\.team: value "a b" is not a label value/, "kind: Secret\nmetadata: {name: a, namespace: n, labels: {team: a b}}\nstringData: {k: v}\n"],
        ["annotations that are a list", [], /stdin metadata\.annotations: expected a map of strings to strings/, "kind: Secret\nmetadata: {name: a, namespace: n, annotations: [x]}\nstringData: {k: v}\n"],
        ["an annotation that is a number", [], /stdin metadata\.annotations\.n: expected a string/, "kind: Secret\nmetadata: {name: a, namespace: n, annotations: {n: 1}}\nstringData: {k: v}\n"],
        ["annotations over 256 KiB", [], /stdin metadata\.annotations: 270000 bytes in all, more than the 262144 Kubernetes allows/, `kind: Secret\nmetadata: {name: a, namespace: n, annotations: {a: "${"x".repeat(135000 - 1)}", b: "${"y".repeat(135000 - 1)}"}}\nstringData: {k: v}\n`],
        ["an alias bomb in the annotations", [], /stdin expands past 4194304 characters through YAML aliases/, `kind: Secret\nmetadata:\n  name: a\n  namespace: n\n  annotations:\n    a0: &s "${"x".repeat(100_000)}"\n${Array.from({ length: 100 }, (_, i) => `    a${i + 1}: *s\n`).join("")}stringData: {k: v}\n`],
        ["a nested alias bomb", [], /stdin expands past 4194304 characters through YAML aliases/, `a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n${Array.from({ length: 8 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(9).fill(`*${String.fromCharCode(97 + i)}`).join(",")}]`).join("\n")}\nkind: Secret\n`],
        ["a syntax error near a secret is reported by position only", [], /stdin is not YAML or JSON at line 3, column \d+: unidentified alias \(a value starting with \* & ! or containing ": " needs quotes\)/, "kind: Secret\nmetadata: {name: a, namespace: n}\nstringData: {pw: *hunter2}\n"],
        ["a Secret over 1 MiB", [], /the Secret holds 1048577 bytes of data; Kubernetes refuses a Secret over 1048576 bytes/, `kind: Secret\nmetadata: {name: a, namespace: n}\nstringData: {k: "${"z".repeat(1024 * 1024 + 1)}"}\n`],
        ["two Secrets in one input", [], /stdin holds 2 documents; give one Secret per run/, "kind: Secret\nmetadata: {name: a, namespace: n}\nstringData: {k: v}\n---\nkind: Secret\nmetadata: {name: b, namespace: n}\nstringData: {k: v}\n"],
        ["unknown output format", ["-o", "xml", "--name", "a", "-n", "n", "--from-literal", "k=v"], /--format "xml" is not json or yaml/],
        ["--re-encrypt needs the controller", ["--re-encrypt"], /--re-encrypt asks the controller .*--recovery-unseal/],
        ["--rotate needs the controller", ["--rotate"], /--rotate is kubeseal's old name of --re-encrypt/],
        ["--validate needs the controller", ["--validate"], /--validate asks the controller to decrypt; offline, check a file with --recovery-unseal/],
        ["--controller-name without --fetch-cert", ["--controller-name", "x", "--from-literal", "k=v"], /--controller-name only matters with --fetch-cert/],
        ["a certificate URL", ["--cert", "https://example.com/v1/cert.pem", "--name", "a", "-n", "n", "--from-literal", "k=v"], /reads certificates from files only; download it first/],
        ["--recovery-unseal without a key", ["--recovery-unseal"], /--recovery-unseal needs --recovery-private-key/],
        ["stdin not a Secret", [], /stdin is not a Secret manifest/, "kind: ConfigMap\n"],
        ["manifest contradicts a flag", ["--name", "b"], /--name "b" contradicts the manifest's metadata\.name "a"/, "kind: Secret\nmetadata: {name: a, namespace: n}\nstringData: {k: v}\n"],
        ["unknown flag", ["--nmae", "a"], /Unknown option '--nmae'/],
    ];
    for (const [label, args, message, stdin] of cases) {
        it(label, () => {
            const r = label === "a certificate URL" ? cli(args, stdin, false) : cli(args, stdin);
            assert.equal(r.code, 2, `exit code; stderr: ${r.stderr}`);
            assert.match(r.stderr, /^seal: /);
            assert.match(r.stderr, message);
            assert.equal(r.stdout, "");
        });
    }

    it("no refusal echoes a value: a mistyped value or a literal without its key may be the secret itself", () => {
        const inputs: [string, string[], string | undefined][] = [
            ["73519246", [], "kind: Secret\nmetadata: {name: a, namespace: n}\nstringData: {pin: 73519246}\n"],
            ["hunter2-nested", [], "kind: Secret\nmetadata: {name: a, namespace: n}\nstringData: {pw: {v: hunter2-nested}}\n"],
            ["correcthorse", [], "kind: Secret\nmetadata: {name: a, namespace: n}\ndata: {pw: [correcthorse]}\n"],
            ["s3cr3t-without-key", ["--name", "a", "-n", "n", "--from-literal", "s3cr3t-without-key"], undefined],
        ];
        for (const [value, args, stdin] of inputs) {
            const r = cli(args, stdin);
            assert.equal(r.code, 2, r.stderr);
            assert.ok(!r.stderr.includes(value), `the error echoes ${value}: ${r.stderr}`);
        }
    });

    it("a private key where the certificate belongs: never advice that overwrites it; the stack's committed file is refused too", () => {
        const keyAsCert = cli(["--stack", "prod", "--cert", "key.pem", "--name", "a", "-n", "n", "--from-literal", "k=v"], undefined, false);
        assert.equal(keyAsCert.code, 2);
        assert.match(keyAsCert.stderr, /pulumi stack output sealingCertPem > secrets\/prod\/pub-cert\.pem, then seal with --stack prod/);
        assert.ok(!keyAsCert.stderr.includes("> key.pem"), keyAsCert.stderr);
        // sealing-key export's bundle (key and certificate) copied where the public certificate is committed.
        fs.mkdirSync(path.join(dir, "secrets", "leak"), { recursive: true });
        fs.writeFileSync(path.join(dir, "secrets", "leak", "pub-cert.pem"), KEY + fs.readFileSync(CERT, "utf8"));
        const bundle = cli(["--stack", "leak", "--name", "a", "-n", "n", "--from-literal", "k=v"], undefined, false);
        assert.equal(bundle.code, 2);
        assert.match(bundle.stderr, /secrets\/leak\/pub-cert\.pem \(the certificate of --stack leak\) holds a private key beside the certificate/);
        assert.equal(bundle.stdout, "");
    });

    it("expired certificate (clock moved past its end)", () => {
        const future = new Date(Date.now() + 60 * 24 * 3600 * 1000);
        assert.throws(
            () => runSeal(["--cert", CERT, "--name", "a", "--namespace", "n", "--from-literal", "k=v"], { readStdin: () => undefined, write: () => {}, now: future }),
            (e: unknown) => e instanceof SealError && e.exitCode === 2 && /cannot be used: certificate expired on .*; issue a new certificate for the same key/.test(e.message),
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
        const bin = tempDir("ofg-fake-pulumi-");
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
        // The same rule as npm run seal --cert and the stack config's sealingKeyPem (model/sealing-key.ts).
        fs.writeFileSync(path.join(dir, "weak.pem"), fs.readFileSync(path.join(dir, "rsa1024.key"), "utf8") + fs.readFileSync(path.join(dir, "rsa1024.pem"), "utf8"));
        const weak = keyCli(["import", "--in", "weak.pem"]);
        assert.equal(weak.status, 2);
        assert.match(weak.stderr, /expected an RSA key of at least 2048 bits \(sealed-secrets uses RSA-OAEP\), not rsa of 1024 bits/);
        const r4 = keyCli(["backup"]);
        assert.equal(r4.status, 2);
        assert.match(r4.stderr, /expected export or import, got "backup"/);
    });
});

describe("compatibility with the controller's own crypto package", () => {
    // tools/sealcompat decrypts with github.com/bitnami-labs/sealed-secrets/pkg/crypto.HybridDecrypt
    // at v0.36.6, the controller version of the pinned chart, built through the Go module proxy.
    const available = smallToolAvailable("sealcompat");
    if (!available) console.log("# SKIP controller-crypto compatibility: no `go` on PATH and no cached tools/sealcompat");

    it("the controller decrypts what npm run seal produced, for every scope, and only under its label", { skip: !available && "no Go toolchain" }, () => {
        const sealcompat = ensureSmallTool("sealcompat");
        const keyFile = path.join(dir, "key.pem");
        const decrypt = (label: string, b64: string) => spawnSync(sealcompat, [keyFile, label], { input: b64, encoding: "utf8" });
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

describe("kubeseal v0.36.6 as a peer (built from its Go module)", () => {
    const available = haveGo() || fs.existsSync(path.join(toolCacheDir("kubeseal", KUBESEAL_VERSION), "kubeseal"));
    if (!available) console.log("# SKIP kubeseal peer: no `go` on PATH and no cached tools/kubeseal");
    // kubeseal reads a kubeconfig only for a default namespace; an empty HOME keeps the user's out of it.
    const kubeseal = (args: string[], input: string) =>
        spawnSync(ensureKubeseal((l) => console.log(`# ${l}`)), args, { input, encoding: "utf8", cwd: dir, env: { PATH: process.env.PATH, HOME: dir } });
    const cases: { scope: string; flags: string[]; annotations?: Record<string, string>; label: string }[] = [
        { scope: "strict", flags: [], label: "openfaas-fn/peer" },
        { scope: "namespace-wide", flags: ["--scope", "namespace-wide"], label: "openfaas-fn" },
        { scope: "cluster-wide", flags: ["--scope", "cluster-wide"], label: "" },
        { scope: "cluster-wide (by annotation)", flags: [], annotations: { "sealedsecrets.bitnami.com/cluster-wide": "true" }, label: "" },
        { scope: "namespace-wide (by annotation)", flags: [], annotations: { "sealedsecrets.bitnami.com/namespace-wide": "true" }, label: "openfaas-fn" },
    ];
    const secret = (annotations?: Record<string, string>) =>
        JSON.stringify({ apiVersion: "v1", kind: "Secret", metadata: { name: "peer", namespace: "openfaas-fn", ...(annotations ? { annotations } : {}) }, stringData: { token: "peer-value" } });

    for (const c of cases) {
        it(`${c.scope}: sealed here, opened by kubeseal --recovery-unseal`, { skip: !available && "no Go toolchain" }, () => {
            const ours = cli(c.flags, secret(c.annotations));
            assert.equal(ours.code, 0, ours.stderr);
            const opened = kubeseal(["--recovery-unseal", "--recovery-private-key", "key.pem"], ours.stdout);
            assert.equal(opened.status, 0, opened.stderr);
            const s = JSON.parse(opened.stdout);
            assert.equal(Buffer.from(s.data.token, "base64").toString(), "peer-value");
            assert.deepEqual(s.metadata.annotations ?? {}, c.annotations ?? sealedDoc(ours.stdout).spec.template.metadata.annotations ?? {});
        });

        it(`${c.scope}: sealed by kubeseal, accepted by our render and opened here`, { skip: !available && "no Go toolchain" }, () => {
            const theirs = kubeseal(["--cert", "cert.pem", ...c.flags], secret(c.annotations));
            assert.equal(theirs.status, 0, theirs.stderr);
            const parsed = parseSealedSecretFile(theirs.stdout, "secrets/dev/peer.json");
            assert.deepEqual(parsed.problems, []);
            const doc = JSON.parse(theirs.stdout);
            assert.equal(unseal(KEY, c.label, doc.spec.encryptedData.token).toString(), "peer-value");
            const opened = cli(["--recovery-unseal", "--recovery-private-key", "key.pem"], theirs.stdout);
            assert.equal(opened.code, 0, opened.stderr);
            assert.equal(Buffer.from(JSON.parse(opened.stdout).data.token, "base64").toString(), "peer-value");
        });
    }

    it("cluster-wide without a namespace: kubeseal's output is accepted by our render, and ours by kubeseal", { skip: !available && "no Go toolchain" }, () => {
        const input = JSON.stringify({ apiVersion: "v1", kind: "Secret", metadata: { name: "shared" }, stringData: { k: "v" } });
        const theirs = kubeseal(["--cert", "cert.pem", "--scope", "cluster-wide"], input);
        assert.equal(theirs.status, 0, theirs.stderr);
        assert.equal(JSON.parse(theirs.stdout).metadata.namespace, undefined);
        const parsed = parseSealedSecretFile(theirs.stdout, "secrets/dev/shared.json");
        assert.deepEqual(parsed.problems, []);
        assert.equal(parsed.objects[0]!.object.metadata.namespace, "openfaas-fn");
        const ours = cli(["--scope", "cluster-wide"], input);
        assert.equal(ours.code, 0, ours.stderr);
        const opened = kubeseal(["--recovery-unseal", "--recovery-private-key", "key.pem"], ours.stdout);
        assert.equal(opened.status, 0, opened.stderr);
        assert.equal(JSON.parse(opened.stdout).data.k, Buffer.from("v").toString("base64"));
    });

    it("--raw: kubeseal's value opens here and ours with kubeseal's own decryption of a one-key SealedSecret", { skip: !available && "no Go toolchain" }, () => {
        const theirs = kubeseal(["--cert", "cert.pem", "--raw", "--namespace", "openfaas-fn", "--name", "peer"], "raw peer");
        assert.equal(theirs.status, 0, theirs.stderr);
        assert.equal(unseal(KEY, "openfaas-fn/peer", theirs.stdout).toString(), "raw peer");
        const ours = cli(["--raw", "--name", "peer", "-n", "openfaas-fn"], "raw ours");
        const wrapped = JSON.stringify({ apiVersion: "bitnami.com/v1alpha1", kind: "SealedSecret", metadata: { name: "peer", namespace: "openfaas-fn" }, spec: { encryptedData: { v: ours.stdout }, template: { metadata: { name: "peer", namespace: "openfaas-fn" } } } });
        const opened = kubeseal(["--recovery-unseal", "--recovery-private-key", "key.pem"], wrapped);
        assert.equal(opened.status, 0, opened.stderr);
        assert.equal(Buffer.from(JSON.parse(opened.stdout).data.v, "base64").toString(), "raw ours");
    });
});
