/**
 * Pull-request previews, as the leader runs them (issue 22): every tick lists the open pull requests
 * against the branch, decides which previews start and stop (agent/previews.ts), and runs each in a
 * pod of its own (agent/preview-pods.ts); their results go to GitHub as a commit status on the head
 * and one comment per stack, edited in place. Nothing here holds up an apply: previews start only
 * while no run is going or waiting, an apply never waits for one, and GitHub being down only means
 * no previews (every failure is logged and the next tick tries again).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { TooLargeError } from "./errors";
import type { GitHub } from "./github";
import type { PreviewPodResult } from "./preview-protocol";
import { commentMarker, planPreviews, previewable, previewCommentBody, PreviewPolicy, PreviewResult, previewStatus, PullRequestRef, scrubbedExcerpt } from "./previews";
import type { PodPreviewInput } from "./preview-pods";

const run = promisify(execFile);

export interface PreviewLoopSettings extends PreviewPolicy {
    readonly stack: string;
    /** The policy pack's config in the source: `policies/config/<name>.json`. @default the stack's name */
    readonly policyConfig?: string;
    readonly projectPath: string;
    /** Previews at once. */
    readonly parallel: number;
    /** The agent's status page, linked from each comment. */
    readonly statusUrl?: string;
    /** Where pull requests' sources are written while their previews run. */
    readonly workDir: string;
    /**
     * The most open pull requests the GitHub client lists (its limit). A listing that long may have
     * left some out: those are not taken for closed, so their previews go on.
     */
    readonly listLimit: number;
}

/** What a preview needs from the trusted side: the state, the secret values, the passphrase, the installed dependencies. */
export interface PreviewInputs {
    readonly state: string;
    readonly secrets: readonly string[];
    readonly passphrase: string;
    readonly dependencies?: { readonly hash: string; readonly dir: string };
    readonly sourceMaxBytes: number;
    readonly sourceMaxExtractedBytes: number;
}

export interface PreviewLoopDeps {
    readonly github: GitHub;
    /** Writes pull request `number`'s head tree, if it is still `sha`, to `file` (gzip'd tar, one directory at the top). */
    readonly archive: (number: number, sha: string, file: string) => Promise<void>;
    /** The inputs, with `prConfigFile` (the pull request's stack config) among the configs whose secrets are withheld. */
    readonly inputs: (prConfigFile: string | undefined) => Promise<PreviewInputs>;
    /** Why no preview may run now (PodPreviewer.preflight: the preview identity must be denied writes), or undefined. */
    readonly preflight: () => Promise<string | undefined>;
    /** Runs one preview (PodPreviewer.preview). */
    readonly preview: (input: PodPreviewInput, signal: AbortSignal) => Promise<PreviewPodResult>;
    /** Whether an apply or drift run is going or waiting. */
    readonly busy: () => boolean;
    /**
     * Whether this replica leads. Only the leader previews: a round that a caller started late (an
     * election callback that ran after leadership was lost again) lists and starts nothing.
     */
    readonly leads: () => boolean;
    readonly log: (msg: string, fields?: Record<string, unknown>) => void;
    readonly clock: () => number;
}

/** The commit status context of a stack's preview. */
export function statusContext(stack: string): string {
    return `openfaas-gitops/preview (${stack})`;
}

/**
 * Pure: a pod's result as a comment states it. The preview pod's provider reaches the cluster with
 * the preview identity, not with the configuration the state recorded, so every preview would show
 * the default kubernetes provider as an update: that one step is left out (a pull request that
 * changes the provider's own settings shows it as the update of the resources it affects). The
 * resources are sorted.
 */
export function previewResult(r: PreviewPodResult): PreviewResult {
    if (!r.ok) return { ok: false, error: r.message, violations: r.violations };
    const own = (c: string) => /^pulumi:providers:kubernetes::[^ ]+ \(update\)$/.test(c);
    const dropped = r.changed.filter(own).length;
    const changes = { ...r.changes };
    if (dropped > 0 && changes.update !== undefined) changes.update = Math.max(0, changes.update - dropped);
    if (changes.update === 0) delete changes.update;
    // Sorted: the engine reports steps as they come, and the same change should read (and post) the same.
    return { ok: true, changes, changed: r.changed.filter((c) => !own(c)).sort(), violations: r.violations };
}

