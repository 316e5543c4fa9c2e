/**
 * The program through the REAL Pulumi engine (CLI + kubernetes provider built from their Go
 * modules) against the REAL control plane, with the REAL upstream charts: every shipped stack and a
 * Pro-mode stack is previewed, applied, previewed again with and without refresh (zero changes),
 * changed, and destroyed. The no-kubelet harness (test/support/no-kubelet.ts) is the only thing
 * between the program and the apiserver.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { engineAvailable, KUBERNETES_PROVIDER_VERSION } from "../tools/engine";
import { controlPlaneAvailable } from "../tools/controlplane";
import { EngineHarness, startEngineHarness, TestCredentials, TestStack } from "./support/engine";
import { HARNESS_ANNOTATIONS } from "./support/no-kubelet";

const available = engineAvailable() && controlPlaneAvailable();
if (!available) console.log("# SKIP engine tests: no `go` on PATH to build the Pulumi CLI and provider, and none cached");

describe("engine versions", () => {
    it("the provider the tests build is the version of @pulumi/kubernetes the program uses", () => {
        const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "package.json"), "utf8"));
        assert.equal(pkg.dependencies["@pulumi/kubernetes"], KUBERNETES_PROVIDER_VERSION);
        assert.match(fs.readFileSync(path.join(__dirname, "..", "tools", "pulumi-kubernetes", "go.mod"), "utf8"), /provider\/v4 v4\.0\.0-20260115033456-f47bc2d6f199/);
    });
});

const BASE: (keyof TestCredentials)[] = ["adminPassword", "sealingKeyPem", "sealingCertPem"];
const AGENT: (keyof TestCredentials)[] = [...BASE, "agentDeployKey", "agentSyncToken"];

interface Variant {
    readonly name: string;
    readonly from: string;
    readonly secrets: (keyof TestCredentials)[];
    readonly pro?: boolean;
}

/** Every shipped stack, and a Pro-mode one with the agent. */
const VARIANTS: Variant[] = [
    { name: "dev", from: "dev", secrets: BASE },
    { name: "staging", from: "staging", secrets: AGENT },
    { name: "prod", from: "prod", secrets: [...AGENT, "agentWebhookSecret"] },
    { name: "pro", from: "prod", secrets: [...AGENT, "agentWebhookSecret"], pro: true },
];

/** `type::name` of every step of one operation, in order. */
const stepsOf = (changed: readonly string[], op: string) => changed.filter((c) => c.endsWith(` (${op})`)).map((c) => c.slice(0, -` (${op})`.length));

for (const v of VARIANTS) {
    describe(`real engine: ${v.name} stack`, { skip: !available && "no Go toolchain and no cached engine" }, () => {
        let h: EngineHarness;
        let s: TestStack;
        let planned: string[] = [];

        before(async () => {
            h = await startEngineHarness((l) => console.log(`# ${l}`));
            s = await h.stack(v.name, v.from, { secrets: v.secrets });
            if (v.pro) await s.stack.setConfig("openfaas-gitops:proLicense", { value: "test-licence-not-a-real-one", secret: true });
        });
        after(async () => {
            await h?.stop();
        });

        it("preview shows only creates", async () => {
            const r = await s.run("preview");
            assert.deepEqual(Object.keys(r.changes), ["create"], r.log.join("\n"));
            planned = [...r.changed].sort();
            assert.ok(planned.length > 100, `expected the whole platform, got ${planned.length} resources`);
        });

        it("up creates what the preview showed, and the objects are on the apiserver", async () => {
            const r = await s.run("up");
            // A remote component (helm v4 Chart) has no outputs step in an update; everything else matches the plan.
            assert.deepEqual([...r.changed].sort(), planned.filter((c) => !c.startsWith("kubernetes:helm.sh/v4:Chart::")));
            const gw = JSON.parse(h.cp.kubectl(["get", "deployment", "gateway", "-n", "openfaas", "-o", "json"]));
            for (const [k, val] of Object.entries(HARNESS_ANNOTATIONS)) assert.equal(gw.metadata.annotations[k], val);
            const fns = h.cp.kubectl(["get", v.pro ? "functions.openfaas.com" : "deployments", "-n", "openfaas-fn", "-o", "name"]);
            assert.match(fns, /nodeinfo/);
            const outputs = await s.stack.outputs();
            assert.equal(typeof outputs.gatewayUrl?.value, "string");
            assert.equal(outputs.adminPassword?.secret, true);
        });

        it("a second preview, with and without refresh, shows zero changes", async () => {
            const plain = await s.run("preview");
            assert.deepEqual(plain.changed, [], plain.log.join("\n"));
            const refreshed = await s.run("drift-check");
            assert.deepEqual(refreshed.changed, [], refreshed.log.join("\n"));
        });

        it("no admission webhook reaches the apiserver: it never calls off loopback", () => {
            for (const kind of ["validatingwebhookconfigurations", "mutatingwebhookconfigurations"]) {
                for (const item of JSON.parse(h.cp.kubectl(["get", kind, "-o", "json"])).items) {
                    assert.deepEqual(item.webhooks ?? [], [], `${kind} ${item.metadata.name} has webhooks`);
                }
            }
            const log = fs.readFileSync(path.join(h.cp.dir, "kube-apiserver.log"), "utf8");
            assert.doesNotMatch(log, /failed calling webhook|Internal error occurred: failed calling/);
        });

        it("one config change (gatewayReplicas) updates the gateway, and the OpenFaaS component's recorded inputs, and nothing else", async () => {
            await s.stack.setConfig("openfaas-gitops:gatewayReplicas", { value: "3" });
            const r = await s.run("up");
            // Components record their args in state, so the component that took the value shows it changed too.
            assert.deepEqual([...r.changed].sort(), [
                "kubernetes:apps/v1:Deployment::openfaas-chart:openfaas/gateway (update)",
                "openfaas-gitops:platform:OpenFaaS::openfaas (update)",
            ], r.log.join("\n"));
            const gw = JSON.parse(h.cp.kubectl(["get", "deployment", "gateway", "-n", "openfaas", "-o", "json"]));
            assert.equal(gw.spec.replicas, 3);
        });

        it("destroy removes everything, namespaces last", async () => {
            const r = await s.run("destroy");
            const deleted = stepsOf(r.changed, "delete");
            const lastNamespaced = Math.max(...deleted.map((d, i) => (/^kubernetes:/.test(d) && !/:(Namespace|ClusterRole|ClusterRoleBinding|CustomResourceDefinition|ClusterIssuer|ValidatingWebhookConfiguration|MutatingWebhookConfiguration|IngressClass)::/.test(d) ? i : -1)));
            const firstNamespace = deleted.findIndex((d) => d.startsWith("kubernetes:core/v1:Namespace::"));
            assert.ok(firstNamespace > lastNamespaced, `a Namespace was deleted before an object inside it:\n${deleted.join("\n")}`);
            const left = ((await s.stack.exportStack()).deployment.resources ?? []) as { urn: string }[];
            assert.deepEqual(left.map((res) => res.urn), []);
            const inOpenfaas = h.cp.kubectl(["get", "deployments,services,secrets,configmaps", "-n", "openfaas", "-o", "name", "--ignore-not-found"]);
            assert.deepEqual(inOpenfaas.split("\n").filter((l) => l && !/kube-root-ca/.test(l)), []);
        });
    });
}

