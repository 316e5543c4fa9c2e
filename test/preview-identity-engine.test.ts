/**
 * A pull request's program under the preview identity (components/preview-identity.ts, made by the
 * program with previewIdentity: true), through the REAL engine against the REAL control plane with
 * the upstream charts: its preview shows the change it proposes, with the policy pack, and the same
 * program run as an update writes nothing.
 */
import { strict as assert } from "node:assert";
import { AGENT_DEFAULTS } from "../agent/contract";
import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { PREVIEW_IDENTITY } from "../components/preview-identity";
import { EngineRunError, runEngine } from "../agent/pulumi-engine";
import { secretValues } from "../agent/preview-inputs";
import { exportState } from "../agent/pulumi-cli";
import { copyProject, previewIdentityKubeconfig, PreviewWorld, REPOSITORY, startPreviewWorld } from "./support/preview-world";
import { runPreview } from "../agent/preview-run";
import { EngineHarness, startEngineHarness, TestStack } from "./support/engine";
import { BASE, policyRun, SKIP_REASON } from "./support/engine-lifecycle";
import { tempDir } from "./support/tmp";
import { until } from "./support/wait";

/** The platform's core namespace, where the component puts the ServiceAccount (the dev stack's up made it). */
const NS = AGENT_DEFAULTS.previewNamespace;

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
        kubeconfig = await previewIdentityKubeconfig(h);
        env = { ...h.env, KUBECONFIG: kubeconfig };
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

    let world: Promise<PreviewWorld> | undefined;
    const podWorld = () => (world ??= startPreviewWorld(h, s, kubeconfig, (l) => console.log(`# ${l}`)));
    after(async () => (await world)?.stop());
    const noPreviewObjectsLeft = () =>
        until("the previews' Jobs and Secrets to be gone", () => (h.cp.kubectl(["get", "jobs,secrets", "-n", NS, "-l", "app.kubernetes.io/name=openfaas-gitops-preview", "-o", "name"]).trim() === "" ? true : undefined), 60_000);

    it("runs in a pod of its own (agent/preview-pods.ts): job and source from the agent, the agent's dependencies, its result back; the pull request's own write is refused", async () => {
        // The pull request's source, as git archive makes it: one directory. Its program also tries
        // to write to the cluster itself, outside the engine.
        const staging = tempDir("ofg-preview-source-");
        const source = path.join(staging, "project");
        copyProject(h.projectDir, source);
        fs.appendFileSync(path.join(source, "index.ts"), [
            'const { kubeApi, apiStatus, apiErrorText } = require("./kube/api");',
            'module.exports = { ...module.exports, prWrite: kubeApi(process.env.KUBECONFIG).createAt("/api/v1/namespaces/openfaas/configmaps", { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "pr-wrote-this" } })',
            '    .then(() => (console.log("PR-WROTE"), "wrote"), (e) => (console.log(`PR-WRITE-REFUSED ${apiStatus(e)}: ${apiErrorText(e)}`), "refused")) };',
            "",
        ].join("\n"));
        const sourceFile = path.join(staging, "source.tar.gz");
        execFileSync("tar", ["-czf", sourceFile, "-C", staging, "project"]);
        const w = await podWorld();
        const ran = w.pods.ran.length;
        const result = await w.previewer.preview(
            {
                pullRequest: 7,
                job: { stack: "dev", projectPath: ".", revision: "7".repeat(40), state: await exportState("dev", { cwd: h.projectDir, env: h.env }), sourceMaxBytes: 50 * 1024 ** 2, sourceMaxExtractedBytes: 100 * 1024 ** 2, dependencies: w.hash },
                sourceFile,
                dependenciesDir: w.agentProject,
                passphrase: h.env.PULUMI_CONFIG_PASSPHRASE!,
            },
            AbortSignal.timeout(600_000),
        );
        assert.equal(w.pods.ran.length, ran + 1);
        const pod = w.pods.ran.at(-1)!;
        assert.ok(result.ok, `the preview succeeded: ${JSON.stringify(result).slice(0, 2000)}\n${pod.output.slice(-3000)}`);
        assert.deepEqual([...result.changed].sort(), [
            "kubernetes:apps/v1:Deployment::openfaas-chart:openfaas/gateway (update)",
            "openfaas-gitops:platform:OpenFaaS::openfaas (update)",
            "pulumi:providers:kubernetes::kubernetes (update)",
        ]);
        await pod.exited;
        assert.match(pod.output, /dependencies: the agent's, for the same lockfile/);
        assert.doesNotMatch(pod.output, /npm ci/, "no install: the agent's packages");
        assert.match(pod.output, new RegExp(`PR-WRITE-REFUSED 422: .*ValidatingAdmissionPolicy '${PREVIEW_IDENTITY}' with binding '${PREVIEW_IDENTITY}' denied request`), "the program's own write was refused by the preview's admission policy");
        assert.doesNotMatch(pod.output, /PR-WROTE/);
        assert.throws(() => h.cp.kubectl(["get", "configmap", "pr-wrote-this", "-n", "openfaas"]), /NotFound/);
        assert.deepEqual(pod.secretOwners.map((o) => [o.kind, o.uid]), [["Job", pod.jobUid]], "the Secret is the Job's: it goes with it");
        await noPreviewObjectsLeft();
    });

    it("the leader's rounds end to end (a real git repository with refs/pull/<n>/head, the GitHub double, the pods): a scaling pull request gets a green status and a comment listing exactly its update, a second push edits that comment, a fork is ignored, a planted secret is posted nowhere", async () => {
        const w = await podWorld();
        const ran = w.pods.ran.length;
        const { repo, github: double } = w;
        const scale = repo.pullRequest(11, { [w.configRel]: w.withReplicas("2") });
        const leak = repo.pullRequest(12, {
            "index.ts": `${fs.readFileSync(path.join(h.projectDir, "index.ts"), "utf8")}\nnew (require("@pulumi/pulumi").Config)("openfaas-gitops").requireSecret("adminPassword").apply((p) => { throw new Error(\`leaking \${p} as \${Buffer.from(p).toString("base64")}\`); });\n`,
        });
        const fork = repo.pullRequest(13, { [w.configRel]: w.withReplicas("5") });
        const secret = h.credentials.adminPassword;
        double.pulls.push(
            { number: 11, headSha: scale, headRepository: REPOSITORY, baseRef: "main", author: "alice" },
            { number: 12, headSha: leak, headRepository: REPOSITORY, baseRef: "main", author: "alice" },
            { number: 13, headSha: fork, headRepository: "alice/platform", baseRef: "main", author: "alice" },
        );
        const statusOf = (head: string) => double.statuses.filter((x) => x.sha === head && x.state !== "pending").at(-1);
        const round = (what: string, done: () => boolean) =>
            until(what, async () => {
                await w.loop.tick();
                if (done()) return true;
                await new Promise((r) => setTimeout(r, 1_000));
                return undefined;
            }, 300_000);
        await round("both previews to be posted", () => statusOf(scale) !== undefined && statusOf(leak) !== undefined);
        assert.deepEqual([statusOf(scale)!.state, statusOf(scale)!.description], ["success", "2 change(s), policies pass"], w.logs.join("\n"));
        const comment = () => double.comments.filter((c) => c.issue === 11);
        assert.equal(comment().length, 1);
        assert.match(comment()[0]!.body, /Changes: 2 to update\.\n\n```text\nkubernetes:apps\/v1:Deployment::openfaas-chart:openfaas\/gateway \(update\)\nopenfaas-gitops:platform:OpenFaaS::openfaas \(update\)\n```/);
        assert.ok(!double.comments.some((c) => c.issue === 13) && !double.statuses.some((x) => x.sha === fork), "the fork's pull request is not previewed");
        assert.equal(statusOf(leak)!.state, "failure");
        assert.ok(double.comments.some((c) => c.issue === 12 && /leaking \[secret\] as \[secret\]/.test(c.body)), double.comments.find((c) => c.issue === 12)?.body);
        const posted = JSON.stringify(double.requests.map((r) => r.body ?? null));
        for (const form of [secret, Buffer.from(secret).toString("base64"), h.env.PULUMI_CONFIG_PASSPHRASE!]) assert.ok(!posted.includes(form), "no secret value in anything posted");

        // A second push to #11: the same comment, edited.
        const again = repo.pullRequest(11, { [w.configRel]: w.withReplicas("3") });
        (double.pulls[0] as { headSha: string }).headSha = again;
        await round("the second push's preview", () => statusOf(again) !== undefined);
        assert.equal(comment().length, 1, "one comment, edited in place");
        assert.match(comment()[0]!.body, new RegExp(`at \`${again.slice(0, 12)}\`: passes`));
        assert.deepEqual(double.invalid(), []);
        for (const r of double.requests) assert.equal(r.remoteAddress, "127.0.0.1");
        assert.equal(w.pods.ran.length - ran, 3, "three previews: #11 twice, #12 once");
        await noPreviewObjectsLeft();
    });

    it("under prod's policy config, a pull request with a :latest image gets a red status naming the policy, and its comment the result", async () => {
        const w = await podWorld();
        const { repo, github: double } = w;
        for (const pr of double.pulls) (pr as { state?: string }).state = "closed";
        const stackYml = fs.readFileSync(path.join(h.projectDir, "functions", "stack.yml"), "utf8");
        assert.match(stackYml, /ghcr\.io\/openfaas\/certinfo-fn:0\.2\.1/);
        const latest = repo.pullRequest(14, { "functions/stack.yml": stackYml.replace("ghcr.io/openfaas/certinfo-fn:0.2.1", "ghcr.io/openfaas/certinfo-fn:latest") });
        double.pulls.push({ number: 14, headSha: latest, headRepository: REPOSITORY, baseRef: "main", author: "alice" });
        const loop = w.newLoop({ policyConfig: "prod" });
        const status = await until("#14's status", async () => {
            await loop.tick();
            const st = double.statuses.find((x) => x.sha === latest && x.state !== "pending");
            if (!st) await new Promise((r) => setTimeout(r, 1_000));
            return st;
        }, 300_000);
        assert.equal(status.state, "failure");
        assert.match(status.description ?? "", /mandatory policy violation\(s\): .*pinned-images/);
        assert.match(double.comments.find((c) => c.issue === 14)!.body, /\[mandatory\] pinned-images \(kubernetes:apps\/v1:Deployment::fn-certinfo-deployment\): Images are pinned[^\n]*\nDeployment openfaas-fn\/certinfo: container certinfo image ghcr\.io\/openfaas\/certinfo-fn:latest uses the tag latest/);
        await noPreviewObjectsLeft();
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
