/**
 * The Flux source: Flux's source-controller fetches the repository (credentials, known_hosts,
 * signature verification are its job), and the agent applies exactly the artifact it published.
 * The agent watches the GitRepository (a Kubernetes watch, not a poll), downloads
 * `status.artifact.url`, checks the bytes against `status.artifact.digest` and only then extracts
 * them. No git, ssh or known_hosts here: this is the way the Pulumi Kubernetes Operator consumes
 * Flux sources.
 *
 * Extraction uses the system `tar` (GNU tar, in every Debian image including the agent's): no npm
 * dependency for one call, and it only ever sees bytes whose digest matched, which source-controller
 * wrote. GNU tar refuses members with `..` and strips leading `/`; ownership and modes from the
 * archive are not applied. The agent decompresses and counts the bytes it feeds tar, so an archive
 * that expands beyond its limit is stopped while it is unpacked, not after.
 *
 * Every artifact is unpacked into a fresh directory, checked (no symlink leading out of it, no
 * node_modules link, no special files: agent/worktree.ts), and only then becomes the checkout, with
 * the dependency cache moved in from the previous one. Nothing an artifact leaves behind survives
 * into the next.
 */
import { spawn } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import * as path from "node:path";
import { pipeline } from "node:stream/promises";
import * as zlib from "node:zlib";
import { apiStatus, KubeApi, WatchEvent } from "../kube/api";
import { ByteCap } from "./byte-cap";
import { PermanentError, SourceUnavailableError } from "./errors";
import { jittered } from "./reconciler";
import { Reason } from "./status";
import { FIELDS, settingNames } from "./contract";
import { ArtifactLimits, DEFAULT_ARTIFACT_LIMITS } from "./settings";
import { assertContained, ownerAccess, regularFileBytes, removeTree } from "./worktree";

/**
 * How long tar may take to unpack an artifact within its size limits: 100 MiB unpacks in seconds on
 * a slow volume, so this ends only a tar stuck on its input or its disk.
 */
const EXTRACT_TIMEOUT_MS = 5 * 60_000;

/** The source.toolkit.fluxcd.io/v1 API path of GitRepositories. */
export const GIT_REPOSITORY_API = "/apis/source.toolkit.fluxcd.io/v1";

export interface FluxArtifact {
    readonly url: string;
    /** Flux's revision, e.g. `main@sha1:<40 hex>`. */
    readonly revision: string;
    /** `sha256:<64 hex>`. */
    readonly digest: string;
}

interface FluxCondition {
    readonly type: string;
    readonly status: string;
    readonly reason?: string;
    readonly message?: string;
}

export interface GitRepositoryObject {
    readonly metadata?: { readonly resourceVersion?: string; readonly name?: string };
    readonly status?: { readonly artifact?: FluxArtifact; readonly conditions?: readonly FluxCondition[] };
}

/** Pure: the hex of a `sha256:<hex>` digest; anything else is refused (the agent verifies only what it can). */
export function parseDigest(digest: string | undefined): string {
    const m = /^sha256:([0-9a-f]{64})$/.exec(digest ?? "");
    if (!m) throw new Error(`the artifact digest ${JSON.stringify(digest)} is not sha256:<64 hex digits>; the agent verifies sha256 only (source-controller's default --artifact-digest-algo)`);
    return m[1]!;
}

/** Pure: undefined when `actualHex` is the sha256 that `digest` advertises, else the refusal. */
export function digestProblem(digest: string, actualHex: string, revision: string): string | undefined {
    const expected = parseDigest(digest);
    if (crypto.timingSafeEqual(Buffer.from(expected, "hex"), Buffer.from(actualHex, "hex"))) return undefined;
    return `the artifact of ${revision} has digest sha256:${actualHex}, not the ${digest} that the GitRepository's status advertises; refusing to extract or apply it`;
}

/**
 * Pure: the artifact a GitRepository publishes, or why there is none yet: Flux's own Ready message
 * (authentication, host key, branch not found) is the best explanation the agent can give.
 */
