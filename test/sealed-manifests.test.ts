import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import * as yaml from "js-yaml";
import { ConfigError, parseConfig, projectFiles } from "../config";
import { sealSecret } from "../sealing/sealed-secret";
import { valueOf } from "../tools/mock-engine";
import { one, ROOT, runProgram } from "./helpers";
import { tempDir } from "./support/tmp";

/** A scratch project: the real functions files plus the given files under secrets/<stack>/. */
function project(files: Record<string, string>): string {
    const dir = tempDir("ofg-proj-");
    fs.mkdirSync(path.join(dir, "functions"));
    for (const f of ["stack.yml", "invoker.yml"]) fs.copyFileSync(path.join(ROOT, "functions", f), path.join(dir, "functions", f));
    for (const [rel, text] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
        fs.writeFileSync(path.join(dir, rel), text);
    }
    return dir;
}

const certDir = tempDir("ofg-cert-");
execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "k.pem", "-out", "c.pem", "-days", "30", "-subj", "/CN=sealed-secret"], { cwd: certDir, stdio: "pipe" });
const PUBLIC = new crypto.X509Certificate(fs.readFileSync(path.join(certDir, "c.pem"))).publicKey;

function sealedYaml(name: string, namespace: string, data: Record<string, string>): string {
    return yaml.dump(sealSecret(PUBLIC, { name, namespace, scope: "strict", data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v)])) }));
}

function config(dir: string, values: Record<string, string> = {}) {
    return { stack: "test", values, secretKeys: new Set<string>(), files: projectFiles(dir) };
}

