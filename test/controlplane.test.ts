/**
 * Every object the program declares, for every shipped stack, through a REAL kube-apiserver (built
 * from its Go module) with the real CRDs of the charts installed: server-side dry-run, then a real
 * apply, then read back.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import { after, before, describe, it } from "node:test";
import * as yaml from "js-yaml";
import { execFileSync, spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as path from "node:path";
import { parseQuantity } from "../model/quantity";
import { parseSealedSecretFile } from "../sealing/manifests";
import { sealSecret } from "../sealing/sealed-secret";
import { ControlPlane, controlPlaneAvailable, ensureBinaries, installCrds, startControlPlane } from "../tools/controlplane";
import { K8sObject, renderStack } from "../tools/render";
import { stackFileConfig } from "../tools/mock-engine";
import { raw, ROOT, STACKS } from "./helpers";
import { tempDir } from "./support/tmp";

const available = controlPlaneAvailable();
if (!available) console.log("# SKIP control-plane tests: no `go` on PATH to build kube-apiserver and etcd, and none cached");

/** Paths in `want` whose value differs in `got` (quantities compared by value, server defaults ignored). */
function differences(want: unknown, got: unknown, at = ""): string[] {
    if (want !== null && typeof want === "object") {
        if (got === null || typeof got !== "object") return [`${at}: missing`];
        if (Array.isArray(want)) {
            if (!Array.isArray(got) || got.length !== want.length) return [`${at}: expected ${want.length} items`];
            return want.flatMap((w, i) => differences(w, got[i], `${at}[${i}]`));
        }
        return Object.entries(want).flatMap(([k, v]) => differences(v, (got as Record<string, unknown>)[k], at ? `${at}.${k}` : k));
    }
    if (want === got) return [];
    if (typeof want === "string" && typeof got === "string" && parseQuantity(want) !== undefined && parseQuantity(want) === parseQuantity(got)) return [];
    return [`${at}: want ${JSON.stringify(want)}, got ${JSON.stringify(got)}`];
}

function ref(o: K8sObject): string {
    return `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ""}${o.metadata.name}`;
}