export function artifactOf(obj: GitRepositoryObject, where: string): FluxArtifact {
    const a = obj.status?.artifact;
    if (a?.url && a.revision && a.digest) return a;
    const ready = obj.status?.conditions?.find((c) => c.type === "Ready");
    const why = ready && ready.status !== "True" ? `: ${ready.reason ?? "NotReady"}: ${ready.message ?? ""}` : " yet (source-controller has not fetched it)";
    throw new Error(`GitRepository ${where} has no artifact${why}`);
}

export interface FluxSourceOptions {
    readonly namespace: string;
    readonly name: string;
    /** The checkout directory and the downloaded artifact live here. */
    readonly workDir: string;
    /** Called when the watch sees a new artifact. */
    readonly onRevision?: (revision: string) => void;
    readonly log?: (line: string) => void;
    /** The Pulumi project inside the artifact: its node_modules is the dependency cache. @default "." */
    readonly projectPath?: string;
    /** @default the AGENT_ARTIFACT_* defaults */
    readonly limits?: ArtifactLimits;
}

/** Pure: a byte count as a person reads it, with the exact number. */
function sizeText(n: number): string {
    const mib = n / 2 ** 20;
    return mib >= 1 ? `${Number.isInteger(mib) ? mib : mib.toFixed(1)} MiB (${n} bytes)` : `${n} bytes`;
}

/** What was last extracted into the checkout, so a drift check of the applied revision needs no download. */
interface Extracted {
    readonly revision: string;
    readonly digest: string;
}

export class FluxSource {
    readonly checkoutDir: string;
    private readonly markerFile: string;
    private readonly where: string;
    private latest?: GitRepositoryObject;
    private readonly stopping = new AbortController();
    private seenArtifact?: string;
    private headDigest?: string;

    constructor(private readonly api: KubeApi, private readonly options: FluxSourceOptions) {
        this.checkoutDir = path.join(options.workDir, "checkout");
        this.markerFile = path.join(options.workDir, "flux-artifact.json");
        this.where = `${options.namespace}/${options.name}`;
    }

    private get collection(): string {
        return `${GIT_REPOSITORY_API}/namespaces/${encodeURIComponent(this.options.namespace)}/gitrepositories`;
    }

    /** A new artifact (a new revision, or the same one rebuilt, e.g. after source-controller lost its storage) triggers a sync. */
    private observe(obj: GitRepositoryObject): void {
        this.latest = obj;
        const a = obj.status?.artifact;
        const key = a ? `${a.revision} ${a.digest} ${a.url}` : undefined;
        if (a && key !== this.seenArtifact) {
            this.seenArtifact = key;
            this.options.onRevision?.(a.revision);
        }
    }

    /**
     * Lists then watches the one GitRepository until stopped, as client-go's reflector does: a
     * closed stream resumes from the last resourceVersion; an error or an expired resourceVersion
     * (410) re-lists after a jittered pause.
     */
    start(): void {
        const signal = this.stopping.signal;
        const loop = async () => {
            let rv: string | undefined;
            while (!signal.aborted) {
                try {
                    if (!rv) {
                        const list = await this.api.getPath<{ metadata: { resourceVersion: string }; items: GitRepositoryObject[] }>(
                            `${this.collection}?fieldSelector=${encodeURIComponent(`metadata.name=${this.options.name}`)}`,
                        );
                        rv = list.metadata.resourceVersion;
                        if (list.items[0]) this.observe(list.items[0]);
                        else this.latest = undefined;
                    }
                    let expired = false;
                    await this.api.watch<GitRepositoryObject>(
                        this.collection,
                        { fieldSelector: `metadata.name=${this.options.name}`, resourceVersion: rv, timeoutSeconds: "300" },
                        (e: WatchEvent<GitRepositoryObject>) => {
                            // An ERROR carries a Status, usually 410 Gone (the resourceVersion is too old): list again.
                            if (e.type === "ERROR") {
                                expired = true;
                                return;
                            }
                            rv = e.object.metadata?.resourceVersion ?? rv;
                            if (e.type === "DELETED") this.latest = undefined;
                            else if (e.type !== "BOOKMARK") this.observe(e.object);
                        },
                        signal,
                    );
                    if (expired) rv = undefined;
                } catch (e) {
                    if (signal.aborted) return;
                    rv = undefined;
                    this.latest = undefined;
                    this.options.log?.(`watch of GitRepository ${this.where} failed (${(e as Error).message}); listing again`);
                    await new Promise((r) => setTimeout(r, jittered(2000)).unref());
                }
            }
        };
        void loop();
    }