describe("committed SealedSecrets", () => {
    it("every SealedSecret under secrets/<stack>/ is applied after the controller", async () => {
        const dir = project({
            "secrets/test/api.yaml": sealedYaml("api", "openfaas-fn", { token: "t" }),
            "secrets/test/two.yaml": sealedYaml("a", "openfaas-fn", { k: "1" }) + "---\n" + sealedYaml("b", "openfaas-fn", { k: "2" }),
            "secrets/test/pub-cert.pem": fs.readFileSync(path.join(certDir, "c.pem"), "utf8"),
            "secrets/test/README.md": "not a manifest",
            "secrets/other/ignored.yaml": "not: read",
        });
        const { resources } = await runProgram(config(dir));
        const sealed = resources.filter((r) => r.type === "kubernetes:bitnami.com/v1alpha1:SealedSecret");
        assert.deepEqual(sealed.map((r) => r.name).sort(), ["sealed-secrets-openfaas-fn-a", "sealed-secrets-openfaas-fn-api", "sealed-secrets-openfaas-fn-b"]);
        assert.ok(sealed.every((r) => r.parentType === "openfaas-gitops:platform:SealedSecrets"));
        assert.match(one(resources, "kubernetes:bitnami.com/v1alpha1:SealedSecret", "sealed-secrets-openfaas-fn-api").inputs.spec.encryptedData.token, /^[A-Za-z0-9+/]+=*$/);
    });

    it("a malformed file fails naming its path; a plaintext Secret is refused", () => {
        const dir = project({
            "secrets/test/broken.yaml": "kind: SealedSecret\n  bad: [indent\n",
            "secrets/test/plain.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: x, namespace: y}\nstringData: {k: v}\n",
            "secrets/test/empty.yaml": "apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata: {name: e}\nspec: {}\n",
        });
        assert.throws(() => parseConfig(config(dir)), (e: Error) => {
            assert.ok(e instanceof ConfigError);
            assert.match(e.message, /secrets\/test\/broken\.yaml: is not YAML or JSON at line 2, column \d+/);
            assert.match(e.message, /secrets\/test\/plain\.yaml: a plaintext Secret must never be committed/);
            assert.match(e.message, /secrets\/test\/empty\.yaml: metadata\.namespace is required .*only a cluster-wide SealedSecret may leave it out/);
            assert.match(e.message, /secrets\/test\/empty\.yaml: spec\.encryptedData is missing/);
            return true;
        });
    });

    it("what kubeseal writes is accepted: a cluster-wide SealedSecret without a namespace goes to openfaas-fn; empty data (--allow-empty-data)", async () => {
        const clusterWide = yaml.dump(sealSecret(PUBLIC, { name: "shared", scope: "cluster-wide", data: { k: Buffer.from("v") } }));
        const empty = yaml.dump(sealSecret(PUBLIC, { name: "empty", namespace: "openfaas-fn", scope: "strict", data: {} }));
        const dir = project({ "secrets/test/shared.yaml": clusterWide, "secrets/test/empty.yaml": empty });
        const { resources } = await runProgram(config(dir));
        const shared = one(resources, "kubernetes:bitnami.com/v1alpha1:SealedSecret", "sealed-secrets-openfaas-fn-shared").inputs;
        assert.equal(shared.metadata.namespace, "openfaas-fn");
        assert.deepEqual(shared.metadata.annotations, { "sealedsecrets.bitnami.com/cluster-wide": "true" });
        assert.deepEqual(one(resources, "kubernetes:bitnami.com/v1alpha1:SealedSecret", "sealed-secrets-openfaas-fn-empty").inputs.spec.encryptedData, {});
    });

    it("metadata Kubernetes would refuse, alias bombs and syntax errors are problems naming the file, and show no value", () => {
        const sealed = yaml.load(sealedYaml("api", "openfaas-fn", { token: "t" })) as any;
        const withMeta = (metadata: Record<string, unknown>, template: Record<string, unknown> = {}) =>
            yaml.dump({ ...sealed, metadata: { ...sealed.metadata, ...metadata }, spec: { ...sealed.spec, template: { ...sealed.spec.template, metadata: { ...sealed.spec.template.metadata, ...template } } } });
        const bomb = `apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata:\n  name: b\n  namespace: openfaas-fn\n  annotations:\n    a0: &s "${"x".repeat(100_000)}"\n${Array.from({ length: 100 }, (_, i) => `    a${i + 1}: *s\n`).join("")}spec: {encryptedData: {}}\n`;
        const cases: [string, RegExp][] = [
            [withMeta({ name: 123 }), /metadata\.name: expected a string, not a number/],
            [withMeta({ labels: { team: 5 } }), /metadata\.labels\.team: expected a string/],
            [withMeta({}, { labels: { team: { nested: "map" } } }), /spec\.template\.metadata\.labels\.team: expected a string/],
            [withMeta({ annotations: ["x"] }), /metadata\.annotations: expected a map of strings to strings/],
            [withMeta({ namespace: "Not_A_Label" }), /metadata\.namespace "Not_A_Label" is not a DNS-1123 label/],
            [yaml.dump({ ...sealed, spec: { ...sealed.spec, encryptedData: { "bad key": sealed.spec.encryptedData.token } } }), /spec\.encryptedData: key "bad key" is not a valid Secret key/],
            [bomb, /expands past 4194304 characters through YAML aliases/],
            [withMeta({ labels: Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`bad key ${i}`, "v"])) }), /and 1995 more problems of metadata, labels and annotations/],
            ["apiVersion: v1\nkind: Secret\nstringData: {pw: !hunter2 x}\n", /is not YAML or JSON at line 3, column \d+: unknown tag \(/],
        ];
        for (const [text, expected] of cases) {
            const dir = project({ "secrets/test/x.yaml": text });
            assert.throws(() => parseConfig(config(dir)), (e: Error) => {
                assert.ok(e instanceof ConfigError, String(e));
                assert.match(e.message, /secrets\/test\/x\.yaml: /);
                assert.match(e.message, expected);
                assert.doesNotMatch(e.message, /hunter2|xxxxxxxxxx/);
                return true;
            });
        }
    });

    it("the same SealedSecret in two files is refused", () => {
        const dir = project({ "secrets/test/a.yaml": sealedYaml("api", "openfaas-fn", { k: "1" }), "secrets/test/b.yaml": sealedYaml("api", "openfaas-fn", { j: "2" }) });
        assert.throws(() => parseConfig(config(dir)), /secrets\/test\/b\.yaml: SealedSecret openfaas-fn\/api is also defined in secrets\/test\/a\.yaml/);
    });

    it("basic auth from a SealedSecret: no Pulumi-made Secret or password, the chart waits for the controller", async () => {
        const dir = project({ "secrets/test/basic-auth.yaml": sealedYaml("basic-auth", "openfaas", { "basic-auth-user": "admin", "basic-auth-password": "p" }) });
        const { resources, outputs } = await runProgram(config(dir, { basicAuthFromSealedSecret: "true" }));
        assert.equal(resources.filter((r) => r.type === "kubernetes:core/v1:Secret" && r.name === "openfaas-basic-auth").length, 0);
        assert.equal(resources.filter((r) => r.type.startsWith("random:")).length, 0);
        one(resources, "kubernetes:bitnami.com/v1alpha1:SealedSecret", "sealed-secrets-openfaas-basic-auth");
        assert.equal(await valueOf(outputs.adminPassword), undefined);
    });

    it("basic auth from a SealedSecret requires one, and no adminPassword", () => {
        const dir = project({});
        assert.throws(() => parseConfig(config(dir, { basicAuthFromSealedSecret: "true" })), /openfaas-gitops:basicAuthFromSealedSecret = "true": no SealedSecret basic-auth in namespace openfaas/);
        const both = project({ "secrets/test/basic-auth.yaml": sealedYaml("basic-auth", "openfaas", { "basic-auth-password": "p" }) });
        assert.throws(
            () => parseConfig({ ...config(both, { basicAuthFromSealedSecret: "true", adminPassword: "0123456789abcdefgh" }), secretKeys: new Set(["adminPassword"]) }),
            /openfaas-gitops:adminPassword = "\[secret\]": conflicts with basicAuthFromSealedSecret/,
        );
    });
});
