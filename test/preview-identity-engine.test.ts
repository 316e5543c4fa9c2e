/**
 * A pull request's program under the preview identity (components/preview-identity.ts, made by the
 * program with previewIdentity: true), through the REAL engine against the REAL control plane with
 * the upstream charts: its preview shows the change it proposes, with the policy pack, and the same
 * program run as an update writes nothing.
 */
import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import type { AddressInfo } from "node:net";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { PREVIEW_IDENTITY } from "../components/preview-identity";
import { EngineRunError, runEngine } from "../agent/pulumi-engine";
import { exportState, secretValues } from "../agent/preview-inputs";
import { runPreview } from "../agent/preview-run";
import { PodPreviewer, PreviewExchange } from "../agent/preview-pods";
import { AgentMetrics, createServer } from "../agent/server";
import { emptyStatus } from "../agent/conditions";
import { DEPS_MARKER, lockfileHash } from "../agent/deps";
import { kubeApi } from "../kube/api";
import { startPreviewPodDouble } from "./support/preview-pod-double";
import { writeKubeconfig } from "../tools/pki";
import { EngineHarness, startEngineHarness, TestStack } from "./support/engine";
import { BASE, policyRun, SKIP_REASON } from "./support/engine-lifecycle";
import { tempDir } from "./support/tmp";
import { until } from "./support/wait";

/** The platform's core namespace, where the component puts the ServiceAccount (the dev stack's up made it). */
const NS = "openfaas";