    stop(): void {
        this.stopping.abort();
    }

    /** The watched object, or (before the watch has it, or after it failed) a fresh GET. */
    private async current(): Promise<FluxArtifact> {
        let obj = this.latest;
        if (!obj) {
            try {
                obj = await this.api.getPath<GitRepositoryObject>(`${this.collection}/${encodeURIComponent(this.options.name)}`);
            } catch (e) {
                if (apiStatus(e) === 404) throw new Error(`GitRepository ${this.where} does not exist; the Flux component declares it (flux map in the stack config)`);
                throw new Error(`cannot read GitRepository ${this.where}: ${(e as Error).message}`);
            }
        }
        return artifactOf(obj, this.where);
    }

    /** Flux's revision of the artifact, e.g. `main@sha1:...`. A push hint is Flux's Receiver's job; it is ignored. */
    async head(): Promise<string> {
        const artifact = await this.current();
        this.headDigest = artifact.digest;
        return artifact.revision;
    }

    /** The digest of the artifact `head()` last saw: a DigestMismatch stall holds for that artifact only. */
    artifact(): string | undefined {
        return this.headDigest;
    }

    /**
     * Makes the checkout exactly the artifact of `revision`: downloads it (within the time and size
     * limits), verifies its digest, unpacks it into a fresh directory (within the unpacked size
     * limit), checks what it holds, and only then makes that the checkout, with the dependency
     * cache (the project's node_modules) moved in from the previous checkout.
     */
    async checkout(revision: string): Promise<string> {
        const done = this.extracted();
        if (done?.revision === revision && fs.existsSync(this.checkoutDir)) return this.checkoutDir;
        const artifact = await this.current();
        if (artifact.revision !== revision) throw new Error(`${revision} is no longer the artifact of GitRepository ${this.where} (now ${artifact.revision}); the next check applies the new one`);
        const limits = this.options.limits ?? DEFAULT_ARTIFACT_LIMITS;
        const file = path.join(this.options.workDir, "flux-artifact.tar.gz");
        fs.mkdirSync(this.options.workDir, { recursive: true });
        // What a killed agent left unpacking (one checkout at a time: nothing else uses them).
        for (const stale of fs.readdirSync(this.options.workDir).filter((e) => e.startsWith("incoming-"))) removeTree(path.join(this.options.workDir, stale));
        let incoming: string | undefined;
        try {
            const actual = await download(artifact.url, file, limits);
            const problem = digestProblem(artifact.digest, actual, revision);
            if (problem) throw new PermanentError(problem, Reason.DigestMismatch, artifact.digest);
            incoming = fs.mkdtempSync(path.join(this.options.workDir, "incoming-"));
            await extract(file, incoming, limits.maxExtractedBytes, revision);
            // The archive's directory modes (000, 0555) must not lock the agent out of its own work directory.
            ownerAccess(incoming);
            assertContained(incoming, `the artifact of ${revision}`);
            // A sparse member takes a few bytes of the archive and none of the disk, yet whatever reads it reads all of it.
            const unpacked = regularFileBytes(incoming);
            if (unpacked > limits.maxExtractedBytes) throw tooLargeUnpacked(revision, limits.maxExtractedBytes, `files of ${sizeText(unpacked)} in all (sparse files count by their size)`);
            this.replaceCheckout(incoming);
            incoming = undefined;
        } finally {
            fs.rmSync(file, { force: true });
            if (incoming) removeTree(incoming);
        }
        fs.writeFileSync(this.markerFile, JSON.stringify({ revision, digest: artifact.digest } satisfies Extracted));
        return this.checkoutDir;
    }