/**
 * The open pull requests the agent's client lists for previews: GitHub lists the newest first and
 * anyone can open pull requests from forks, so a short listing could be filled by them.
 */
export const PREVIEW_LIST_LIMIT = 500;

/** How long a passed preflight holds: the admission policy is checked again after this. */
const PREFLIGHT_VALID_MS = 10 * 60_000;

/** The least time between two rounds a webhook delivery starts: a burst of deliveries is one round. */
const POKE_GAP_MS = 5_000;

interface Running {
    readonly head: string;
    readonly controller: AbortController;
}

export class PreviewLoop {
    private readonly running = new Map<number, Running>();
    private readonly previewed = new Map<number, string>();
    private readonly waitingSince = new Map<number, number>();
    /** The head each pull request had when GitHub's signed `labeled` delivery said the label was added. */
    private readonly labelledHeads = new Map<number, string>();
    /** The head of the last comment posted on each pull request, and that comment marked outdated (posted when a newer head arrives). */
    private readonly posted = new Map<number, { head: string; outdatedBody?: string }>();
    /** Each running preview's end (its pod deleted), for close(). */
    private readonly settling = new Set<Promise<unknown>>();
    private ticking?: Promise<void>;
    private preflightPassedAt?: number;
    private stopped = false;
    /** Counts stop()s: a round that began before one starts nothing. */
    private generation = 0;
    private lastRoundAt = Number.NEGATIVE_INFINITY;
    private pokeTimer?: NodeJS.Timeout;

    constructor(private readonly settings: PreviewLoopSettings, private readonly deps: PreviewLoopDeps) {}

    /** One round: list, decide, start and stop. Rounds never overlap; a failure is logged and the next round tries again. */
    tick(): Promise<void> {
        if (this.stopped) return Promise.resolve();
        this.ticking ??= this.round()
            .catch((e: Error) => this.deps.log("previews: this round failed; the next one tries again", { error: e.message }))
            .finally(() => (this.ticking = undefined));
        return this.ticking;
    }

    /**
     * A signed `pull_request` delivery: a round soon (at most one each {@link POKE_GAP_MS}), and a
     * label change recorded with the head GitHub says it happened on.
     */
    poke(change?: { readonly action: "labeled" | "unlabeled"; readonly number: number; readonly label: string; readonly headSha: string }): void {
        if (change && change.label === this.settings.label) {
            if (change.action === "labeled") this.labelledHeads.set(change.number, change.headSha);
            else this.labelledHeads.delete(change.number);
        }
        if (this.stopped || this.pokeTimer) return;
        const wait = Math.max(0, this.lastRoundAt + POKE_GAP_MS - this.deps.clock());
        this.pokeTimer = setTimeout(() => {
            this.pokeTimer = undefined;
            void this.tick();
        }, wait);
    }

    /** Stops every running preview and any round under way (leadership lost, shutdown); a later tick starts again. */
    stop(): void {
        this.generation++;
        for (const r of this.running.values()) r.controller.abort(new Error("the agent stopped previewing"));
    }

    /** Stops for good: no more rounds, and resolves once every running preview has ended (its pod deleted). */
    async close(): Promise<void> {
        this.stopped = true;
        clearTimeout(this.pokeTimer);
        this.stop();
        await this.ticking;
        await Promise.allSettled([...this.settling]);
    }

