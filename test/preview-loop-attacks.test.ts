/**
 * The preview rounds (agent/preview-loop.ts) against what an attack review found (issue 22), each
 * case first written to show the defect, then turned around with its fix: the GitHub double (a TEST
 * DOUBLE of GitHub's REST API, test/support/github-double.ts), the real client, and a stand-in for
 * the preview pod.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import { after, before, describe, it } from "node:test";
import { TooLargeError } from "../agent/errors";
import { DEFAULT_LIMIT, gitHub } from "../agent/github";
import { PreviewLoop, PreviewLoopDeps } from "../agent/preview-loop";
import type { PodPreviewInput } from "../agent/preview-pods";
import type { PreviewPodResult } from "../agent/preview-protocol";
import { GitHubDouble } from "./support/github-double";
import { tempDir } from "./support/tmp";
import { until } from "./support/wait";

const REPO = "acme/platform";
const TOKEN = "ghs_agent_token_123456";
const sha = (c: string) => c.repeat(40);
const OK: PreviewPodResult = { ok: true, changes: { same: 1 }, changed: [], violations: [] };
const settle = () => new Promise((r) => setTimeout(r, 300));

/** A loop on `double`; `preview` is the stand-in pod (it answers OK unless given). */
function loopOn(double: GitHubDouble, over: Partial<PreviewLoopDeps> & { label?: string } = {}) {
    const previewed: PodPreviewInput[] = [];
    const deps: PreviewLoopDeps = {
        github: gitHub({ repository: REPO, token: () => TOKEN, baseUrl: double.url, retries: 0, timeoutMs: 30_000 }),
        archive: async (_n, _h, file) => fs.writeFileSync(file, "src"),
        inputs: async () => ({ state: "{}", secrets: [], passphrase: "the-passphrase", sourceMaxBytes: 1024, sourceMaxExtractedBytes: 4096 }),
        preflight: async () => undefined,
        busy: () => false,
        leads: () => true,
        log: () => undefined,
        clock: Date.now,
        ...over,
        preview: async (input, signal) => {
            previewed.push(input);
            return over.preview ? over.preview(input, signal) : OK;
        },
    };
    const loop = new PreviewLoop({ repository: REPO, branch: "main", writers: true, label: over.label, stack: "prod", projectPath: ".", parallel: 1, workDir: tempDir("ofg-preview-attack-"), listLimit: DEFAULT_LIMIT }, deps);
    return { loop, previewed };
}

