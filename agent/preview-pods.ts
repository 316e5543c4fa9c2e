/**
 * Where a pull request's preview runs (issue 22): a pod of its own, one per preview. The pull
 * request's program is untrusted until merged, and the agent's container holds what it must never
 * reach (the agent's ServiceAccount token, the deploy key, the backend's credentials, the GitHub
 * token), readable by the one user the container runs as. So the preview gets a Job in the preview
 * identity's namespace: the agent's image, that identity's token (read and dry-run only), a Secret
 * of its own with a one-time bearer token and the stack's passphrase, and nothing else. It fetches
 * its job and source from the agent and posts its result back (agent/preview-main.ts); the agent
 * deletes the Job when the result is in, or when the preview runs out of time or is cancelled, so
 * the pod's token dies with it.
 */
import { spawn } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import { PassThrough, Readable } from "node:stream";
import { apiErrorText, apiStatus, KubeApi } from "../kube/api";
import { FIELDS, PREVIEW_IDENTITY, PreviewToleration, settingNames } from "./contract";
import { parsePodResult, PREVIEW_PATHS, PREVIEW_SECRET_DIR, PREVIEW_SECRET_KEYS, PREVIEW_URL_ENV, PreviewJob, PreviewPodResult } from "./preview-protocol";

/** Labels of every preview's Job, pod and Secret. */
export const PREVIEW_LABELS = { "app.kubernetes.io/name": PREVIEW_IDENTITY, "app.kubernetes.io/managed-by": "openfaas-gitops-agent" } as const;

export interface PreviewPodSettings {
    /** The preview identity's namespace: its pods run there. */
    readonly namespace: string;
    /** The image of the preview pods: the agent's own (it carries preview-main.js, the CLI and the plugins). */
    readonly image: string;
    /** Where the pods reach the agent (its Service), e.g. http://openfaas-gitops-agent.openfaas-gitops.svc.cluster.local:8080. */
    readonly agentUrl: string;
    /** A preview longer than this is stopped as a failure (the Job's activeDeadlineSeconds too). */
    readonly timeoutSeconds: number;
    /** Variables the pods get as they are (the agent's proxy settings, so `npm ci` reaches the registry as the agent does). */
    readonly env?: Readonly<Record<string, string>>;
    /** Where the pods may run (a node pool for untrusted code, say). @default anywhere */
    readonly nodeSelector?: Readonly<Record<string, string>>;
    /** The taints of that pool the pods tolerate. @default none */
    readonly tolerations?: readonly PreviewToleration[];
}

/** Pure: the Job and Secret of one preview, named `name`. The Secret is owned by the Job once the Job exists (ownerUid). */
export function previewPodObjects(s: PreviewPodSettings, name: string, pullRequest: number, id: string, token: string, passphrase: string, ownerUid?: string) {
    const labels = { ...PREVIEW_LABELS, "openfaas-gitops.dev/pull-request": String(pullRequest) };
    const job = {
        apiVersion: "batch/v1",
        kind: "Job",
        metadata: { name, namespace: s.namespace, labels },
        spec: {
            // One attempt: a failed preview is a result, not something to retry with the same input.
            backoffLimit: 0,
            activeDeadlineSeconds: s.timeoutSeconds,
            // The agent deletes it; this is for an agent that died first.
            ttlSecondsAfterFinished: 600,
            template: {
                metadata: { labels },
                spec: {
                    serviceAccountName: PREVIEW_IDENTITY,
                    // The ServiceAccount turns the mount off; the preview pod is the one place its token is for.
                    automountServiceAccountToken: true,
                    enableServiceLinks: false,
                    restartPolicy: "Never",
                    ...(s.nodeSelector ? { nodeSelector: { ...s.nodeSelector } } : {}),
                    ...(s.tolerations?.length ? { tolerations: s.tolerations.map((t) => ({ key: t.key, operator: t.value === undefined ? "Exists" : "Equal", ...(t.value !== undefined ? { value: t.value } : {}), ...(t.effect ? { effect: t.effect } : {}) })) } : {}),
                    securityContext: { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, fsGroup: 10001, seccompProfile: { type: "RuntimeDefault" } },
                    containers: [
                        {
                            name: "preview",
                            image: s.image,
                            command: ["node", "build/agent/preview-main.js"],
                            env: [
                                ...Object.entries(s.env ?? {}).map(([k, v]) => ({ name: k, value: v })),
                                { name: PREVIEW_URL_ENV, value: `${s.agentUrl.replace(/\/$/, "")}/previews/${id}` },
                                { name: "HOME", value: "/work" },
                                { name: "TMPDIR", value: "/work" },
                                { name: "PULUMI_HOME", value: "/work/.pulumi" },
                            ],
                            securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
                            // A preview runs npm ci and the engine: the agent's own sizes for a run.
                            resources: { requests: { cpu: "250m", memory: "512Mi" }, limits: { memory: "2Gi", "ephemeral-storage": "4Gi" } },
                            volumeMounts: [
                                { name: "work", mountPath: "/work" },
                                { name: "preview", mountPath: PREVIEW_SECRET_DIR, readOnly: true },
                            ],
                        },
                    ],
                    volumes: [
                        { name: "work", emptyDir: { sizeLimit: "4Gi" } },
                        { name: "preview", secret: { secretName: name, defaultMode: 0o400 } },
                    ],
                },
            },
        },
    };
    const secret = {
        apiVersion: "v1",
        kind: "Secret",
        metadata: {
            name,
            namespace: s.namespace,
            labels,
            ...(ownerUid ? { ownerReferences: [{ apiVersion: "batch/v1", kind: "Job", name, uid: ownerUid, controller: true }] } : {}),
        },
        type: "Opaque",
        stringData: { [PREVIEW_SECRET_KEYS.token]: token, [PREVIEW_SECRET_KEYS.passphrase]: passphrase },
    };
    return { job, secret };
}

