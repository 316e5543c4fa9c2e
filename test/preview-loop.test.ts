/**
 * The leader's preview rounds (agent/preview-loop.ts) against the GitHub double (a TEST DOUBLE of
 * GitHub's REST API, validated against its OpenAPI description: test/support/github-double.ts),
 * with the real client (agent/github.ts), real source archives and a stand-in for the preview pod
 * (a function answering as the pod would: the pod itself, with the real engine, is in
 * test/preview-identity-engine.test.ts). What is shown: who is previewed, one comment per pull
 * request edited in place and marked outdated, no start while an apply runs, stale previews stopped,
 * a failure that is GitHub's or the pod's, and that no secret value reaches anything posted.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import { after, before, describe, it } from "node:test";
import { DEFAULT_LIMIT, gitHub } from "../agent/github";
import { PreviewLoop, previewResult, statusContext } from "../agent/preview-loop";
import type { PodPreviewInput } from "../agent/preview-pods";
import type { PreviewPodResult } from "../agent/preview-protocol";
import { commentMarker } from "../agent/previews";
import { GitHubDouble } from "./support/github-double";
import { tempDir } from "./support/tmp";
import { until } from "./support/wait";

const REPO = "acme/platform";
const TOKEN = "ghs_agent_token_123456";
const SECRET = "s3cret-admin-passw0rd";
const PASSPHRASE = "the-stack-passphrase-42";
const sha = (c: string) => c.repeat(40);

describe("the leader's preview rounds (GitHub double, stand-in pod)", () => {
    let double: GitHubDouble;
    const logs: { msg: string; fields?: Record<string, unknown> }[] = [];
    const work = tempDir("ofg-preview-loop-");
    let busy = false;
    let preflightProblem: string | undefined;
    /** What the stand-in pod answers, by head; a head missing here waits until released. */
    const answers = new Map<string, PreviewPodResult>();
    const previewed: PodPreviewInput[] = [];
    const waiting = new Map<string, (r: PreviewPodResult) => void>();
    const aborted: string[] = [];
    let loop: PreviewLoop;

    before(async () => {
        double = await GitHubDouble.forPreviews(REPO, TOKEN);
        const client = gitHub({ repository: REPO, token: () => TOKEN, baseUrl: double.url, retries: 1, timeoutMs: 30_000 });
        // GitHub has a status as soon as it answers, before the loop hears back: that answer is held
        // a while here, so a test waits for the preview's own end (its log), never for GitHub's record.
        const github = { ...client, setStatus: async (...a: Parameters<typeof client.setStatus>) => {
            await client.setStatus(...a);
            await new Promise((r) => setTimeout(r, 200));
        } };
        loop = new PreviewLoop(
            { repository: REPO, branch: "main", writers: true, label: "preview", stack: "prod", projectPath: ".", parallel: 1, statusUrl: "https://agent.example/", workDir: work, listLimit: DEFAULT_LIMIT },
            {
                github,
                archive: async (number, head, file) => {
                    fs.writeFileSync(file, `source of #${number} at ${head}`);
                },
                inputs: async () => ({ state: "{}", secrets: [SECRET], passphrase: PASSPHRASE, sourceMaxBytes: 1024, sourceMaxExtractedBytes: 4096 }),
                preview: (input, signal) => {
                    previewed.push(input);
                    const canned = answers.get(input.job.revision);
                    if (canned) return Promise.resolve(canned);
                    return new Promise((resolve, reject) => {
                        waiting.set(input.job.revision, resolve);
                        signal.addEventListener("abort", () => {
                            aborted.push(input.job.revision);
                            reject(signal.reason);
                        });
                    });
                },
                preflight: async () => preflightProblem,
                busy: () => busy,
                leads: () => true,
                log: (msg, fields) => logs.push({ msg, fields }),
                clock: Date.now,
            },
        );
    });
    after(async () => {
        await loop?.close();
        await double?.close();
    });

    const statusesOf = (head: string) => double.statuses.filter((s) => s.sha === head && s.context === statusContext("prod"));
    const commentsOn = (n: number) => double.comments.filter((c) => c.issue === n);
    /** The preview of `head` on `n` ended: posted, its source removed and its slot free. */
    const ended = (n: number, head: string) =>
        until(`the preview of #${n} at ${head.slice(0, 7)} to end`, () => (logs.some((l) => l.msg === "previews: posted" && l.fields?.pullRequest === n && l.fields?.head === head) ? true : undefined), 30_000);

    it("starts nothing while the preview identity could write (the preflight), and says why", async () => {
        preflightProblem = "the preview identity could write";
        double.pulls.push({ number: 1, headSha: sha("a"), headRepository: REPO, baseRef: "main", author: "alice" });
        await loop.tick();
        assert.deepEqual(previewed, []);
        assert.ok(logs.some((l) => l.msg === "previews: none starts" && l.fields?.error === "the preview identity could write"));
        preflightProblem = undefined;
    });

    it("previews a writer's pull request: a green status and one comment listing exactly its update; a fork, a draft and a reader's are left alone", async () => {
        double.pulls.push(
            { number: 2, headSha: sha("b"), headRepository: "mallory/platform", baseRef: "main", author: "alice" },
            { number: 3, headSha: sha("c"), headRepository: REPO, baseRef: "main", author: "mallory" },
            { number: 4, headSha: sha("d"), headRepository: REPO, baseRef: "main", author: "alice", draft: true },
            { number: 5, headSha: sha("e"), headRepository: REPO, baseRef: "release", author: "alice" },
        );
        answers.set(sha("a"), {
            ok: true,
            changes: { update: 3, same: 40 },
            changed: ["kubernetes:apps/v1:Deployment::fn-certinfo-deployment (update)", "openfaas-gitops:functions:OpenFaaSFunction::certinfo (update)", "pulumi:providers:kubernetes::kubernetes (update)"],
            violations: [],
        });
        await loop.tick();
        await ended(1, sha("a"));
        assert.deepEqual(previewed.map((p) => p.pullRequest), [1], "only #1: #2 is a fork's, #3's author cannot write, #4 is a draft, #5 is against another branch");
        assert.deepEqual(statusesOf(sha("a")).map((s) => [s.state, s.description]), [["pending", `previewing ${sha("a").slice(0, 12)}`], ["success", "2 change(s), policies pass"]]);
        const body = commentsOn(1)[0]!.body;
        assert.ok(body.startsWith(commentMarker("prod")));
        assert.match(body, /Changes: 2 to update\./);
        assert.match(body, /fn-certinfo-deployment \(update\)\nopenfaas-gitops:functions:OpenFaaSFunction::certinfo \(update\)\n```/);
        assert.doesNotMatch(body, /providers:kubernetes/, "the preview's own provider configuration is not a change of the pull request");
        assert.match(body, /\[The agent's status\]\(https:\/\/agent\.example\/\)/);
        assert.equal(previewed[0]!.passphrase, PASSPHRASE);
        assert.ok(!fs.readdirSync(work).length, "the source is removed after the preview");
    });

    it("a second push edits the same comment: first marked outdated, then replaced; each head is previewed once", async () => {
        await loop.tick();
        assert.equal(previewed.length, 1, "the same head is not previewed again");
        (double.pulls[0] as { headSha: string }).headSha = sha("f");
        busy = true;
        await loop.tick();
        assert.equal(previewed.length, 1, "no preview starts while an apply runs or waits");
        assert.equal(commentsOn(1).length, 1);
        assert.match(commentsOn(1)[0]!.body, /_Outdated: a newer commit has been pushed/);
        busy = false;
        answers.set(sha("f"), { ok: true, changes: { same: 43 }, changed: [], violations: [{ policy: "pinned-images", level: "advisory", message: "container x image y:latest: pin a version tag or a digest", resource: "kubernetes:apps/v1:Deployment::fn-x" }] });
        await loop.tick();
        await ended(1, sha("f"));
        assert.equal(commentsOn(1).length, 1, "still one comment");
        const body = commentsOn(1)[0]!.body;
        assert.doesNotMatch(body, /Outdated/);
        assert.match(body, new RegExp(`at \`${sha("f").slice(0, 12)}\`: passes`));
        assert.match(body, /\[advisory\] pinned-images \(kubernetes:apps\/v1:Deployment::fn-x\): container x image y:latest/);
    });

    it("a mandatory policy makes the status red, naming the policy", async () => {
        double.pulls.push({ number: 6, headSha: sha("6"), headRepository: REPO, baseRef: "main", author: "alice" });
        answers.set(sha("6"), { ok: false, message: "preview failed: 1 mandatory policy violation", violations: [{ policy: "pinned-images", level: "mandatory", message: "image y:latest" }] });
        await loop.tick();
        await ended(6, sha("6"));
        assert.equal(statusesOf(sha("6")).at(-1)!.description, "1 mandatory policy violation(s): pinned-images");
    });

    it("a newer head stops the preview of the old one; a label approves only the head GitHub's labeled delivery names", async () => {
        double.pulls.push({ number: 7, headSha: sha("7"), headRepository: REPO, baseRef: "main", author: "mallory", labels: ["preview"] });
        await loop.tick();
        assert.ok(!previewed.some((p) => p.pullRequest === 7), "a label seen in a listing approves nothing: the head it was added on is unknown");
        loop.poke({ action: "labeled", number: 7, label: "preview", headSha: sha("7") });
        await loop.tick();
        await until("#7's preview to start", () => (waiting.has(sha("7")) ? true : undefined), 30_000);
        const pr = double.pulls.find((p) => p.number === 7) as { headSha: string };
        pr.headSha = sha("8");
        await loop.tick();
        await until("the old preview to stop", () => (aborted.includes(sha("7")) ? true : undefined), 30_000);
        assert.ok(!previewed.some((p) => p.job.revision === sha("8")), "the label was added on the old head: the new one waits for a maintainer");
        assert.ok(!statusesOf(sha("7")).some((s) => s.state !== "pending"), "a stopped preview posts no result");
        waiting.clear();
    });

    it("a pod that fails, and a planted secret: a red status whose comment says why, with no secret value in anything posted", async () => {
        double.pulls.push({ number: 9, headSha: sha("9"), headRepository: REPO, baseRef: "main", author: "alice" });
        const b64 = Buffer.from(SECRET).toString("base64");
        answers.set(sha("9"), { ok: false, message: `Error: the program printed ${SECRET}, ${b64}, ${JSON.stringify(JSON.stringify(SECRET))} and ${PASSPHRASE}`, violations: [] });
        await loop.tick();
        await ended(9, sha("9"));
        assert.match(commentsOn(9)[0]!.body, /The preview failed:\n\n```text\nError: the program printed \[secret\], \[secret\], .*\[secret\].* and \[secret\]/);
        const posted = JSON.stringify(double.requests.map((r) => r.body ?? null));
        for (const form of [SECRET, b64, PASSPHRASE]) assert.ok(!posted.includes(form), `${form} never reaches GitHub`);
        assert.ok(!JSON.stringify(logs).includes(SECRET), "nor the agent's log");
    });

    it("GitHub down: the round fails, is logged and the next one tries again; every request was GitHub's own and on loopback", async () => {
        double.failNext(10, 502);
        await loop.tick();
        assert.ok(logs.some((l) => /this round failed/.test(l.msg) && /502/.test(String(l.fields?.error))), JSON.stringify(logs.slice(-3)));
        await loop.tick();
        assert.deepEqual(double.invalid(), []);
        for (const r of double.requests) assert.equal(r.remoteAddress, "127.0.0.1");
    });

    it("the kubernetes provider's own update is left out of a result, and counted out", () => {
        assert.deepEqual(previewResult({ ok: true, changes: { update: 1, same: 2 }, changed: ["pulumi:providers:kubernetes::kubernetes (update)"], violations: [] }), { ok: true, changes: { same: 2 }, changed: [], violations: [] });
        assert.deepEqual(previewResult({ ok: false, message: "m", violations: [] }), { ok: false, error: "m", violations: [] });
    });
});