    /**
     * `incoming` (checked) becomes the checkout. Whatever the artifact has where the dependency cache
     * goes is dropped (npm ci installs exactly what the lockfile pins); the previous checkout's cache
     * is moved there, then the previous checkout is removed (removal unlinks symlinks, never follows them).
     */
    private replaceCheckout(incoming: string): void {
        const project = this.options.projectPath ?? ".";
        const cache = path.join(this.checkoutDir, project, "node_modules");
        const target = path.join(incoming, project, "node_modules");
        fs.rmSync(this.markerFile, { force: true });
        fs.rmSync(target, { recursive: true, force: true });
        if (fs.lstatSync(cache, { throwIfNoEntry: false }) && fs.statSync(path.dirname(target), { throwIfNoEntry: false })?.isDirectory()) fs.renameSync(cache, target);
        // The previous revision's program ran in it and may have changed its modes.
        removeTree(this.checkoutDir);
        fs.renameSync(incoming, this.checkoutDir);
    }

    private extracted(): Extracted | undefined {
        try {
            return JSON.parse(fs.readFileSync(this.markerFile, "utf8")) as Extracted;
        } catch {
            return undefined;
        }
    }

    /** The digest is checked in checkout, before extraction; commit signatures are source-controller's (GitRepository spec.verify). */
    async verify(): Promise<void> {}
}

/**
 * Streams `url` into `file`, hashing as it goes; resolves the sha256 hex. An unreachable server, a
 * 5xx/404 answer or a download that does not finish within `limits.timeoutMs` means source-controller
 * (or its storage) is not serving it: a {@link SourceUnavailableError}. An artifact larger than
 * `limits.maxBytes` (by its Content-Length, or by what arrives) is refused as soon as that is known.
 */
function download(url: string, file: string, limits: ArtifactLimits): Promise<string> {
    // The URL is whatever the GitRepository's status says: one http.get cannot take (another
    // scheme, a malformed URL) is refused here, before any timer exists. It used to throw inside
    // the promise below after the deadline was set, and the deadline then fired into a request that
    // was never made: an uncaught exception that ended the agent.
    let protocol: string | undefined;
    try {
        protocol = new URL(String(url)).protocol;
    } catch {
        protocol = undefined;
    }
    if (protocol !== "http:" && protocol !== "https:") {
        return Promise.reject(new SourceUnavailableError(`the Flux artifact URL ${JSON.stringify(String(url).slice(0, 200))} is not an http(s) URL; source-controller serves artifacts over http (check the GitRepository's status.artifact.url)`));
    }
    const get = protocol === "https:" ? https.get : http.get;
    return new Promise((resolve, reject) => {
        let settled = false;
        let out: fs.WriteStream | undefined;
        let req: http.ClientRequest | undefined;
        const finish = (e?: Error, hex?: string) => {
            if (settled) return;
            settled = true;
            clearTimeout(deadline);
            if (e) {
                req?.destroy();
                out?.destroy();
                reject(e);
            } else resolve(hex!);
        };
        const unavailable = (why: string) => finish(new SourceUnavailableError(`cannot download the Flux artifact ${url}: ${why}; source-controller may be down, the next check tries again`));
        const tooLarge = (size: string) =>
            finish(new Error(
                `the Flux artifact ${url} is ${size}, over the limit of ${sizeText(limits.maxBytes)} (${settingNames(FIELDS.artifactMaxBytes)}); nothing of it was applied. ` +
                    `Raise that limit if the repository really is that large, or leave files out of the artifact (the GitRepository's spec.ignore or a .sourceignore file)`,
            ));
        const deadline = setTimeout(
            () => unavailable(`not complete after ${limits.timeoutMs / 1000} s (${FIELDS.artifactTimeout.env}); a server that sends slowly is cut off so the next sync does not wait behind it`),
            limits.timeoutMs,
        );
        req = get(url, { timeout: Math.min(60_000, limits.timeoutMs) }, (res) => {
            if (res.statusCode !== 200) {
                res.resume();
                return unavailable(`HTTP ${res.statusCode}`);
            }
            const announced = Number(res.headers["content-length"]);
            if (announced > limits.maxBytes) return tooLarge(sizeText(announced));
            const hash = crypto.createHash("sha256");
            let received = 0;
            out = fs.createWriteStream(file);
            res.on("data", (c: Buffer) => {
                received += c.length;
                if (received > limits.maxBytes) return tooLarge(`more than ${sizeText(limits.maxBytes)}`);
                hash.update(c);
            });
            res.pipe(out);
            out.on("finish", () => finish(undefined, hash.digest("hex")));
            out.on("error", (e) => finish(e));
            res.on("error", (e) => unavailable(e.message));
        });
        const request = req;
        request.on("timeout", () => request.destroy(new Error(`no data for ${Math.min(60_000, limits.timeoutMs) / 1000} s`)));
        request.on("error", (e) => unavailable(e.message));
    });
}