/** One preview's open exchange: what its pod may fetch, once each, and the result it may post, once. */
interface Slot {
    readonly token: string;
    job?: string;
    source?: string;
    dependencies?: string;
    readonly deliver: (r: PreviewPodResult) => void;
    delivered: boolean;
}

/** The answer to a preview pod's request: status and body (a Buffer for the source, a stream for the dependencies). */
export interface ExchangeReply {
    readonly code: number;
    readonly body: string | Buffer | Readable;
    readonly type?: string;
}

/**
 * A tar of `dir`'s node_modules, streamed (hundreds of MB: never held in memory). Links stay links:
 * a workspace's (node_modules/<name> -> ../<dir>) then leads to the pull request's own directory.
 */
function nodeModulesTar(dir: string): Readable {
    const tar = spawn("tar", ["-c", "-f", "-", "-C", dir, "node_modules"], { stdio: ["ignore", "pipe", "ignore"] });
    const out = new PassThrough();
    // A tar that cannot start, or fails midway (a node_modules an apply's npm ci is replacing), cuts
    // the answer: the pod sees a broken transfer, never a short archive as a whole one.
    tar.on("error", (e) => out.destroy(e));
    tar.on("close", (code) => (code === 0 ? out.end() : out.destroy(new Error(`tar of the dependencies exited ${code}`))));
    tar.stdout.pipe(out, { end: false });
    out.on("close", () => tar.kill());
    return out;
}

/**
 * The agent's side of the pods' requests (agent/server.ts routes `/previews/<id>/<what>` here).
 * Each preview has a random id and a 256-bit token; its job and source are served once each (a
 * second fetch gets 410: a pod's token that leaked cannot fetch them again), its result taken once.
 */
export class PreviewExchange {
    private readonly slots = new Map<string, Slot>();

    /**
     * Opens a preview's exchange; `close()` ends it (unanswered requests get 404 from then on).
     * `dependenciesDir`: the project directory whose node_modules is offered (job.dependencies).
     */
    open(job: PreviewJob, sourceFile: string, dependenciesDir?: string): { readonly id: string; readonly token: string; readonly result: Promise<PreviewPodResult>; close(): void } {
        const id = crypto.randomBytes(16).toString("hex");
        const token = crypto.randomBytes(32).toString("base64url");
        let deliver!: (r: PreviewPodResult) => void;
        const result = new Promise<PreviewPodResult>((resolve) => (deliver = resolve));
        this.slots.set(id, { token, job: JSON.stringify(job), source: sourceFile, dependencies: job.dependencies ? dependenciesDir : undefined, deliver, delivered: false });
        return { id, token, result, close: () => void this.slots.delete(id) };
    }

    /** Whether `id` is open and `given` is its token (compared in constant time). */
    authorized(id: string, given: string | undefined): boolean | undefined {
        const slot = this.slots.get(id);
        if (!slot) return undefined;
        if (given === undefined) return false;
        const digest = (t: string) => crypto.createHash("sha256").update(t).digest();
        return crypto.timingSafeEqual(digest(given), digest(slot.token));
    }