describe("a pull request's program under the preview identity (real engine)", { skip: SKIP_REASON }, () => {
    let h: EngineHarness;
    let s: TestStack;
    let env: Record<string, string>;
    let kubeconfig: string;

    before(async () => {
        h = await startEngineHarness({ log: (l) => console.log(`# ${l}`), checkpoints: false });
        // The program makes the identity itself (config key previewIdentity).
        s = await h.stack("dev", "dev", { secrets: BASE, extra: { previewIdentity: true } });
        await s.run("up");
        kubeconfig = path.join(tempDir("ofg-preview-engine-"), "kubeconfig");
        writeKubeconfig(kubeconfig, h.cp.server, path.join(h.cp.dir, "pki", "ca.crt"), { token: h.cp.kubectl(["create", "token", PREVIEW_IDENTITY, "-n", NS, "--duration=1h"]).trim() });
        env = { ...h.env, KUBECONFIG: kubeconfig };
        await until("the preview policy to be enforced", () => {
            try {
                h.cp.kubectl(["--kubeconfig", kubeconfig, "create", "configmap", "canary", "-n", NS]);
                h.cp.kubectl(["delete", "configmap", "canary", "-n", NS]);
                return undefined;
            } catch (e) {
                return /denied request/.test((e as Error).message) ? true : undefined;
            }
        }, 30_000);
        // The pull request: the gateway scaled to 2.
        await s.stack.setConfig("openfaas-gitops:gatewayReplicas", { value: "2" });
    });
    after(async () => h?.stop());

    const run = (op: "preview" | "up", extra = {}) => runEngine({ op, stack: "dev", configFile: s.configFile, secretsProvider: "passphrase", ...extra }, { cwd: h.projectDir, env, log: () => undefined });

    it("its preview, with the policy pack, shows the update it proposes", async () => {
        const r = await run("preview", policyRun("dev"));
        assert.deepEqual(r.violations?.filter((v) => v.level === "mandatory"), []);
        // The gateway scaled, its component, and the provider itself: its kubeconfig is the preview's,
        // not the one the state recorded (what the comment on the pull request must leave out).
        assert.deepEqual([...r.changed].sort(), [
            "kubernetes:apps/v1:Deployment::openfaas-chart:openfaas/gateway (update)",
            "openfaas-gitops:platform:OpenFaaS::openfaas (update)",
            "pulumi:providers:kubernetes::kubernetes (update)",
        ]);
    });

    it("runs against a private copy of the state (agent/preview-run.ts): the same update, and the stack's backend is never written", async () => {
        const backend = new URL(h.env.PULUMI_BACKEND_URL!).pathname;
        const files = (): Record<string, string> => Object.fromEntries(
            (fs.readdirSync(backend, { recursive: true }) as string[]).filter((f) => fs.statSync(path.join(backend, f)).isFile()).sort().map((f) => [f, crypto.createHash("sha256").update(fs.readFileSync(path.join(backend, f))).digest("hex")]),
        );
        const ctx = { cwd: h.projectDir, env: h.env };
        const state = await exportState("dev", ctx);
        const secrets = await secretValues("dev", [s.configFile], ctx);
        for (const k of BASE) {
            assert.ok(secrets.includes(h.credentials[k]), `${k} is among the values withheld`);
            assert.ok(!state.includes(h.credentials[k]), `${k} is ciphertext in the exported state`);
        }
        const before = files();
        const privateBackends = () => fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith("ofg-preview-state-"));
        const earlier = privateBackends();
        // Neither the backend nor its passphrase from the environment: the preview gets the passphrase alone.
        const r = await runPreview({ projectDir: h.projectDir, stack: "dev", state, passphrase: h.env.PULUMI_CONFIG_PASSPHRASE!, env, ...policyRun("dev"), log: () => undefined });
        assert.deepEqual([...r.changed].sort(), [
            "kubernetes:apps/v1:Deployment::openfaas-chart:openfaas/gateway (update)",
            "openfaas-gitops:platform:OpenFaaS::openfaas (update)",
            "pulumi:providers:kubernetes::kubernetes (update)",
        ]);
        assert.deepEqual(files(), before, "the stack's backend is byte for byte as it was");
        assert.deepEqual(privateBackends(), earlier, "the private backend is removed");
        await assert.rejects(runEngine({ op: "up", stack: "dev", configFile: s.configFile, importState: state }, { cwd: h.projectDir, env, log: () => undefined }), /importState is for a preview only, not up/);
    });

    it("runs in a pod of its own (agent/preview-pods.ts): job and source from the agent, the agent's dependencies, its result back; the pull request's own write is refused", async () => {
        // The pull request's source, as git archive makes it: one directory, no node_modules. Its
        // program also tries to write to the cluster itself, outside the engine.
        const staging = tempDir("ofg-preview-source-");
        const source = path.join(staging, "project");
        fs.cpSync(h.projectDir, source, { recursive: true, filter: (src) => !/(^|\/)(node_modules|\.git)$/.test(path.relative(h.projectDir, src)) });
        fs.appendFileSync(path.join(source, "index.ts"), [
            'const { kubeApi, apiStatus, apiErrorText } = require("./kube/api");',
            'module.exports = { ...module.exports, prWrite: kubeApi(process.env.KUBECONFIG).createAt("/api/v1/namespaces/openfaas/configmaps", { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "pr-wrote-this" } })',
            '    .then(() => (console.log("PR-WROTE"), "wrote"), (e) => (console.log(`PR-WRITE-REFUSED ${apiStatus(e)}: ${apiErrorText(e)}`), "refused")) };',
            "",
        ].join("\n"));
        const sourceFile = path.join(staging, "source.tar.gz");
        execFileSync("tar", ["-czf", sourceFile, "-C", staging, "project"]);
        // The agent's installed dependencies for the same lockfile: a real node_modules directory
        // whose entries lead to this checkout's packages (the agent's has the packages themselves).
        const agentProject = tempDir("ofg-preview-agent-project-");
        const installed = path.join(agentProject, "node_modules");
        fs.mkdirSync(installed);
        const root = path.resolve(__dirname, "..");
        for (const e of fs.readdirSync(path.join(root, "node_modules"))) fs.symlinkSync(path.join(root, "node_modules", e), path.join(installed, e));
        const hash = lockfileHash(h.projectDir);
        fs.writeFileSync(path.join(agentProject, DEPS_MARKER), hash + "\n");

        const exchange = new PreviewExchange();
        const server = createServer({
            status: () => emptyStatus(0), metrics: new AgentMetrics(), branch: "main", sync: () => undefined, suspend: () => undefined,
            election: () => ({ identity: "a", leader: "a" }), leads: () => true, webhookSecret: () => undefined, syncToken: () => undefined,
            notReady: () => undefined, log: () => undefined, previews: exchange,
        });
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
        const agentUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
        const pods = startPreviewPodDouble(h.cp, NS, { kubeconfig, env: { PATH: h.env.PATH! }, log: (l) => console.log(`# ${l}`) });
        // No simulated node may take the pod (one would "complete" it at once): the double runs it.
        const previewer = new PodPreviewer(kubeApi(h.cp.kubeconfig), exchange, { namespace: NS, image: "openfaas-gitops-agent:test", agentUrl, timeoutSeconds: 600, nodeSelector: { "openfaas-gitops.dev/test": "no-such-node" } }, () => undefined);
        try {
            const result = await previewer.preview(
                {
                    pullRequest: 7,
                    job: { stack: "dev", projectPath: ".", revision: "7".repeat(40), state: await exportState("dev", { cwd: h.projectDir, env: h.env }), sourceMaxBytes: 50 * 1024 ** 2, sourceMaxExtractedBytes: 100 * 1024 ** 2, dependencies: hash },
                    sourceFile,
                    dependenciesDir: agentProject,
                    passphrase: h.env.PULUMI_CONFIG_PASSPHRASE!,
                },
                AbortSignal.timeout(600_000),
            );
            const pod = pods.ran[0]!;
            assert.equal(pods.ran.length, 1);
            assert.ok(result.ok, `the preview succeeded: ${JSON.stringify(result).slice(0, 2000)}\n${pod.output.slice(-3000)}`);
            assert.deepEqual([...result.changed].sort(), [
                "kubernetes:apps/v1:Deployment::openfaas-chart:openfaas/gateway (update)",
                "openfaas-gitops:platform:OpenFaaS::openfaas (update)",
                "pulumi:providers:kubernetes::kubernetes (update)",
            ]);
            assert.match(pod.output, /dependencies: the agent's, for the same lockfile/);
            assert.doesNotMatch(pod.output, /npm ci/, "no install: the agent's packages");
            assert.match(pod.output, new RegExp(`PR-WRITE-REFUSED 422: .*ValidatingAdmissionPolicy '${PREVIEW_IDENTITY}' with binding '${PREVIEW_IDENTITY}' denied request`), "the program's own write was refused by the preview's admission policy");
            assert.doesNotMatch(pod.output, /PR-WROTE/);
            assert.throws(() => h.cp.kubectl(["get", "configmap", "pr-wrote-this", "-n", NS]), /NotFound/);
            assert.deepEqual(pod.secretOwners.map((o) => [o.kind, o.uid]), [["Job", pod.jobUid]], "the Secret is the Job's: it goes with it");
            await until("the preview's Job and Secret to be gone", () => {
                const left = h.cp.kubectl(["get", "jobs,secrets", "-n", NS, "-l", "app.kubernetes.io/name=openfaas-gitops-preview", "-o", "name"]).trim();
                return left === "" ? true : undefined;
            }, 60_000);
        } finally {
            await pods.stop();
            server.close();
        }
    });

    it("a pull request with a :latest image: advisory under dev's policy config, a failed preview under prod's, as the run reports", async () => {
        const file = path.join(h.projectDir, "functions", "pr-latest.yml");
        fs.writeFileSync(file, fs.readFileSync(path.join(h.projectDir, "functions", "stack.yml"), "utf8").replace("ghcr.io/openfaas/certinfo-fn:0.2.1", "ghcr.io/openfaas/certinfo-fn:latest"));
        await s.stack.setConfig("openfaas-gitops:functionsFile", { value: "functions/pr-latest.yml" });
        const latest = (v: { policy: string; resource?: string }) => v.policy === "pinned-images" && v.resource === "kubernetes:apps/v1:Deployment::fn-certinfo-deployment";
        try {
            const dev = await run("preview", policyRun("dev"));
            const advisory = dev.violations?.find(latest);
            assert.equal(advisory?.level, "advisory");
            assert.match(advisory!.message, /container certinfo image ghcr\.io\/openfaas\/certinfo-fn:latest .*pin a version tag or a digest/);
            assert.doesNotMatch(advisory!.message, /\x1b|<\{%/, "no colour codes");
            const failed = await run("preview", policyRun("prod")).then(() => undefined, (e: unknown) => e);
            assert.ok(failed instanceof EngineRunError, `the preview under prod's policy config failed: ${String(failed)}`);
            assert.equal(failed.violations.find(latest)?.level, "mandatory");
        } finally {
            await s.stack.removeConfig("openfaas-gitops:functionsFile");
        }
    });

    it("run as an update, it writes nothing: the apiserver denies it, naming the policy", async () => {
        await assert.rejects(run("up"), new RegExp(`deployments.apps "gateway" is forbidden: ValidatingAdmissionPolicy '${PREVIEW_IDENTITY}'[^\\n]*denied request`));
        assert.equal(h.cp.kubectl(["get", "deployment", "gateway", "-n", "openfaas", "-o", "jsonpath={.spec.replicas}"]), "1");
    });
});