/** The refusal of an artifact that unpacks to `what` (over `maxBytes`). */
function tooLargeUnpacked(revision: string, maxBytes: number, what: string): Error {
    return new Error(
        `the artifact of ${revision} unpacks to ${what}, over the limit of ${sizeText(maxBytes)} (${settingNames(FIELDS.artifactMaxExtractedBytes)}); nothing of it was applied. ` +
            `Raise that limit if the repository really is that large, or leave files out of the artifact (the GitRepository's spec.ignore or a .sourceignore file)`,
    );
}

/**
 * Unpacks the gzip'd tar `file` into `dir`, decompressing here and counting what is fed to tar: at
 * `maxBytes` tar is stopped, so an archive that expands to gigabytes costs at most that much disk.
 */
export async function extract(file: string, dir: string, maxBytes: number, revision: string): Promise<void> {
    const tar = spawn("tar", ["-x", "-f", "-", "-C", dir, "--no-same-owner", "--no-same-permissions"], { stdio: ["pipe", "ignore", "pipe"], timeout: EXTRACT_TIMEOUT_MS });
    let stderr = "";
    tar.stderr.on("data", (d: Buffer) => (stderr = (stderr + d).slice(-4000)));
    const exited = new Promise<number | null>((r) => {
        tar.on("close", (code) => r(code));
        tar.on("error", (e) => {
            stderr += e.message;
            r(null);
        });
    });
    const counter = new ByteCap(maxBytes, () => new Error("over the limit"));
    let feedError: Error | undefined;
    // tar may stop reading at the archive's end marker (EPIPE or a premature close here): its exit status decides.
    await pipeline(fs.createReadStream(file), zlib.createGunzip(), counter, tar.stdin).catch((e: Error) => (feedError = e));
    if (counter.overLimit) {
        tar.kill("SIGKILL");
        await exited;
        throw tooLargeUnpacked(revision, maxBytes, "more than that (unpacking was stopped at the limit)");
    }
    const code = await exited;
    const tarStopped = ["EPIPE", "ERR_STREAM_PREMATURE_CLOSE"].includes((feedError as NodeJS.ErrnoException | undefined)?.code ?? "");
    if (code !== 0 || (feedError && !tarStopped)) {
        const why = stderr.trim() || feedError?.message || (code === null ? `tar did not finish in ${EXTRACT_TIMEOUT_MS / 1000} s` : `tar exited ${code}`);
        throw new Error(`cannot extract the artifact of ${revision}: ${why}`);
    }
}