describe("real engine: a bad stack config", { skip: !available && "no Go toolchain and no cached engine" }, () => {
    let h: EngineHarness;
    before(async () => {
        h = await startEngineHarness();
    });
    after(async () => {
        await h?.stop();
    });

    it("fails with the readable message listing every problem, and creates nothing", async () => {
        const s = await h.stack("bad", "prod", { extra: { gatewayReplicas: 0, acmeEmail: "not-an-email" } });
        const err = await s.run("up").then(() => assert.fail("a bad config was applied"), (e: Error) => e.message);
        assert.match(err, /Stack "bad" has 2 configuration problems; nothing was created:/);
        assert.match(err, /openfaas-gitops:gatewayReplicas = "0": expected an integer from 1 to 20/);
        assert.match(err, /openfaas-gitops:acmeEmail = "not-an-email": expected an e-mail address/);
        assert.doesNotMatch(err, /problems: \[|\[object Object\]|at parseConfig/);
        const left = ((await s.stack.exportStack()).deployment.resources ?? []) as { type: string }[];
        assert.deepEqual(left.map((r) => r.type).filter((t) => t !== "pulumi:pulumi:Stack"), []);
    });
});

describe("real engine: the policy pack, run by the CLI", { skip: !available && "no Go toolchain and no cached engine" }, () => {
    let h: EngineHarness;
    const policy = { policyPacks: [path.join(__dirname, "..", "policies", "analyzer.sh")], policyPackConfigs: [path.join(__dirname, "..", "policies", "config", "prod.json")] };
    before(async () => {
        h = await startEngineHarness();
    });
    after(async () => {
        await h?.stop();
    });

    it("a mandatory violation fails the update, and the violating object is never created", async () => {
        const s = await h.stack("policy-bad", "prod", { secrets: [...AGENT, "agentWebhookSecret"], extra: { functionsFile: "test/data/latest-image.stack.yml" } });
        const err = await s.run("up", policy).then(() => assert.fail("the update passed a mandatory policy"), (e: Error) => e.message);
        assert.match(err, /pinned-images/);
        assert.match(err, /Deployment openfaas-fn\/unpinned: container unpinned image ghcr\.io\/openfaas\/nodeinfo:latest uses the tag latest/);
        assert.equal(h.cp.kubectl(["get", "deployments", "-n", "openfaas-fn", "-o", "name", "--ignore-not-found"]).trim(), "");
    });

    it("the shipped prod stack passes its policy config", async () => {
        const s = await h.stack("policy-ok", "prod", { secrets: [...AGENT, "agentWebhookSecret"] });
        const r = await s.run("preview", policy);
        assert.doesNotMatch(r.log.join("\n"), /mandatory/);
        assert.ok((r.changes.create ?? 0) > 100);
    });
});