    private async round(): Promise<void> {
        if (!this.deps.leads()) return;
        const generation = this.generation;
        this.lastRoundAt = this.deps.clock();
        const open = await this.deps.github.openPullRequests(this.settings.branch);
        const complete = open.length < this.settings.listLimit;
        const now = this.deps.clock();
        const refs: PullRequestRef[] = [];
        const writers = new Map<string, boolean>();
        for (const pr of open) {
            if (this.settings.label && !pr.labels.includes(this.settings.label)) this.labelledHeads.delete(pr.number);
            if (pr.draft) continue;
            const ref: PullRequestRef = { ...pr, labelledHead: this.labelledHeads.get(pr.number) };
            // GitHub is asked whether the author may write only when nothing else decides: once per author per round.
            const first = previewable(ref, this.settings, () => false);
            let ok = first.ok;
            if (!ok && this.settings.writers && pr.headRepository.toLowerCase() === this.settings.repository.toLowerCase() && pr.baseRef === this.settings.branch) {
                const writer = writers.get(pr.author) ?? (await this.deps.github.canWrite(pr.author));
                writers.set(pr.author, writer);
                ok = previewable(ref, this.settings, () => writer).ok;
            }
            if (!ok) continue;
            refs.push(ref);
            if (this.previewed.get(pr.number) !== pr.headSha && !this.waitingSince.has(pr.number)) this.waitingSince.set(pr.number, now);
            await this.markOutdated(pr.number, pr.headSha);
        }
        const openNumbers = new Set(open.map((p) => p.number));
        // A listing cut at its limit may have left open pull requests out: nothing is forgotten or stopped for it.
        for (const n of complete ? [...this.previewed.keys(), ...this.labelledHeads.keys(), ...this.posted.keys()] : []) {
            if (!openNumbers.has(n)) {
                this.previewed.delete(n);
                this.labelledHeads.delete(n);
                this.posted.delete(n);
                this.waitingSince.delete(n);
            }
        }
        const plan = planPreviews(refs, { running: new Map([...this.running].map(([n, r]) => [n, r.head])), previewed: this.previewed, waitingSince: this.waitingSince }, this.deps.busy(), this.settings.parallel);
        for (const n of complete ? plan.cancel : plan.cancel.filter((c) => openNumbers.has(c))) {
            this.deps.log("previews: stopping an outdated preview", { pullRequest: n, head: this.running.get(n)?.head });
            this.running.get(n)?.controller.abort(new Error("a newer head was pushed, or the pull request is closed"));
            this.running.delete(n);
        }
        if (plan.start.length === 0) return;
        const at = this.deps.clock();
        if (this.preflightPassedAt === undefined || at - this.preflightPassedAt > PREFLIGHT_VALID_MS) {
            const why = await this.deps.preflight();
            if (why) {
                this.preflightPassedAt = undefined;
                this.deps.log("previews: none starts", { error: why });
                return;
            }
            this.preflightPassedAt = at;
        }
        // Stopped (leadership lost) while this round waited on GitHub or the preflight: it starts nothing.
        if (generation !== this.generation || this.stopped || !this.deps.leads()) return;
        for (const pr of plan.start) this.start(pr);
    }

    /** Edits the posted comment of `number` to say it is outdated, once its head has moved on. */
    private async markOutdated(number: number, head: string): Promise<void> {
        const last = this.posted.get(number);
        if (!last?.outdatedBody || last.head === head) return;
        const body = last.outdatedBody;
        last.outdatedBody = undefined;
        await this.deps.github.upsertComment(number, commentMarker(this.settings.stack), body);
    }

    private start(pr: PullRequestRef): void {
        const controller = new AbortController();
        this.running.set(pr.number, { head: pr.headSha, controller });
        this.waitingSince.delete(pr.number);
        const started = this.deps.clock();
        const settled: Promise<void> = this.previewOne(pr, controller.signal)
            .then(
                () => this.deps.log("previews: posted", { pullRequest: pr.number, head: pr.headSha, seconds: Math.round((this.deps.clock() - started) / 1000) }),
                (e: Error) => {
                    if (controller.signal.aborted) this.deps.log("previews: stopped", { pullRequest: pr.number, head: pr.headSha, why: (controller.signal.reason as Error | undefined)?.message });
                    else this.deps.log("previews: could not preview or post; the next round tries again", { pullRequest: pr.number, head: pr.headSha, error: e.message });
                },
            )
            .finally(() => {
                if (this.running.get(pr.number)?.controller === controller) this.running.delete(pr.number);
                this.settling.delete(settled);
            });
        this.settling.add(settled);
    }

