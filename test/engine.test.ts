/**
 * The program through the REAL Pulumi engine against the REAL control plane, beside the per-stack
 * lifecycles (test/engine-<stack>.test.ts): the provider's version, a bad stack config, and the
 * policy pack run by the CLI failing an update.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { KUBERNETES_PROVIDER_VERSION } from "../tools/engine";
import { EngineHarness, startEngineHarness } from "./support/engine";
import { AGENT, BASE, engineTestsAvailable, policyRun, SKIP_REASON } from "./support/engine-lifecycle";

if (!engineTestsAvailable) console.log("# SKIP engine tests: no `go` on PATH to build the Pulumi CLI and provider, and none cached");

describe("engine versions", () => {
    it("the provider the tests build is the version of @pulumi/kubernetes the program uses", () => {
        const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "package.json"), "utf8"));
        assert.equal(pkg.dependencies["@pulumi/kubernetes"], KUBERNETES_PROVIDER_VERSION);
        assert.match(fs.readFileSync(path.join(__dirname, "..", "tools", "pulumi-kubernetes", "go.mod"), "utf8"), /provider\/v4 v4\.0\.0-20260115033456-f47bc2d6f199/);
    });
});

// One control plane for all three, one stack after another (each destroys what it created: namespaces
// terminate on the live cluster): a bad config creates nothing, the policy stack fails before its
// violating object is created, and an await that runs out says on what. (A shipped stack passing its policy config is the prod lifecycle's
// first preview.)
describe("real engine: a stack's config and policy", { skip: SKIP_REASON }, () => {
    let h: EngineHarness;
    before(async () => {
        h = await startEngineHarness({ checkpoints: false });
    });
    after(async () => {
        await h?.stop();
    });

    it("a bad stack config fails with the readable message listing every problem, and creates nothing", async () => {
        const s = await h.stack("bad", "prod", { extra: { gatewayReplicas: 0, acmeEmail: "not-an-email" } });
        const err = await s.run("up").then(() => assert.fail("a bad config was applied"), (e: Error) => e.message);
        assert.match(err, /Stack "bad" has 2 configuration problems; nothing was created:/);
        assert.match(err, /openfaas-gitops:gatewayReplicas = "0": expected an integer from 1 to 20/);
        assert.match(err, /openfaas-gitops:acmeEmail = "not-an-email": expected an e-mail address/);
        assert.doesNotMatch(err, /problems: \[|\[object Object\]|at parseConfig/);
        const left = ((await s.stack.exportStack()).deployment.resources ?? []) as { type: string }[];
        assert.deepEqual(left.map((r) => r.type).filter((t) => t !== "pulumi:pulumi:Stack"), []);
    });

    it("the policy pack, run by the CLI: a mandatory violation fails the update, and the violating object is never created", async () => {
        const s = await h.stack("policy-bad", "prod", { secrets: [...AGENT, "agentWebhookSecret"], extra: { functionsFile: "test/data/latest-image.stack.yml" } });
        const err = await s.run("up", policyRun("prod")).then(() => assert.fail("the update passed a mandatory policy"), (e: Error) => e.message);
        assert.match(err, /pinned-images/);
        assert.match(err, /Deployment openfaas-fn\/unpinned: container unpinned image ghcr\.io\/openfaas\/nodeinfo:latest uses the tag latest/);
        assert.equal(h.cp.kubectl(["get", "deployments", "-n", "openfaas-fn", "-o", "name", "--ignore-not-found"]).trim(), "");
        // What it created before the violation goes, so the next stack on this cluster starts clean.
        await s.run("destroy");
    });

    it("an await that runs out names the resource and what it waited for", async () => {
        const s = await h.stack("stuck", "dev", { secrets: BASE, extra: { functionsFile: "test/data/unschedulable.stack.yml" } });
        await s.stack.setConfig("harness:awaitTimeoutSeconds", { value: "20" });
        const err = await s.run("up").then(() => assert.fail("an unschedulable function was reported ready"), (e: Error) => e.message);
        const tail = err.slice(-4000);
        // The provider names the resource and what it awaited; the harness adds what stood in the way.
        assert.match(err, /fn-stuck-deployment[\s\S]*'stuck' timed out waiting to be Ready/, tail);
        assert.match(err, /Minimum number of live Pods was not attained/, tail);
        assert.match(err, /pod openfaas-fn\/stuck-[a-z0-9-]+ Pending: PodScheduled Unschedulable 0\/1 nodes are available: 1 node\(s\) didn't match Pod's node affinity\/selector/, tail);
        await s.run("destroy");
    });
});
