/**
 * One stack's whole life through the REAL Pulumi engine (CLI + kubernetes provider built from their
 * Go modules) against its own REAL control plane, with the REAL upstream charts: preview, up, a
 * second preview with and without refresh (zero changes), one config change, destroy. Each stack is
 * its own test file (test/engine-<stack>.test.ts) so the runner can run them side by side.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { engineAvailable } from "../../tools/engine";
import { controlPlaneAvailable } from "../../tools/controlplane";
import { EngineHarness, startEngineHarness, TestCredentials, TestStack } from "./engine";
import { AWAIT_TIMEOUT, AWAIT_TIMEOUT_SECONDS } from "./standins";
import { describeStep } from "../../agent/engine-run";

export const engineTestsAvailable = engineAvailable() && controlPlaneAvailable();
export const SKIP_REASON = !engineTestsAvailable && "no Go toolchain and no cached engine";

export const BASE: (keyof TestCredentials)[] = ["adminPassword", "sealingKeyPem", "sealingCertPem"];
export const AGENT: (keyof TestCredentials)[] = [...BASE, "agentDeployKey", "agentSyncToken"];

export interface Variant {
    readonly name: string;
    readonly from: string;
    readonly secrets: (keyof TestCredentials)[];
    readonly pro?: boolean;
    /** Runs the first preview with the policy pack under this stack's policy config (policies/config/<from>.json), as the PR workflow does. */
    readonly policy?: boolean;
    /** Runs the engine as a plain `pulumi up` from a workstation (the bootstrap), not with the agent's settings. */
    readonly workstation?: boolean;
}

/** The policy pack as the CLI runs it without the Node language host, under a stack's policy config. */
export function policyRun(config: string): { policyPacks: string[]; policyPackConfigs: string[] } {
    const policies = path.join(__dirname, "..", "..", "policies");
    return { policyPacks: [path.join(policies, "analyzer.sh")], policyPackConfigs: [path.join(policies, "config", `${config}.json`)] };
}

/** `type::name` of every step of one operation, in order. */
const stepsOf = (changed: readonly string[], op: string) => changed.filter((c) => c.endsWith(` (${op})`)).map((c) => c.slice(0, -` (${op})`.length));