    private async previewOne(pr: PullRequestRef, signal: AbortSignal): Promise<void> {
        const { stack } = this.settings;
        const context = statusContext(stack);
        const targetUrl = this.settings.statusUrl;
        await this.deps.github.setStatus(pr.headSha, { state: "pending", context, description: `previewing ${pr.headSha.slice(0, 12)}`, targetUrl });
        const dir = fs.mkdtempSync(path.join(this.settings.workDir, `preview-${pr.number}-`));
        try {
            const sourceFile = path.join(dir, "source.tar.gz");
            try {
                await this.deps.archive(pr.number, pr.headSha, sourceFile);
            } catch (e) {
                // Over the limits: a failed preview of this head, said so, never fetched again.
                if (!(e instanceof TooLargeError) || signal.aborted) throw e;
                await this.post(pr, { ok: false, message: e.message, violations: [] }, []);
                return;
            }
            signal.throwIfAborted();
            const prConfig = await stackConfigOf(sourceFile, this.settings.projectPath, stack, path.join(dir, `Pulumi.${stack}.yaml`));
            const inputs = await this.deps.inputs(prConfig);
            signal.throwIfAborted();
            let pod: PreviewPodResult;
            try {
                pod = await this.deps.preview(
                    {
                        pullRequest: pr.number,
                        job: { stack, policyConfig: this.settings.policyConfig, projectPath: this.settings.projectPath, revision: pr.headSha, state: inputs.state, sourceMaxBytes: inputs.sourceMaxBytes, sourceMaxExtractedBytes: inputs.sourceMaxExtractedBytes, dependencies: inputs.dependencies?.hash },
                        sourceFile,
                        dependenciesDir: inputs.dependencies?.dir,
                        passphrase: inputs.passphrase,
                    },
                    signal,
                );
            } catch (e) {
                if (signal.aborted) throw e;
                // The pod could not start or ended without a result: a failed preview, said so.
                pod = { ok: false, message: (e as Error).message, violations: [] };
            }
            signal.throwIfAborted();
            // The passphrase too: the pod had it, and the program could print it.
            await this.post(pr, pod, [...inputs.secrets, inputs.passphrase]);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    }

    /** Posts `pod`'s result for the head of `pr` (the comment, then the status), withholding `secrets`; that head is previewed. */
    private async post(pr: PullRequestRef, pod: PreviewPodResult, secrets: readonly string[]): Promise<void> {
        const { stack } = this.settings;
        const targetUrl = this.settings.statusUrl;
        const result = previewResult(pod);
        const status = previewStatus(result, secrets);
        // The comment first: a status that has turned says its comment is there to read.
        await this.deps.github.upsertComment(pr.number, commentMarker(stack), previewCommentBody({ stack, revision: pr.headSha, result, statusUrl: targetUrl, secrets }));
        await this.deps.github.setStatus(pr.headSha, { ...status, context: statusContext(stack), targetUrl });
        this.previewed.set(pr.number, pr.headSha);
        // Only the outdated form is kept (rendered now, scrubbed): not the result, not the secret values.
        this.posted.set(pr.number, { head: pr.headSha, outdatedBody: previewCommentBody({ stack, revision: pr.headSha, result, statusUrl: targetUrl, outdated: true, secrets }) });
        if (!result.ok) this.deps.log("previews: the preview failed", { pullRequest: pr.number, head: pr.headSha, error: scrubbedExcerpt(result.error, secrets, 2000).text });
    }
}

/**
 * The pull request's own stack config, from its source archive, written to `out`; undefined when
 * it has none. Its secrets are ciphertext (nothing is decrypted here): the agent's CLI decrypts
 * them to withhold their values too.
 */
async function stackConfigOf(archive: string, projectPath: string, stack: string, out: string): Promise<string | undefined> {
    const member = path.posix.normalize(path.posix.join("*", projectPath, "stacks", `Pulumi.${stack}.yaml`));
    try {
        const { stdout } = await run("tar", ["-xzOf", archive, "--wildcards", "--no-wildcards-match-slash", member], { maxBuffer: 16 * 1024 * 1024 });
        fs.writeFileSync(out, stdout, { mode: 0o600 });
        return out;
    } catch {
        return undefined;
    }
}
