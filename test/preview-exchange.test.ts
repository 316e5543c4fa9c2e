/**
 * The agent's side of a preview pod's requests (agent/preview-pods.ts PreviewExchange, routed by
 * agent/server.ts), over real HTTP on loopback: only the bearer of a preview's own token is
 * answered, its job, source and dependencies are served once each, and its result is taken once,
 * only if it fits its schema and its size. Requests come from any pod, so they are fuzzed too.
 */
import { strict as assert } from "node:assert";
import * as crypto from "node:crypto";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import { AddressInfo } from "node:net";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { AgentMetrics, createServer } from "../agent/server";
import { emptyStatus } from "../agent/conditions";
import { jobEnded, PodPreviewer, PREVIEW_LABELS, previewPodObjects, PreviewExchange } from "../agent/preview-pods";
import type { KubeApi } from "../kube/api";
import { parsePodResult, PREVIEW_SECRET_DIR, PreviewJob, RESULT_LIMITS } from "../agent/preview-protocol";
import { PREVIEW_IDENTITY } from "../agent/contract";
import { labelChange } from "../agent/webhook";
import { tempDir } from "./support/tmp";

const JOB: PreviewJob = { stack: "prod", projectPath: ".", revision: "a".repeat(40), state: '{"version":3}', sourceMaxBytes: 1024, sourceMaxExtractedBytes: 4096, dependencies: "d".repeat(64) };
const OK_RESULT = { ok: true, changes: { update: 1, same: 40 }, changed: ["kubernetes:apps/v1:Deployment::gateway (update)"], violations: [] };