describe("preview rounds under attack", () => {
    let double: GitHubDouble;
    before(async () => {
        double = await GitHubDouble.forPreviews(REPO, TOKEN);
    });
    after(async () => double?.close());

    it("a label approves only the head GitHub's signed labeled delivery names: not a later push, not after a restart", async () => {
        double.pulls.push({ number: 10, headSha: sha("a"), headRepository: REPO, baseRef: "main", author: "mallory", labels: ["preview"] });
        const first = loopOn(double, { label: "preview" });
        first.loop.poke({ action: "labeled", number: 10, label: "preview", headSha: sha("a") });
        await first.loop.tick();
        await until("head a previewed", () => (first.previewed.length === 1 ? true : undefined), 30_000);
        (double.pulls.find((p) => p.number === 10) as { headSha: string }).headSha = sha("b");
        await first.loop.tick();
        await settle();
        assert.equal(first.previewed.length, 1, "the head pushed after the label waits for a maintainer");
        await first.loop.close();
        // A restarted agent (or a new leader) has seen no labeled delivery: it approves nothing.
        const second = loopOn(double, { label: "preview" });
        await second.loop.tick();
        await settle();
        assert.deepEqual(second.previewed, []);
        await second.loop.close();
        double.pulls.length = 0;
    });

    it("a listing cut at its limit by pull requests from forks stops and forgets nothing it left out", async () => {
        let release!: () => void;
        const { loop, previewed } = loopOn(double, { preview: () => new Promise((resolve) => (release = () => resolve(OK))) });
        double.pulls.push({ number: 11, headSha: sha("d"), headRepository: REPO, baseRef: "main", author: "alice" });
        await loop.tick();
        await until("#11's preview to run", () => (previewed.length === 1 ? true : undefined), 30_000);
        // Anyone opens DEFAULT_LIMIT pull requests from forks: GitHub lists the newest first.
        for (let n = 200; n < 200 + DEFAULT_LIMIT; n++) double.pulls.unshift({ number: n, headSha: sha("c"), headRepository: "mallory/platform", baseRef: "main", author: "mallory" });
        let aborted = false;
        const statusesBefore = double.statuses.length;
        await loop.tick();
        release();
        await until("#11's result to be posted", () => (double.statuses.slice(statusesBefore).some((s) => s.sha === sha("d") && s.state === "success") ? true : undefined), 30_000).catch(() => (aborted = true));
        assert.equal(aborted, false, "#11's running preview was not taken for closed");
        await loop.close();
        double.pulls.length = 0;
    });

    it("a source over the limits fails that head's preview, said on the pull request, and is not fetched again", async () => {
        double.pulls.push({ number: 14, headSha: sha("1"), headRepository: REPO, baseRef: "main", author: "alice" });
        let fetches = 0;
        const { loop, previewed } = loopOn(double, {
            archive: async () => {
                fetches++;
                throw new TooLargeError("pull request #14's source is over the agent's limit of 52428800 bytes packed (agent.artifactMaxBytes, AGENT_ARTIFACT_MAX_BYTES): it is not previewed");
            },
        });
        await loop.tick();
        const status = await until("#14's red status", () => double.statuses.find((s) => s.sha === sha("1") && s.state !== "pending"), 30_000);
        assert.equal(status.state, "failure");
        assert.match(double.comments.find((c) => c.issue === 14)?.body ?? "", /over the agent's limit of 52428800 bytes packed \(agent\.artifactMaxBytes, AGENT_ARTIFACT_MAX_BYTES\)/);
        await loop.tick();
        await settle();
        assert.equal(fetches, 1, "that head is not fetched again");
        assert.deepEqual(previewed, [], "no pod");
        await loop.close();
        double.pulls.length = 0;
    });

    it("a round under way when leadership is lost starts nothing", async () => {
        double.pulls.push({ number: 13, headSha: sha("f"), headRepository: REPO, baseRef: "main", author: "alice" });
        let release: ((v: string | undefined) => void) | undefined;
        const { loop, previewed } = loopOn(double, { preflight: () => new Promise((r) => (release = r)) });
        const round = loop.tick();
        await until("the round waits on the preflight", () => (release ? true : undefined), 30_000);
        loop.stop();
        release!(undefined);
        await round;
        await settle();
        assert.deepEqual(previewed, []);
        await loop.close();
        double.pulls.length = 0;
    });

    it("a replica that does not lead previews nothing, whoever asks it to tick (an election callback run after leadership was lost again)", async () => {
        double.pulls.push({ number: 15, headSha: sha("5"), headRepository: REPO, baseRef: "main", author: "alice" });
        let leading = false;
        let lostDuringPreflight = false;
        const { loop, previewed } = loopOn(double, {
            leads: () => leading,
            preflight: async () => {
                if (lostDuringPreflight) leading = false;
                return undefined;
            },
        });
        const listed = () => double.requests.filter((r) => r.method === "GET" && /\/pulls(\?|$)/.test(r.target)).length;
        const before = listed();
        await loop.tick();
        await settle();
        assert.equal(listed(), before, "a follower does not even list the pull requests");
        // Leadership lost while the round waited on the preflight: it starts nothing.
        leading = true;
        lostDuringPreflight = true;
        await loop.tick();
        await settle();
        assert.ok(listed() > before);
        assert.deepEqual(previewed, []);
        lostDuringPreflight = false;
        leading = true;
        await loop.tick();
        await until("#15 previewed once this replica leads", () => (previewed.length === 1 ? true : undefined), 30_000);
        await loop.close();
        double.pulls.length = 0;
    });

    it("close() (SIGTERM) resolves only once every running preview has ended (its Job deleted)", async () => {
        double.pulls.push({ number: 14, headSha: sha("1"), headRepository: REPO, baseRef: "main", author: "alice" });
        let jobDeleted = false;
        const { loop, previewed } = loopOn(double, {
            // As PodPreviewer.preview: on abort, its finally deletes the Job (an apiserver round trip).
            preview: (_input, signal) => new Promise((_resolve, reject) => signal.addEventListener("abort", () => setTimeout(() => {
                jobDeleted = true;
                reject(signal.reason);
            }, 200))),
        });
        await loop.tick();
        await until("the preview to run", () => (previewed.length === 1 ? true : undefined), 30_000);
        await loop.close();
        assert.equal(jobDeleted, true, "main.ts exits after close(): the Job must be gone by then");
        double.pulls.length = 0;
    });
});