/** The lifecycle tests of one stack. */
export function describeLifecycle(v: Variant): void {
    describe(`real engine: ${v.name} stack${v.workstation ? " (as a plain pulumi up from a workstation)" : ""}`, { skip: SKIP_REASON }, () => {
        let h: EngineHarness;
        let s: TestStack;
        let planned: string[] = [];

        before(async () => {
            h = await startEngineHarness({ log: (l) => console.log(`# ${l}`), checkpoints: false, agentSettings: !v.workstation });
            s = await h.stack(v.name, v.from, { secrets: v.secrets });
            if (v.pro) await s.stack.setConfig("openfaas-gitops:proLicense", { value: "test-licence-not-a-real-one", secret: true });
        });
        after(async () => {
            await h?.stop();
        });

        it(v.policy ? "preview shows only creates, and the policy pack run by the CLI passes the stack's policy config" : "preview shows only creates", async () => {
            const r = await s.run("preview", v.policy ? policyRun(v.from) : {});
            assert.deepEqual(Object.keys(r.changes), ["create"], r.log.join("\n"));
            if (v.policy) {
                assert.match(r.log.join("\n"), /Loading policy packs\.\.\.: done/, "the CLI did not load the policy pack");
                assert.doesNotMatch(r.log.join("\n"), /mandatory/);
            }
            planned = [...r.changed].sort();
            assert.ok(planned.length > 100, `expected the whole platform, got ${planned.length} resources`);
        });

        it("up creates what the preview showed, and the objects are on the apiserver", async () => {
            const r = await s.run("up");
            // A remote component (helm v4 Chart) has no outputs step in an update; everything else matches the plan.
            assert.deepEqual([...r.changed].sort(), planned.filter((c) => !c.startsWith("kubernetes:helm.sh/v4:Chart::")));
            const gw = JSON.parse(h.cp.kubectl(["get", "deployment", "gateway", "-n", "openfaas", "-o", "json"]));
            assert.equal(gw.metadata.annotations[AWAIT_TIMEOUT], String(AWAIT_TIMEOUT_SECONDS));
            // Pulumi awaited readiness, as on a user's cluster: the gateway is Available.
            assert.equal(gw.status.conditions.find((c: { type: string }) => c.type === "Available")?.status, "True");
            const fns = h.cp.kubectl(["get", v.pro ? "functions.openfaas.com" : "deployments", "-n", "openfaas-fn", "-o", "name"]);
            assert.match(fns, /nodeinfo/);
            // Every Ingress with TLS waits for its ClusterIssuer: it takes the issuer's name from the issuer.
            const state = (await s.stack.exportStack()).deployment.resources as { urn: string; type: string; inputs?: { spec?: { tls?: unknown } }; dependencies?: string[] }[];
            const issuer = state.find((r) => r.type === "kubernetes:cert-manager.io/v1:ClusterIssuer");
            const withTls = state.filter((r) => r.type === "kubernetes:networking.k8s.io/v1:Ingress" && r.inputs?.spec?.tls);
            if (issuer) assert.ok(withTls.length > 0, "a stack with an issuer has Ingresses with TLS");
            for (const ing of withTls) assert.ok(issuer && ing.dependencies?.includes(issuer.urn), `${ing.urn} does not depend on its ClusterIssuer`);
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

        it("admission webhook configurations are stored as declared, and the apiserver never calls one (off loopback)", () => {
            // cert-manager's webhook is in every stack; the program's declaration reaches the apiserver unchanged.
            const stored = ["validatingwebhookconfigurations", "mutatingwebhookconfigurations"].flatMap((kind) => JSON.parse(h.cp.kubectl(["get", kind, "-o", "json"])).items as { webhooks?: unknown[] }[]);
            assert.ok(stored.some((item) => (item.webhooks ?? []).length > 0), "no webhook configuration with webhooks was stored");
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

        it("destroy removes everything, each namespace after everything inside it", async () => {
            // Where each resource lives, from the state before the destroy, by its `type::name` step.
            type Res = { urn: string; type: string; outputs?: { metadata?: { name?: string; namespace?: string } } };
            const before = ((await s.stack.exportStack()).deployment.resources ?? []) as Res[];
            const step = (res: Res) => describeStep(res.urn, "delete").slice(0, -" (delete)".length);
            const namespaceOf = new Map(before.map((res) => [step(res), res.outputs?.metadata?.namespace]));
            const namespaceNamed = new Map(before.filter((res) => res.type === "kubernetes:core/v1:Namespace").map((res) => [step(res), res.outputs?.metadata?.name]));
            const r = await s.run("destroy");
            const deleted = stepsOf(r.changed, "delete");
            const namespaces = deleted.flatMap((d, i) => (namespaceNamed.has(d) ? [{ name: namespaceNamed.get(d)!, at: i }] : []));
            assert.equal(namespaces.length, namespaceNamed.size, "every Namespace deleted");
            for (const ns of namespaces) {
                const after = deleted.slice(ns.at + 1).filter((d) => namespaceOf.get(d) === ns.name);
                assert.deepEqual(after, [], `Namespace ${ns.name} was deleted before objects inside it`);
            }
            const left = ((await s.stack.exportStack()).deployment.resources ?? []) as { urn: string }[];
            assert.deepEqual(left.map((res) => res.urn), []);
            const inOpenfaas = h.cp.kubectl(["get", "deployments,services,secrets,configmaps", "-n", "openfaas", "-o", "name", "--ignore-not-found"]);
            assert.deepEqual(inOpenfaas.split("\n").filter((l) => l && !/kube-root-ca/.test(l)), []);
        });
    });
}