describe("preview exchange (real HTTP on loopback)", () => {
    const exchange = new PreviewExchange();
    const server = createServer({
        status: () => emptyStatus(0), metrics: new AgentMetrics(), branch: "main", sync: () => undefined, suspend: () => undefined,
        election: () => ({ identity: "a", leader: "a" }), leads: () => true, webhookSecret: () => undefined, syncToken: () => undefined,
        notReady: () => undefined, log: () => undefined, previews: exchange,
    });
    let base = "";
    const dir = tempDir("ofg-preview-exchange-");
    const source = path.join(dir, "source.tar.gz");
    fs.writeFileSync(source, "source bytes");
    const project = path.join(dir, "project");
    fs.mkdirSync(path.join(project, "node_modules", "pkg"), { recursive: true });
    fs.writeFileSync(path.join(project, "node_modules", "pkg", "index.js"), "module.exports = 1;\n");
    fs.symlinkSync("../policies", path.join(project, "node_modules", "workspace-link"));
    before(async () => {
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
        base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(() => server.close());

    const get = (id: string, what: string, token?: string) => fetch(`${base}/previews/${id}/${what}`, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
    const post = (id: string, body: string, token?: string) => fetch(`${base}/previews/${id}/result`, { method: "POST", body, headers: token ? { Authorization: `Bearer ${token}` } : {} });

    it("answers only its token; serves the job, source and dependencies once each; takes one result that fits", async () => {
        const ex = exchange.open(JOB, source, project);
        assert.match(ex.id, /^[0-9a-f]{32}$/);
        assert.equal((await get(ex.id, "job")).status, 401, "no token");
        assert.equal((await get(ex.id, "job", "wrong")).status, 401, "another token");
        const other = exchange.open(JOB, source);
        assert.equal((await get(ex.id, "job", other.token)).status, 401, "another preview's token");
        other.close();
        assert.equal((await get("0".repeat(32), "job", ex.token)).status, 404, "an unknown preview");

        const job = await get(ex.id, "job", ex.token);
        assert.equal(job.status, 200);
        assert.deepEqual(await job.json(), JOB);
        assert.equal((await get(ex.id, "job", ex.token)).status, 410, "the job is served once");
        const src = await get(ex.id, "source", ex.token);
        assert.equal(await src.text(), "source bytes");
        assert.equal((await get(ex.id, "source", ex.token)).status, 410, "the source is served once");
        const deps = await get(ex.id, "dependencies", ex.token);
        assert.equal(deps.status, 200);
        const tar = path.join(dir, "deps.tar");
        fs.writeFileSync(tar, Buffer.from(await deps.arrayBuffer()));
        assert.deepEqual(execFileSync("tar", ["-tvf", tar], { encoding: "utf8" }).split("\n").filter(Boolean).map((l) => l.split(/\s+/).slice(5).join(" ")).sort(), [
            "node_modules/", "node_modules/pkg/", "node_modules/pkg/index.js", "node_modules/workspace-link -> ../policies",
        ], "a link stays a link");
        assert.equal((await get(ex.id, "dependencies", ex.token)).status, 410);

        assert.equal((await fetch(`${base}/previews/${ex.id}/result`, { headers: { Authorization: `Bearer ${ex.token}` } })).status, 405);
        assert.equal((await post(ex.id, "not json", ex.token)).status, 400);
        const refused = await post(ex.id, JSON.stringify({ ...OK_RESULT, extra: "field" }), ex.token);
        assert.equal(refused.status, 400);
        assert.doesNotMatch(await refused.text(), /field/, "the body is never quoted back");
        assert.equal((await post(ex.id, JSON.stringify(OK_RESULT), ex.token)).status, 200);
        assert.deepEqual(await ex.result, OK_RESULT);
        assert.equal((await post(ex.id, JSON.stringify({ ok: false, message: "later", violations: [] }), ex.token)).status, 409, "one result");
        ex.close();
        assert.equal((await get(ex.id, "job", ex.token)).status, 404, "closed: gone");
    });

    it("refuses a result over its size without reading it, and offers no dependencies the job does not name", async () => {
        const ex = exchange.open({ ...JOB, dependencies: undefined }, source, project);
        assert.equal((await get(ex.id, "dependencies", ex.token)).status, 410);
        const huge = JSON.stringify({ ok: false, message: "x".repeat(RESULT_LIMITS.bytes), violations: [] });
        assert.equal((await post(ex.id, huge, ex.token)).status, 413);
        ex.close();
    });

    it("any path, method and header: an answer, never a crash, and nothing served without the token (fast-check)", async () => {
        const ex = exchange.open(JOB, source, project);
        await fc.assert(
            fc.asyncProperty(
                fc.constantFrom("job", "source", "dependencies", "result", "x", ""),
                fc.oneof(fc.constant(ex.id), fc.stringMatching(/^[0-9a-f]{32}$/), fc.string({ maxLength: 40 })),
                fc.constantFrom("GET", "POST", "HEAD", "PUT", "DELETE"),
                fc.option(fc.string({ maxLength: 60 }).filter((s) => !/[\r\n\0]/.test(s) && !s.includes(ex.token)), { nil: undefined }),
                async (what, id, method, auth) => {
                    let res: Response;
                    try {
                        res = await fetch(`${base}/previews/${encodeURIComponent(id)}/${what}`, { method, headers: auth === undefined ? {} : { Authorization: auth }, body: method === "POST" || method === "PUT" ? "{}" : undefined });
                    } catch (e) {
                        // fetch itself refuses some header values before sending
                        assert.match(String((e as Error).cause ?? e), /header|ByteString|invalid/i);
                        return;
                    }
                    assert.ok([400, 401, 404, 405].includes(res.status), `${method} ${what}: ${res.status}`);
                    await res.arrayBuffer();
                },
            ),
            { numRuns: 150 },
        );
        assert.equal((await get(ex.id, "job", ex.token)).status, 200, "nothing was served to a request without the token");
        ex.close();
    });
});

describe("a signed pull_request delivery looks at the pull requests for previews", () => {
    it("calls onPullRequest for a signed delivery only; a push still syncs", async () => {
        let looked = 0;
        const synced: string[] = [];
        const server = createServer({
            status: () => emptyStatus(0), metrics: new AgentMetrics(), branch: "main", sync: (t) => synced.push(t), suspend: () => undefined,
            election: () => ({ identity: "a", leader: "a" }), leads: () => true, webhookSecret: () => ({ value: "hook-secret" }), syncToken: () => undefined,
            notReady: () => undefined, log: () => undefined, onPullRequest: () => looked++,
        });
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhook`;
        const sign = (body: string) => `sha256=${crypto.createHmac("sha256", "hook-secret").update(body).digest("hex")}`;
        try {
            const body = JSON.stringify({ action: "synchronize", number: 1 });
            assert.equal((await fetch(url, { method: "POST", body, headers: { "X-GitHub-Event": "pull_request", "X-Hub-Signature-256": sign(body) } })).status, 202);
            assert.equal(looked, 1);
            assert.equal((await fetch(url, { method: "POST", body, headers: { "X-GitHub-Event": "pull_request", "X-Hub-Signature-256": "sha256=00" } })).status, 401);
            assert.equal(looked, 1, "an unsigned delivery does nothing");
            const push = JSON.stringify({ ref: "refs/heads/main", after: "f".repeat(40) });
            assert.equal((await fetch(url, { method: "POST", body: push, headers: { "X-GitHub-Event": "push", "X-Hub-Signature-256": sign(push) } })).status, 202);
            assert.deepEqual(synced, ["webhook"]);
        } finally {
            server.close();
        }
    });
});

describe("a preview pod's result is read as hostile (parsePodResult)", () => {
    it("takes exactly the two shapes and bounds every list and text", () => {
        assert.deepEqual(parsePodResult(Buffer.from(JSON.stringify(OK_RESULT))), { result: OK_RESULT });
        const failed = { ok: false, message: "boom", violations: [{ policy: "pinned-images", level: "mandatory", message: "m", resource: "r" }] };
        assert.deepEqual(parsePodResult(Buffer.from(JSON.stringify(failed))), { result: failed });
        for (const bad of [
            { ...OK_RESULT, ok: "true" },
            { ...OK_RESULT, changes: { update: -1 } },
            { ...OK_RESULT, changes: { "Up Date": 1 } },
            { ...OK_RESULT, changed: Array(RESULT_LIMITS.changed + 1).fill("x") },
            { ...OK_RESULT, violations: [{ policy: "p", level: "fatal", message: "m" }] },
            { ok: false, message: "x".repeat(RESULT_LIMITS.text + 1), violations: [] },
            { ok: false, violations: [] },
            [],
            null,
        ]) assert.ok("error" in parsePodResult(Buffer.from(JSON.stringify(bad))), JSON.stringify(bad).slice(0, 80));
    });

    it("never throws, and what it takes has one of the two shapes (fast-check)", () => {
        fc.assert(
            fc.property(fc.oneof(fc.json(), fc.string(), fc.record({ ok: fc.boolean(), changes: fc.dictionary(fc.string(), fc.integer()), changed: fc.array(fc.string()), violations: fc.array(fc.anything()), message: fc.string() }, { requiredKeys: [] }).map((o) => JSON.stringify(o))), (text) => {
                const r = parsePodResult(Buffer.from(text));
                if ("result" in r) assert.ok(r.result.ok === true ? Array.isArray(r.result.changed) : typeof r.result.message === "string");
                else assert.doesNotMatch(r.error, /\{"|":/, "the body is never quoted");
            }),
            { numRuns: 500 },
        );
    });
});

describe("a preview's Job and Secret (previewPodObjects)", () => {
    const settings = { namespace: "openfaas", image: "registry.example/agent:1", agentUrl: "http://10.0.0.5:8080/", timeoutSeconds: 900, env: { HTTPS_PROXY: "http://proxy:3128" } };
    const { job, secret } = previewPodObjects(settings, "openfaas-gitops-preview-7-abcd", 7, "f".repeat(32), "tok", "pass", "uid-1");
    const pod = job.spec.template.spec;
    it("runs under the preview identity, with its own Secret and none of the agent's", () => {
        assert.equal(pod.serviceAccountName, PREVIEW_IDENTITY);
        assert.equal(pod.automountServiceAccountToken, true);
        assert.deepEqual(pod.volumes.map((v) => ("secret" in v ? v.secret?.secretName : "emptyDir")), ["emptyDir", "openfaas-gitops-preview-7-abcd"]);
        assert.deepEqual(pod.containers[0]!.volumeMounts.find((m) => m.name === "preview"), { name: "preview", mountPath: PREVIEW_SECRET_DIR, readOnly: true });
        assert.deepEqual(pod.containers[0]!.env.find((e) => e.name === "PREVIEW_URL"), { name: "PREVIEW_URL", value: `http://10.0.0.5:8080/previews/${"f".repeat(32)}` });
        assert.ok(!JSON.stringify(job).includes("tok") && !JSON.stringify(job).includes("pass"), "the token and passphrase are only in the Secret");
        assert.deepEqual(secret.stringData, { token: "tok", passphrase: "pass" });
        assert.deepEqual(secret.metadata.ownerReferences, [{ apiVersion: "batch/v1", kind: "Job", name: "openfaas-gitops-preview-7-abcd", uid: "uid-1", controller: true }]);
    });
    it("one attempt, bounded in time, non-root and read-only, found by its labels", () => {
        assert.equal(job.spec.backoffLimit, 0);
        assert.equal(job.spec.activeDeadlineSeconds, 900);
        assert.equal(pod.restartPolicy, "Never");
        assert.deepEqual(pod.containers[0]!.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } });
        assert.equal(pod.securityContext.runAsNonRoot, true);
        assert.equal(job.metadata.labels["app.kubernetes.io/name"], PREVIEW_LABELS["app.kubernetes.io/name"]);
        assert.equal(job.metadata.labels["openfaas-gitops.dev/pull-request"], "7");
    });
    it("runs on any node, or on the nodes AGENT_PREVIEW_NODE_SELECTOR names, tolerating the taints AGENT_PREVIEW_TOLERATIONS names", () => {
        assert.equal("nodeSelector" in pod, false);
        assert.equal("tolerations" in pod, false);
        const pinned = previewPodObjects({ ...settings, nodeSelector: { pool: "previews" }, tolerations: [{ key: "pool", value: "previews", effect: "NoSchedule" }, { key: "untrusted" }] }, "n", 7, "f".repeat(32), "tok", "pass").job.spec.template.spec;
        assert.deepEqual(pinned.nodeSelector, { pool: "previews" });
        assert.deepEqual(pinned.tolerations, [{ key: "pool", operator: "Equal", value: "previews", effect: "NoSchedule" }, { key: "untrusted", operator: "Exists" }]);
    });
    it("a source over the limit is refused before any Job or Secret is made", async () => {
        // A KubeApi TEST DOUBLE that records every call: none may come.
        const calls: string[] = [];
        const record = async (p: string) => {
            calls.push(p);
            throw new Error("no call expected");
        };
        const kube = { createAt: record, deleteAt: record, getPath: record } as unknown as KubeApi;
        const file = path.join(tempDir("ofg-preview-big-"), "source.tar.gz");
        fs.writeFileSync(file, Buffer.alloc(2048));
        const previewer = new PodPreviewer(kube, new PreviewExchange(), settings, () => undefined);
        await assert.rejects(previewer.preview({ pullRequest: 7, job: JOB, sourceFile: file, passphrase: "pass" }, new AbortController().signal), /the source of a{12} is 2048 bytes packed, over the limit of 1024 \(agent\.artifactMaxBytes, AGENT_ARTIFACT_MAX_BYTES\)/);
        assert.deepEqual(calls, []);
    });
    it("a Job has ended without a result when it failed or its pod succeeded", () => {
        assert.equal(jobEnded({ status: {} }), undefined);
        assert.match(jobEnded({ status: { conditions: [{ type: "Failed", status: "True", reason: "DeadlineExceeded", message: "Job was active longer than specified deadline" }] } })!, /DeadlineExceeded: Job was active/);
        assert.match(jobEnded({ status: { succeeded: 1 } })!, /without posting a result/);
    });
});

describe("a pull_request delivery's label change (labelChange)", () => {
    const head = "a".repeat(40);
    const delivery = (o: unknown) => Buffer.from(JSON.stringify(o));
    it("takes labeled and unlabeled with a number, a label name and the head's sha; nothing else", () => {
        assert.deepEqual(labelChange(delivery({ action: "labeled", number: 7, label: { name: "preview" }, pull_request: { head: { sha: head } } })), { action: "labeled", number: 7, label: "preview", headSha: head });
        assert.deepEqual(labelChange(delivery({ action: "unlabeled", number: 7, label: { name: "preview" }, pull_request: { head: { sha: head } } }))?.action, "unlabeled");
        for (const bad of [
            { action: "synchronize", number: 7, label: { name: "preview" }, pull_request: { head: { sha: head } } },
            { action: "labeled", number: 0, label: { name: "preview" }, pull_request: { head: { sha: head } } },
            { action: "labeled", number: 7, label: { name: "" }, pull_request: { head: { sha: head } } },
            { action: "labeled", number: 7, label: { name: "preview" }, pull_request: { head: { sha: "HEAD" } } },
            { action: "labeled", number: 7, label: "preview", pull_request: { head: { sha: head } } },
            null,
            [],
        ]) assert.equal(labelChange(delivery(bad)), undefined, JSON.stringify(bad));
        assert.equal(labelChange(Buffer.from("not json")), undefined);
    });
    it("never throws, whatever the signed body (fast-check)", () => {
        fc.assert(
            fc.property(fc.oneof(fc.json(), fc.string(), fc.record({ action: fc.constantFrom("labeled", "unlabeled", "x"), number: fc.oneof(fc.integer(), fc.double(), fc.string()), label: fc.anything(), pull_request: fc.anything() }).map((o) => JSON.stringify(o))), (text) => {
                const r = labelChange(Buffer.from(text));
                if (r) assert.match(r.headSha, /^[0-9a-f]{40}([0-9a-f]{24})?$/);
            }),
            { numRuns: 500 },
        );
    });
});
