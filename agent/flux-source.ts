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
 * archive are not applied.
 */
import { execFile } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import * as path from "node:path";
import { promisify } from "node:util";
import { KubeApi, KubeApiError, WatchEvent } from "./kube-api";
import { jittered, PermanentError, Reason, SourceUnavailableError } from "./reconciler";

const run = promisify(execFile);

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

    constructor(private readonly api: KubeApi, private readonly o: FluxSourceOptions) {
        this.checkoutDir = path.join(o.workDir, "checkout");
        this.markerFile = path.join(o.workDir, "flux-artifact.json");
        this.where = `${o.namespace}/${o.name}`;
    }

    private get collection(): string {
        return `${GIT_REPOSITORY_API}/namespaces/${encodeURIComponent(this.o.namespace)}/gitrepositories`;
    }

    /** A new artifact (a new revision, or the same one rebuilt, e.g. after source-controller lost its storage) triggers a sync. */
    private observe(obj: GitRepositoryObject): void {
        this.latest = obj;
        const a = obj.status?.artifact;
        const key = a ? `${a.revision} ${a.digest} ${a.url}` : undefined;
        if (a && key !== this.seenArtifact) {
            this.seenArtifact = key;
            this.o.onRevision?.(a.revision);
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
                            `${this.collection}?fieldSelector=${encodeURIComponent(`metadata.name=${this.o.name}`)}`,
                        );
                        rv = list.metadata.resourceVersion;
                        if (list.items[0]) this.observe(list.items[0]);
                        else this.latest = undefined;
                    }
                    let expired = false;
                    await this.api.watch<GitRepositoryObject>(
                        this.collection,
                        { fieldSelector: `metadata.name=${this.o.name}`, resourceVersion: rv, timeoutSeconds: "300" },
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
                    this.o.log?.(`watch of GitRepository ${this.where} failed (${(e as Error).message}); listing again`);
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
                obj = await this.api.getPath<GitRepositoryObject>(`${this.collection}/${encodeURIComponent(this.o.name)}`);
            } catch (e) {
                if (e instanceof KubeApiError && e.code === 404) throw new Error(`GitRepository ${this.where} does not exist; the Flux component declares it (flux map in the stack config)`);
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
     * Makes the checkout exactly the artifact of `revision`: downloads it, verifies its digest, and
     * only then replaces the checkout (node_modules stays, as the dependency cache).
     */
    async checkout(revision: string): Promise<string> {
        const done = this.extracted();
        if (done?.revision === revision && fs.existsSync(this.checkoutDir)) return this.checkoutDir;
        const artifact = await this.current();
        if (artifact.revision !== revision) throw new Error(`${revision} is no longer the artifact of GitRepository ${this.where} (now ${artifact.revision}); the next check applies the new one`);
        const file = path.join(this.o.workDir, "flux-artifact.tar.gz");
        fs.mkdirSync(this.o.workDir, { recursive: true });
        const actual = await download(artifact.url, file);
        const problem = digestProblem(artifact.digest, actual, revision);
        if (problem) {
            fs.rmSync(file, { force: true });
            throw new PermanentError(problem, Reason.DigestMismatch, artifact.digest);
        }
        fs.mkdirSync(this.checkoutDir, { recursive: true });
        for (const entry of fs.readdirSync(this.checkoutDir)) {
            if (entry !== "node_modules") fs.rmSync(path.join(this.checkoutDir, entry), { recursive: true, force: true });
        }
        fs.rmSync(this.markerFile, { force: true });
        try {
            await run("tar", ["-xzf", file, "-C", this.checkoutDir, "--no-same-owner", "--no-same-permissions"], { timeout: 300_000 });
        } catch (e) {
            throw new Error(`cannot extract the artifact of ${revision}: ${((e as { stderr?: string }).stderr || (e as Error).message).trim()}`);
        } finally {
            fs.rmSync(file, { force: true });
        }
        fs.writeFileSync(this.markerFile, JSON.stringify({ revision, digest: artifact.digest } satisfies Extracted));
        return this.checkoutDir;
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
 * Streams `url` into `file`, hashing as it goes; resolves the sha256 hex. An unreachable server or a
 * 5xx/404 answer means source-controller (or its storage) is not there: a {@link SourceUnavailableError}.
 */
function download(url: string, file: string): Promise<string> {
    const get = url.startsWith("https:") ? https.get : http.get;
    return new Promise((resolve, reject) => {
        const unavailable = (why: string) => reject(new SourceUnavailableError(`cannot download the Flux artifact ${url}: ${why}; source-controller may be down, the next check tries again`));
        const req = get(url, { timeout: 60_000 }, (res) => {
            if (res.statusCode !== 200) {
                res.resume();
                return unavailable(`HTTP ${res.statusCode}`);
            }
            const hash = crypto.createHash("sha256");
            const out = fs.createWriteStream(file);
            res.on("data", (c: Buffer) => hash.update(c));
            res.pipe(out);
            out.on("finish", () => resolve(hash.digest("hex")));
            out.on("error", reject);
            res.on("error", (e) => unavailable(e.message));
        });
        req.on("timeout", () => req.destroy(new Error("no answer in 60 s")));
        req.on("error", (e) => unavailable(e.message));
    });
}