    /** GET job, source or dependencies of an authorized preview: each once. */
    fetch(id: string, what: string): ExchangeReply {
        const slot = this.slots.get(id);
        if (!slot) return { code: 404, body: "no such preview\n" };
        if (what === PREVIEW_PATHS.job) {
            const job = slot.job;
            slot.job = undefined;
            return job === undefined ? { code: 410, body: "the job was fetched already\n" } : { code: 200, body: job, type: "application/json" };
        }
        if (what === PREVIEW_PATHS.source) {
            const file = slot.source;
            slot.source = undefined;
            // Streamed: an archive is up to the source limit, and up to `parallel` are fetched at once.
            return file === undefined ? { code: 410, body: "the source was fetched already\n" } : { code: 200, body: fs.createReadStream(file), type: "application/gzip" };
        }
        if (what === PREVIEW_PATHS.dependencies) {
            const dir = slot.dependencies;
            slot.dependencies = undefined;
            return dir === undefined ? { code: 410, body: "no dependencies are offered, or they were fetched already\n" } : { code: 200, body: nodeModulesTar(dir), type: "application/x-tar" };
        }
        return { code: 404, body: "not found\n" };
    }

    /** POST result of an authorized preview, with its body: taken once, if it fits its schema. */
    deliver(id: string, body: Buffer): ExchangeReply {
        const slot = this.slots.get(id);
        if (!slot) return { code: 404, body: "no such preview\n" };
        if (slot.delivered) return { code: 409, body: "a result was posted already\n" };
        const parsed = parsePodResult(body);
        if ("error" in parsed) return { code: 400, body: `${parsed.error}\n` };
        slot.delivered = true;
        slot.deliver(parsed.result);
        return { code: 200, body: "taken\n" };
    }
}

/** What a preview pod needs from the agent. */
export interface PodPreviewInput {
    readonly pullRequest: number;
    readonly job: PreviewJob;
    /** The source, a gzip'd tar with one directory at its top. */
    readonly sourceFile: string;
    /** The project directory whose node_modules is offered, when job.dependencies is set. */
    readonly dependenciesDir?: string;
    readonly passphrase: string;
}

/** How often the Job's status is read while its result is awaited. */
const JOB_POLL_MS = 3_000;

/**
 * Pure: why a Job has ended without a result (its Failed condition), or undefined while it has not.
 * A Job whose pod succeeded without posting a result has ended too.
 */
export function jobEnded(job: { status?: { conditions?: { type?: string; status?: string; reason?: string; message?: string }[]; succeeded?: number } }): string | undefined {
    const failed = job.status?.conditions?.find((c) => c.type === "Failed" && c.status === "True");
    if (failed) return `the preview pod failed (${failed.reason ?? "no reason"}${failed.message ? `: ${failed.message}` : ""})`;
    if ((job.status?.succeeded ?? 0) > 0) return "the preview pod ended without posting a result";
    return undefined;
}

/** Runs previews as pods: one Job each, deleted when its result is in or it ends otherwise. */
export class PodPreviewer {
    constructor(
        private readonly kube: KubeApi,
        private readonly exchange: PreviewExchange,
        private readonly settings: PreviewPodSettings,
        private readonly log: (line: string) => void,
    ) {}

    /**
     * Why previews must not run, or undefined when they may: the agent, as the preview identity
     * (impersonation), creates a ConfigMap for real, which the identity's admission policy must deny.
     * A write that got through (the policy or its binding removed, an apiserver before 1.30) is
     * deleted at once and stops every preview until it is denied again.
     */
    async preflight(): Promise<string | undefined> {
        const ns = encodeURIComponent(this.settings.namespace);
        const name = `${PREVIEW_IDENTITY}-canary-${crypto.randomBytes(4).toString("hex")}`;
        const user = `system:serviceaccount:${this.settings.namespace}:${PREVIEW_IDENTITY}`;
        try {
            await this.kube.createAt(`/api/v1/namespaces/${ns}/configmaps`, { apiVersion: "v1", kind: "ConfigMap", metadata: { name, labels: PREVIEW_LABELS } }, user);
        } catch (e) {
            const text = apiErrorText(e);
            if (text.includes(`ValidatingAdmissionPolicy '${PREVIEW_IDENTITY}'`)) return undefined;
            return `cannot check that the preview identity ${user} is denied writes: ${text} (the agent impersonates it; previewIdentity: true makes the identity and its admission policy)`;
        }
        await this.kube.deleteAt(`/api/v1/namespaces/${ns}/configmaps/${encodeURIComponent(name)}`).catch(() => undefined);
        return `the preview identity ${user} could write (a ConfigMap was created and deleted again): its ValidatingAdmissionPolicy ${PREVIEW_IDENTITY} or its binding is missing or not in force; no preview runs until it is (Kubernetes 1.30 or later, previewIdentity: true)`;
    }