describe("real control plane", { skip: !available && "no Go toolchain and no cached binaries" }, () => {
    let cp: ControlPlane;

    before(async () => {
        ensureBinaries((l) => console.log(`# ${l}`));
        cp = await startControlPlane();
        installCrds(cp);
    });
    after(async () => {
        await cp?.stop();
    });

    it("serves the real CRDs of every chart", () => {
        const crds = cp.kubectl(["get", "crd", "-o", "name"]);
        for (const name of ["functions.openfaas.com", "sealedsecrets.bitnami.com", "clusterissuers.cert-manager.io", "httpproxies.projectcontour.io",
            "gitrepositories.source.toolkit.fluxcd.io", "receivers.notification.toolkit.fluxcd.io", "providers.notification.toolkit.fluxcd.io", "alerts.notification.toolkit.fluxcd.io",
            "imagerepositories.image.toolkit.fluxcd.io", "imagepolicies.image.toolkit.fluxcd.io", "imageupdateautomations.image.toolkit.fluxcd.io"]) {
            assert.match(crds, new RegExp(`customresourcedefinition.apiextensions.k8s.io/${name.replace(/\./g, "\\.")}`));
        }
    });

    /**
     * Server-side dry-run, apply and read back, each in one kubectl call for all objects (a kubectl
     * per object cost most of this file's time); only a failed dry-run is repeated per object, to
     * name every rejected one.
     */
    function applyAndReadBack(objects: K8sObject[]) {
        const docs = (os: K8sObject[]) => os.map((o) => yaml.dump(o)).join("---\n");
        const namespaces = objects.filter((o) => o.kind === "Namespace");
        const others = objects.filter((o) => o.kind !== "Namespace");
        if (namespaces.length > 0) cp.kubectl(["apply", "--server-side", "-f", "-"], docs(namespaces));
        try {
            cp.kubectl(["apply", "--server-side", "--dry-run=server", "-f", "-"], docs(others));
        } catch {
            const rejected: string[] = [];
            for (const o of others) {
                try {
                    cp.kubectl(["apply", "--server-side", "--dry-run=server", "-f", "-"], yaml.dump(o));
                } catch (e) {
                    rejected.push(`${ref(o)}: ${(e as Error).message}`);
                }
            }
            assert.deepEqual(rejected, [], "the server rejected objects");
        }
        cp.kubectl(["apply", "--server-side", "-f", "-"], docs(objects));
        const items = (JSON.parse(cp.kubectl(["get", "-f", "-", "-o", "json"], docs(objects))) as { items: K8sObject[] }).items;
        const key = (o: K8sObject) => `${o.apiVersion} ${ref(o)}`;
        const byKey = new Map(items.map((o) => [key(o), o]));
        for (const o of objects) {
            const got = byKey.get(key(o));
            assert.ok(got, `${ref(o)} was not read back`);
            const want: Record<string, unknown> = { ...o };
            if (o.kind === "Secret" && o.stringData) {
                // The server stores stringData base64-encoded under data.
                want.data = Object.fromEntries(Object.entries(o.stringData as Record<string, string>).map(([k, v]) => [k, Buffer.from(v).toString("base64")]));
                delete want.stringData;
            }
            assert.deepEqual(differences(want, got), [], `${ref(o)} read back differently`);
        }
    }

    for (const stack of STACKS) {
        it(`${stack}: every object passes server-side dry-run, applies and reads back`, async () => {
            const objects = await renderStack(stackFileConfig(stack));
            assert.ok(objects.length >= 15, `only ${objects.length} objects`);
            applyAndReadBack(objects);
        });
    }

    it("Pro: Function custom resources pass the real openfaas.com/v1 schema", async () => {
        const objects = await renderStack(raw({ proLicense: "licence", functions: JSON.stringify({ sentimentanalysis: { autoscaling: { maxReplicas: 10 } } }) }, ["proLicense"], "pro"));
        assert.equal(objects.filter((o) => o.kind === "Function").length, 3);
        applyAndReadBack(objects);
    });

    it("Flux: the objects of every shipped stack with Flux, and of a variant with every part on, pass the real Flux CRDs", async () => {
        const ofFlux = (o: K8sObject) => o.apiVersion.includes(".fluxcd.io/") || o.metadata.namespace === "flux-system" || o.metadata.name === "flux-system";
        const kinds = (objects: K8sObject[]) => objects.filter(ofFlux).map((o) => o.kind).sort();
        // The stack tests above applied these already; here: that they were there to apply.
        assert.deepEqual(kinds(await renderStack(stackFileConfig("prod"))), ["GitRepository", "ImagePolicy", "ImagePolicy", "ImageRepository", "ImageRepository", "ImageUpdateAutomation", "Namespace", "NetworkPolicy", "Role", "RoleBinding", "Secret"]);
        assert.deepEqual(kinds(await renderStack(stackFileConfig("staging"))), ["GitRepository", "Namespace", "NetworkPolicy", "Role", "RoleBinding", "Secret"]);
        const agent = JSON.stringify({ image: "ghcr.io/acme/agent:1.0.0", repoUrl: "git@github.com:acme/platform.git", branch: "release" });
        const notifications = [
            { name: "ops-slack", type: "slack", channel: "#ops" }, { name: "teams", type: "msteams", severity: "error" }, { name: "discord", type: "discord" },
            { name: "hook", type: "generic" }, { name: "commit-status", type: "github" },
        ];
        const credentials = { "ops-slack": "https://hooks.slack.com/services/x", teams: "https://example.webhook.office.com/x", discord: "https://discord.com/api/webhooks/x", hook: "https://hooks.example.com/flux", "commit-status": "ghp_x" };
        const full = (await renderStack(raw({
            agent,
            flux: JSON.stringify({ interval: "30s", webhookHost: "flux.example.com", notifications, imageAutomation: true }),
            fluxNotificationSecrets: JSON.stringify(credentials),
            // Both policy kinds: a tag pattern with extraction as well as the shipped semver range.
            functionsFile: "test/testdata/flux/marked.yml",
        }, ["fluxNotificationSecrets"], "flux"))).filter(ofFlux);
        assert.deepEqual(kinds(full), ["Alert", "Alert", "Alert", "Alert", "Alert", "GitRepository", "ImagePolicy", "ImagePolicy", "ImagePolicy", "ImageRepository", "ImageRepository", "ImageRepository", "ImageUpdateAutomation", "Ingress", "Namespace",
            "NetworkPolicy", "Provider", "Provider", "Provider", "Provider", "Provider", "Receiver", "Role", "RoleBinding", ...Array(7).fill("Secret")]);
        applyAndReadBack(full);
    });

    it("faas-cli stack files (test/testdata/faas-cli): their Function CRs, namespaces, HPAs, policies, CronJobs and CE Deployments pass and read back", async () => {
        const kinds = new Set(["Namespace", "Function", "HorizontalPodAutoscaler", "NetworkPolicy", "CronJob", "Deployment", "Service"]);
        const ofFunctions = (o: K8sObject) => kinds.has(o.kind) && !["openfaas", "contour", "cert-manager", "sealed-secrets", "openfaas-gitops"].includes(o.metadata.namespace ?? "") || o.kind === "CronJob";
        for (const file of ["scalars.yml", "envsubst.yml", "environment-file.yml", "anchors.yml", "pro-scaling.yml", "fields.yml", "namespace.yml"]) {
            const values = { functionsFile: `test/testdata/faas-cli/${file}`, functionsEnv: JSON.stringify({ TAG: "1.0.0", GREETING: "hi" }) };
            const pro = (await renderStack(raw({ ...values, proLicense: "licence" }, ["proLicense"], "pro"))).filter(ofFunctions);
            applyAndReadBack(pro);
            if (!["fields.yml", "namespace.yml", "pro-scaling.yml"].includes(file)) applyAndReadBack((await renderStack(raw(values, [], "ce"))).filter(ofFunctions));
        }
    });

    it("a sealed secret from the sealing code passes the real SealedSecret CRD schema, in every scope", () => {
        const dir = tempDir("ofg-cp-seal-");
        execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "k.pem", "-out", "c.pem", "-days", "30", "-subj", "/CN=sealed-secret"], { cwd: dir, stdio: "pipe" });
        const pub = new crypto.X509Certificate(fs.readFileSync(path.join(dir, "c.pem"))).publicKey;
        cp.kubectl(["apply", "--server-side", "-f", "-"], "apiVersion: v1\nkind: Namespace\nmetadata: {name: openfaas-fn}\n");
        for (const scope of ["strict", "namespace-wide", "cluster-wide"] as const) {
            const sealed = sealSecret(pub, { name: `api-${scope}`, namespace: "openfaas-fn", scope, data: { token: Buffer.from("t") }, type: "Opaque", labels: { team: "a" } });
            cp.kubectl(["apply", "--server-side", "--dry-run=server", "-f", "-"], yaml.dump(sealed));
            cp.kubectl(["apply", "--server-side", "-f", "-"], yaml.dump(sealed));
            const got = JSON.parse(cp.kubectl(["get", "sealedsecret", `api-${scope}`, "-n", "openfaas-fn", "-o", "json"]));
            assert.deepEqual(got.spec.encryptedData, sealed.spec.encryptedData);
        }
        // What render applies for a cluster-wide seal without a namespace, and an empty one (--allow-empty-data).
        const clusterWide = parseSealedSecretFile(yaml.dump(sealSecret(pub, { name: "shared", scope: "cluster-wide", data: { k: Buffer.from("v") } })), "f").objects[0]!.object;
        const empty = sealSecret(pub, { name: "empty", namespace: "openfaas-fn", scope: "strict", data: {} });
        for (const o of [clusterWide, empty]) cp.kubectl(["apply", "--server-side", "--dry-run=server", "-f", "-"], yaml.dump(o));
    });

    it("sealing-key export reads the active key through kubectl into a 0600 file", () => {
        const dir = tempDir("ofg-cp-key-");
        execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "k.pem", "-out", "c.pem", "-days", "30", "-subj", "/CN=sealed-secret"], { cwd: dir, stdio: "pipe" });
        cp.kubectl(["create", "namespace", "legacy-flux"]);
        cp.kubectl(["-n", "legacy-flux", "create", "secret", "tls", "sealed-secrets-keyabc", "--key", path.join(dir, "k.pem"), "--cert", path.join(dir, "c.pem")]);
        const cli = (args: string[]) =>
            spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "sealing", "key-cli.ts"), ...args], { cwd: ROOT, encoding: "utf8" });
        const none = cli(["export", "--kubeconfig", cp.kubeconfig, "--namespace", "legacy-flux", "--out", path.join(dir, "out.pem")]);
        assert.equal(none.status, 2);
        assert.match(none.stderr, /no active sealing key \(label sealedsecrets\.bitnami\.com\/sealed-secrets-key=active\) in namespace legacy-flux/);
        cp.kubectl(["-n", "legacy-flux", "label", "secret", "sealed-secrets-keyabc", "sealedsecrets.bitnami.com/sealed-secrets-key=active"]);
        const ok = cli(["export", "--kubeconfig", cp.kubeconfig, "--namespace", "legacy-flux", "--out", path.join(dir, "out.pem")]);
        assert.equal(ok.status, 0, ok.stderr);
        assert.match(ok.stdout, /exported legacy-flux\/sealed-secrets-keyabc .* \(mode 0600\)/);
        const out = fs.readFileSync(path.join(dir, "out.pem"), "utf8");
        assert.ok(out.includes(fs.readFileSync(path.join(dir, "k.pem"), "utf8").trim()));
        assert.ok(out.includes(fs.readFileSync(path.join(dir, "c.pem"), "utf8").trim()));
        assert.equal(fs.statSync(path.join(dir, "out.pem")).mode & 0o777, 0o600);
    });

    it("rejects an invalid object (the check can fail)", async () => {
        const objects = await renderStack(stackFileConfig("prod"));
        const issuer = structuredClone(objects.find((o) => o.kind === "ClusterIssuer")!) as any;
        issuer.spec.acme.servr = issuer.spec.acme.server;
        delete issuer.spec.acme.server;
        const hpa = structuredClone(objects.find((o) => o.kind === "HorizontalPodAutoscaler")!) as any;
        hpa.spec.maxReplicas = 0;
        const bad = new Set([issuer.metadata.name, hpa.metadata.name]);
        // Among every good object of the stack, the two bad ones are named, and nothing is applied.
        const mixed = [...objects.filter((o) => !bad.has(o.metadata.name) && o.kind !== "Namespace"), issuer, hpa];
        assert.throws(() => applyAndReadBack(mixed), (e: Error) => {
            assert.match(e.message, /ClusterIssuer [^:\n]+: .*(servr|server)/);
            assert.match(e.message, new RegExp(`HorizontalPodAutoscaler ${hpa.metadata.namespace}/${hpa.metadata.name}: .*maxReplicas`, "s"));
            assert.equal(e.message.match(/kubectl apply/g)?.length, 2, e.message);
            return true;
        });
    });
});