    private jobs(name = ""): string {
        return `/apis/batch/v1/namespaces/${encodeURIComponent(this.settings.namespace)}/jobs${name ? `/${encodeURIComponent(name)}` : ""}`;
    }

    /**
     * Previews in a pod; resolves with the pod's result (a failed preview is a result with ok false),
     * rejects when the pod cannot be started or ends without a result, or on `signal`.
     */
    async preview(input: PodPreviewInput, signal: AbortSignal): Promise<PreviewPodResult> {
        const size = fs.statSync(input.sourceFile).size;
        if (size > input.job.sourceMaxBytes) throw new Error(`the source of ${input.job.revision.slice(0, 12)} is ${size} bytes packed, over the limit of ${input.job.sourceMaxBytes} (${settingNames(FIELDS.artifactMaxBytes)})`);
        const ex = this.exchange.open(input.job, input.sourceFile, input.dependenciesDir);
        const name = `${PREVIEW_IDENTITY}-${input.pullRequest}-${ex.id.slice(0, 8)}`;
        const objects = previewPodObjects(this.settings, name, input.pullRequest, ex.id, ex.token, input.passphrase);
        let created = false;
        try {
            const job = await this.kube.createAt<{ metadata?: { uid?: string } }>(this.jobs(), objects.job);
            created = true;
            const uid = job.metadata?.uid;
            const owned = previewPodObjects(this.settings, name, input.pullRequest, ex.id, ex.token, input.passphrase, uid).secret;
            await this.kube.createAt(`/api/v1/namespaces/${encodeURIComponent(this.settings.namespace)}/secrets`, owned);
            this.log(`preview of #${input.pullRequest} at ${input.job.revision.slice(0, 12)}: pod job ${this.settings.namespace}/${name} started`);
            return await this.await(name, ex.result, signal);
        } finally {
            ex.close();
            if (created) {
                // The Secret goes with the Job (its owner), the pod too: its token is no longer valid.
                await this.kube.deleteAt(this.jobs(name), "Background").catch((e: unknown) => {
                    if (apiStatus(e) !== 404) this.log(`cannot delete the preview job ${this.settings.namespace}/${name}: ${apiErrorText(e)}; its ttlSecondsAfterFinished removes it`);
                });
            }
        }
    }

    /** The pod's result, or a rejection when its Job ends without one, it runs out of time, or `signal` aborts. */
    private await(name: string, result: Promise<PreviewPodResult>, signal: AbortSignal): Promise<PreviewPodResult> {
        return new Promise<PreviewPodResult>((resolve, reject) => {
            let done = false;
            const finish = (f: () => void) => {
                if (done) return;
                done = true;
                clearInterval(poll);
                clearTimeout(deadline);
                signal.removeEventListener("abort", onAbort);
                f();
            };
            const onAbort = () => finish(() => reject(signal.reason ?? new Error("cancelled")));
            if (signal.aborted) return onAbort();
            signal.addEventListener("abort", onAbort, { once: true });
            void result.then((r) => finish(() => resolve(r)));
            // The Job's own deadline ends the pod; this ends the wait, with a margin for the pod's result to arrive.
            const deadline = setTimeout(() => finish(() => reject(new Error(`the preview took longer than ${this.settings.timeoutSeconds} s and was stopped`))), (this.settings.timeoutSeconds + 30) * 1000);
            const poll = setInterval(() => {
                void this.kube.getPath<Parameters<typeof jobEnded>[0]>(this.jobs(name)).then(
                    (job) => {
                        const why = jobEnded(job);
                        // A result posted just before the pod ended is taken first.
                        if (why) setTimeout(() => finish(() => reject(new Error(why))), 1_000);
                    },
                    (e: unknown) => {
                        if (apiStatus(e) === 404) finish(() => reject(new Error(`the preview job ${this.settings.namespace}/${name} was deleted before it posted a result`)));
                    },
                );
            }, JOB_POLL_MS);
        });
    }
}
