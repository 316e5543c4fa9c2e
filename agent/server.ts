/**
 * The agent's HTTP side: GitHub webhook, authenticated "sync now", health, Prometheus metrics and a
 * small self-contained status page (no external assets).
 */
import * as crypto from "node:crypto";
import * as http from "node:http";
import * as stream from "node:stream";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { PreviewExchange } from "./preview-pods";
import { RESULT_LIMITS } from "./preview-protocol";
import { suspensionCause } from "./reconciler";
import { AgentStatus, CONDITIONS, ConditionStatus, ConditionType, RunRecord, shortRevision, Trigger } from "./status";
import { pushVerdict, validSignature } from "./webhook";

const STATUSES: readonly ConditionStatus[] = ["True", "False", "Unknown"];

/** Which status of each condition is healthy: the page colours by meaning, not by value. */
const HEALTHY: Record<ConditionType, ConditionStatus> = { Ready: "True", Reconciling: "False", Stalled: "False", DriftDetected: "False" };

/**
 * What the HTTP side holds for a client that has not authenticated yet. The webhook's signature
 * covers its body, so that body must be read before anything is known about its sender.
 */
export interface HttpLimits {
    /** Largest webhook body; a larger one gets 413 without being read. @default 1 MiB */
    readonly bodyBytes: number;
    /** Bytes of webhook bodies held at once across all connections; past it, 503. @default 8 MiB */
    readonly pendingBodyBytes: number;
    /** Time a body has to arrive in full once its headers have; then 408. @default 10 s, GitHub's own timeout for a delivery */
    readonly bodyTimeoutMs: number;
    /** The server's headersTimeout: time for a request's headers. @default 10 s */
    readonly headersTimeoutMs: number;
    /** The server's requestTimeout: time for a whole request, body included (at least headersTimeoutMs). @default 30 s */
    readonly requestTimeoutMs: number;
}

export const HTTP_LIMITS: HttpLimits = {
    bodyBytes: 1024 * 1024,
    pendingBodyBytes: 8 * 1024 * 1024,
    bodyTimeoutMs: 10_000,
    headersTimeoutMs: 10_000,
    requestTimeoutMs: 30_000,
};

/**
 * Bytes held for bodies of unauthenticated requests, across connections: without a total, many
 * slow connections each under the per-request limit hold memory that is never given back.
 */
class ByteBudget {
    private used = 0;
    constructor(private readonly capacity: number) {}

    /** One request's share: take() grows it while the budget lasts; release() gives it all back, once. */
    share(): { take(n: number): boolean; release(): void } {
        let held = 0;
        return {
            take: (n) => {
                if (held < 0 || this.used + n > this.capacity) return false;
                this.used += n;
                held += n;
                return true;
            },
            release: () => {
                if (held > 0) this.used -= held;
                held = -1;
            },
        };
    }
}

/** The agent's Prometheus metrics. */
export class AgentMetrics {
    readonly registry = new Registry();
    private readonly runs = new Counter({ name: "openfaas_gitops_runs_total", help: "Runs by kind (apply, drift-check, drift-correct) and result.", labelNames: ["kind", "result"], registers: [this.registry] });
    private readonly duration = new Histogram({
        name: "openfaas_gitops_run_duration_seconds",
        help: "Duration of runs by kind.",
        labelNames: ["kind"],
        buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1200],
        registers: [this.registry],
    });
    private readonly lastSuccess = new Gauge({ name: "openfaas_gitops_last_success_timestamp_seconds", help: "When a revision was last applied successfully.", registers: [this.registry] });
    private readonly revision = new Gauge({ name: "openfaas_gitops_revision_info", help: "The applied revision (value 1).", labelNames: ["revision"], registers: [this.registry] });
    private readonly drift = new Gauge({ name: "openfaas_gitops_drift_detected", help: "1 while the cluster differs from the applied revision.", registers: [this.registry] });
    private readonly drifted = new Gauge({ name: "openfaas_gitops_drifted_resources", help: "Resources that differ from the applied revision.", registers: [this.registry] });
    private readonly condition = new Gauge({
        name: "openfaas_gitops_condition",
        help: "Status conditions, kube-state-metrics style: 1 for the current status of each type, 0 for the others.",
        labelNames: ["type", "status"],
        registers: [this.registry],
    });
    private readonly failures = new Gauge({ name: "openfaas_gitops_consecutive_failures", help: "Consecutive failures of the last attempted revision.", registers: [this.registry] });

    /**
     * Records a status and a finished run. A status can come from an edited ConfigMap: a field of
     * the wrong type counts as 0 or unknown here, since prom-client throws on a non-number and the
     * status write that follows would be lost with it.
     */
    observe(status: AgentStatus, run?: RunRecord): void {
        const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : 0);
        if (run) {
            this.runs.inc({ kind: run.kind, result: run.result });
            this.duration.observe({ kind: run.kind }, num(run.durationMs) / 1000);
            const at = Date.parse(run.startedAt);
            if (run.kind === "apply" && run.result === "succeeded" && Number.isFinite(at)) this.lastSuccess.set(at / 1000 + num(run.durationMs) / 1000);
        }
        this.revision.reset();
        if (typeof status.lastAppliedRevision === "string" && status.lastAppliedRevision) this.revision.set({ revision: status.lastAppliedRevision }, 1);
        const conditionStatus = (type: ConditionType) => field(field(status.conditions, type), "status");
        this.drift.set(conditionStatus("DriftDetected") === "True" ? 1 : 0);
        // The status names at most MAX_LISTED_RESOURCES of them and counts the rest (drift.unlisted).
        const listed = Array.isArray(status.driftedResources) ? status.driftedResources.length : 0;
        this.drifted.set(listed + (listed > 0 ? num(field(status.drift, "unlisted")) : 0));
        this.failures.set(num(status.failures));
        for (const type of CONDITIONS) {
            for (const s of STATUSES) this.condition.set({ type, status: s }, conditionStatus(type) === s ? 1 : 0);
        }
    }
}

/** A credential as last read from its file: its value, or why it cannot be read (never the value). */
export type Credential = { readonly value: string } | { readonly error: string };

export interface ServerDeps {
    readonly status: () => AgentStatus;
    readonly metrics: AgentMetrics;
    /** Starts a sync in the background and returns at once: the caller answers 202 before it runs. */
    readonly sync: (trigger: Trigger, revision?: string) => void;
    /** Suspends (true) or resumes (false) reconciliation. */
    readonly suspend: (suspended: boolean) => void;
    /** This replica's identity and the Lease holder it last saw. */
    readonly election: () => { readonly identity: string; readonly leader?: string };
    /** Whether this replica leads now: only the leader runs a sync or keeps a suspension. */
    readonly leads: () => boolean;
    readonly branch: string;
    /**
     * The webhook secret and the sync token, asked for on every request so that a rotated Secret
     * counts without a restart; undefined when not configured (the endpoint is off).
     */
    readonly webhookSecret: () => Credential | undefined;
    readonly syncToken: () => Credential | undefined;
    /** Why this replica is not ready, or undefined when it is (first check done, election working). */
    readonly notReady: () => string | undefined;
    readonly log: (msg: string, fields?: Record<string, unknown>) => void;
    /** Overrides of {@link HTTP_LIMITS} (the tests' short deadlines). */
    readonly limits?: Partial<HttpLimits>;
    /** The preview pods' requests (`/previews/<id>/job|source|dependencies|result`), when previews are on. */
    readonly previews?: PreviewExchange;
    /** A signed `pull_request` delivery (its body): the pull requests are looked at for previews now (when previews are on). */
    readonly onPullRequest?: (body: Buffer) => void;
}

/**
 * Pure: any value as escaped HTML text. A status can come from an edited ConfigMap, so no field is
 * trusted to have its declared type: a non-string is shown as JSON, never as markup.
 */
function esc(v: unknown): string {
    const s = typeof v === "string" ? v : v === undefined || v === null ? "" : typeof v === "object" ? (JSON.stringify(v) ?? "") : String(v);
    return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

/** Pure: `o[key]` when `o` is an object, else undefined. */
function field(o: unknown, key: string): unknown {
    return typeof o === "object" && o !== null ? (o as Record<string, unknown>)[key] : undefined;
}

/** Pure: the status page. Everything from the status is escaped; nothing is loaded from elsewhere. */
export function statusPage(s: AgentStatus, election: { readonly identity: string; readonly leader?: string }): string {
    // shortRevision(): a sha cut to 12 hex digits, a Flux revision kept as `main@sha1:` and 12 of its digits.
    const rev = (r: unknown) => (typeof r === "string" && r ? `<code>${esc(shortRevision(r))}</code>` : "none");
    const conditions = CONDITIONS.map((c) => {
        const v = field(s.conditions, c);
        const status = field(v, "status");
        const meaning = status === HEALTHY[c] ? "good" : status === "True" || status === "False" ? "bad" : "unknown";
        return `<tr><td>${c}</td><td class="${meaning}">${esc(status)}</td><td>${esc(field(v, "reason"))}</td><td>${esc(field(v, "message"))}</td><td>${esc(field(v, "lastTransitionTime"))}</td></tr>`;
    }).join("");
    // The current error is the Ready message already; a run's message is shown only when it says something else.
    const displayedMessages = new Set(CONDITIONS.map((c) => field(field(s.conditions, c), "message")));
    const runs = (Array.isArray(s.history) ? (s.history as unknown[]) : [])
        .map((r) => {
            const m = field(r, "message");
            const message = m && !displayedMessages.has(m) ? m : "";
            if (message) displayedMessages.add(message);
            const result = field(r, "result");
            const meaning = result === "succeeded" || result === "no-drift" ? "good" : result === "cancelled" ? "unknown" : "bad";
            const ms = field(r, "durationMs");
            const duration = typeof ms === "number" && Number.isFinite(ms) ? `${(ms / 1000).toFixed(1)} s` : "-";
            return `<tr><td>${rev(field(r, "revision"))}</td><td>${esc(field(r, "kind"))}</td><td class="${meaning}">${esc(result)}</td><td>${duration}</td><td>${esc(field(r, "startedAt"))}</td><td>${esc(message)}</td></tr>`;
        })
        .join("");
    const leader = election.leader ? `${esc(election.leader)}${election.leader === election.identity ? " (this replica)" : ""}` : "none";
    const suspended = s.suspended === true;
    return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="15"><title>openfaas-gitops agent</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}table{border-collapse:collapse;margin-bottom:1.5rem}
td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left;vertical-align:top}th{background:#f3f3f3}
.good{color:#06603a;font-weight:bold}.bad{color:#a40000;font-weight:bold}.unknown{color:#8a5a00}
</style></head><body>
<h1>openfaas-gitops agent</h1>
<table><tr><th>leader</th><td>${leader}</td></tr><tr><th>this replica</th><td>${esc(election.identity)}</td></tr>
<tr><th>last check of the branch</th><td>${esc(s.lastCheckedAt ?? "not yet")}</td></tr><tr><th>suspended</th><td class="${suspended ? "bad" : ""}">${suspended ? `yes: ${esc(suspensionCause(s))}` : "no"}</td></tr>
<tr><th>branch head</th><td>${rev(s.headRevision)}</td></tr><tr><th>last applied</th><td>${rev(s.lastAppliedRevision)}</td></tr>
<tr><th>last attempted</th><td>${rev(s.lastAttemptedRevision)}</td></tr><tr><th>consecutive failures</th><td>${esc(s.failures)}</td></tr>
<tr><th>next retry</th><td>${esc(s.nextRetryAt ?? "-")}</td></tr></table>
<h2>Conditions</h2><table><tr><th>type</th><th>status</th><th>reason</th><th>message</th><th>since</th></tr>${conditions}</table>
<h2>Last runs</h2><table><tr><th>revision</th><th>kind</th><th>result</th><th>duration</th><th>started</th><th>message</th></tr>${runs}</table>
<p>Sync now: <code>curl -X POST -H "Authorization: Bearer $TOKEN" &lt;agent&gt;/sync</code> (also <code>/suspend</code>, <code>/resume</code>)</p>
</body></html>
`;
}

/** An answer: status code, body and any headers beyond the content type. */
interface Reply {
    readonly code: number;
    /** A stream is piped (a preview's dependencies); the connection is cut if it fails midway. */
    readonly body: string | Buffer | stream.Readable;
    readonly type?: string;
    readonly headers?: Readonly<Record<string, string>>;
}

const reply = (code: number, body: string, headers?: Record<string, string>): Reply => ({ code, body, headers });

const TOO_LARGE = reply(413, "payload too large\n");
const BUSY = reply(503, "too many webhook bodies are being received at once; try again\n", { "Retry-After": "5" });
const INCOMPLETE = reply(400, "the request body was cut off\n");

/**
 * The body, read within the per-request limit, the budget `share` and the deadline; or the answer
 * that refuses it. A refused body is not read further: the answer closes the connection.
 */
function readBody(req: http.IncomingMessage, share: ReturnType<ByteBudget["share"]>, limits: HttpLimits): Promise<{ readonly body: Buffer } | { readonly refused: Reply }> {
    return new Promise((resolve) => {
        // Node's parser has already refused a Content-Length that is not a number.
        const declared = req.headers["content-length"] === undefined ? undefined : Number(req.headers["content-length"]);
        if (declared !== undefined && declared > limits.bodyBytes) return resolve({ refused: TOO_LARGE });
        // A declared length is taken whole before reading: what cannot fit is refused before any of it is held.
        if (declared !== undefined && !share.take(declared)) return resolve({ refused: BUSY });
        const chunks: Buffer[] = [];
        let size = 0;
        const finish = (r: { readonly body: Buffer } | { readonly refused: Reply }) => {
            clearTimeout(timer);
            req.off("data", onData).off("end", onEnd).off("close", onCut).off("error", onCut);
            if ("refused" in r) req.pause();
            resolve(r);
        };
        const onData = (c: Buffer) => {
            size += c.length;
            if (size > limits.bodyBytes) return finish({ refused: TOO_LARGE });
            // Without a declared length, each chunk is taken as it comes.
            if (declared === undefined && !share.take(c.length)) return finish({ refused: BUSY });
            chunks.push(c);
        };
        const onEnd = () => finish({ body: Buffer.concat(chunks) });
        const onCut = () => finish({ refused: INCOMPLETE });
        const timer = setTimeout(() => finish({ refused: reply(408, `the request body did not arrive within ${limits.bodyTimeoutMs / 1000} s\n`) }), limits.bodyTimeoutMs);
        req.on("data", onData).on("end", onEnd).on("close", onCut).on("error", onCut);
    });
}

/**
 * Pure: the token of an `Authorization: Bearer <token>` header, or undefined. The scheme is
 * case-insensitive (RFC 9110 section 11.1) and spaces around the token are tolerated. No regex:
 * the header is the caller's, and a backtracking pattern over 16 KiB of spaces is slow.
 */
export function bearerToken(header: string | undefined): string | undefined {
    const v = (header ?? "").trim();
    const space = v.search(/[ \t]/);
    if (space < 0 || v.slice(0, space).toLowerCase() !== "bearer") return undefined;
    return v.slice(space).trimStart() || undefined;
}

function tokenMatches(expected: string, header: string | undefined): boolean {
    const given = bearerToken(header);
    if (given === undefined) return false;
    // Compare digests: equal length whatever was sent, and constant time.
    const a = crypto.createHash("sha256").update(given).digest();
    const b = crypto.createHash("sha256").update(expected).digest();
    return crypto.timingSafeEqual(a, b);
}

/**
 * Pure: the path of a request target, or undefined when none can be taken from it. RFC 9112
 * section 3.2: origin-form (`/path?query`) and absolute-form (`http://host/path`) have one;
 * authority-form and asterisk-form do not, nor does a malformed URL. The origin-form is put after a
 * fixed origin because `new URL("//x", base)` would read `x` as a host.
 */
export function requestPath(target: string): string | undefined {
    try {
        if (target.startsWith("/")) return new URL(`http://agent${target}`).pathname;
        if (/^https?:\/\//i.test(target)) return new URL(target).pathname;
    } catch {
        // A malformed absolute-form target (`http://[::1`): no path.
    }
    return undefined;
}

type Handler = (req: http.IncomingMessage) => Reply | Promise<Reply>;
/** A path's handlers by method; a GET handler answers HEAD too (Node leaves the body out). */
type Route = Partial<Record<"GET" | "POST", Handler>>;

export function createServer(deps: ServerDeps): http.Server {
    const limits: HttpLimits = { ...HTTP_LIMITS, ...deps.limits };
    const budget = new ByteBudget(limits.pendingBodyBytes);
    /**
     * Who leads, when this replica does not: the holder it saw, unless that is itself (its Lease
     * ran out without a renewal) or nobody.
     */
    const otherLeader = () => {
        const { identity, leader } = deps.election();
        return leader !== identity ? leader : undefined;
    };
    const NO_LEADER = reply(503, "no replica leads right now; try again\n", { "Retry-After": "2" });
    const webhook: Handler = async (req) => {
        const secret = deps.webhookSecret();
        if (!secret) return reply(404, "webhook is off: no webhook secret configured\n");
        if ("error" in secret) return reply(503, "the webhook secret cannot be read; the agent's log says why\n");
        const share = budget.share();
        try {
            // Resolves when the body has ended, was refused, timed out or its connection closed:
            // the share is given back on every path.
            const read = await readBody(req, share, limits);
            if ("refused" in read) return read.refused;
            if (!validSignature(secret.value, read.body, req.headers["x-hub-signature-256"] as string | undefined)) {
                deps.log("webhook refused: missing or bad signature", { remote: req.socket.remoteAddress });
                return reply(401, "bad or missing X-Hub-Signature-256\n");
            }
            if (req.headers["x-github-event"] === "pull_request" && deps.onPullRequest) {
                deps.onPullRequest(read.body);
                return reply(202, "pull requests looked at for previews\n");
            }
            const verdict = pushVerdict(req.headers["x-github-event"] as string | undefined, read.body, deps.branch);
            if (!verdict.sync) return reply(202, `ignored: ${verdict.reason}\n`);
            if (!deps.leads()) {
                // Not lost: the leader's poll finds the same head, as a webhook would have told it.
                const leader = otherLeader();
                if (!leader) return NO_LEADER;
                return reply(202, `not started here: this replica (${deps.election().identity}) does not lead; the leader ${leader} applies the push at its next check of the branch\n`);
            }
            deps.log("webhook push: syncing now", { revision: verdict.revision });
            deps.sync("webhook", verdict.revision);
            return reply(202, "sync started\n");
        } finally {
            share.release();
        }
    };
    /**
     * /sync, /suspend and /resume: the bearer token, then `act` on the leader. A follower refuses:
     * a manual sync does what a poll does not (it retries a Stalled revision), and a suspension set
     * on a follower would be dropped when it adopts the leader's status.
     */
    const withToken = (path: string, act: () => Reply): Handler => (req) => {
        const token = deps.syncToken();
        if (!token) return reply(404, `${path} is off: no sync token configured\n`);
        if ("error" in token) return reply(503, "the sync token cannot be read; the agent's log says why\n");
        if (!tokenMatches(token.value, req.headers.authorization)) return reply(401, "missing or bad bearer token\n", { "WWW-Authenticate": "Bearer" });
        if (!deps.leads()) {
            const leader = otherLeader();
            if (!leader) return NO_LEADER;
            return reply(503, `this replica (${deps.election().identity}) does not lead; send it to the leader ${leader} (kubectl port-forward pod/${leader} 8080 in the agent's namespace)\n`, { "Retry-After": "2" });
        }
        return act();
    };
    const suspend = (on: boolean) => () => {
        deps.suspend(on);
        return reply(200, on ? "suspended\n" : "resumed\n");
    };
    const routes = new Map<string, Route>([
        ["/healthz", { GET: () => reply(200, "ok\n") }],
        ["/readyz", { GET: () => {
            const why = deps.notReady();
            return why === undefined ? reply(200, "ready\n") : reply(503, `not ready: ${why}\n`);
        } }],
        ["/metrics", { GET: async () => ({ code: 200, body: await deps.metrics.registry.metrics(), type: deps.metrics.registry.contentType }) }],
        ["/status.json", { GET: () => ({ code: 200, body: JSON.stringify(deps.status(), null, 2), type: "application/json" }) }],
        ["/", { GET: () => ({ code: 200, body: statusPage(deps.status(), deps.election()), type: "text/html; charset=utf-8" }) }],
        ["/webhook", { POST: webhook }],
        ["/sync", { POST: withToken("/sync", () => {
            deps.sync("manual");
            return reply(202, "sync started\n");
        }) }],
        ["/suspend", { POST: withToken("/suspend", suspend(true)) }],
        ["/resume", { POST: withToken("/resume", suspend(false)) }],
    ]);

    /**
     * A preview pod's request: its bearer token first (each preview has its own), then a job or
     * source fetched once, or its result, read within RESULT_LIMITS.bytes.
     */
    const preview = async (req: http.IncomingMessage, id: string, what: string): Promise<Reply> => {
        const exchange = deps.previews;
        const authorized = exchange?.authorized(id, bearerToken(req.headers.authorization));
        if (!exchange || authorized === undefined) return reply(404, "no such preview\n");
        if (!authorized) return reply(401, "missing or bad bearer token\n", { "WWW-Authenticate": "Bearer" });
        const method = req.method === "HEAD" ? "GET" : req.method;
        if (what === "result") {
            if (method !== "POST") return reply(405, "method not allowed\n", { Allow: "POST" });
            const share = budget.share();
            try {
                const read = await readBody(req, share, { ...limits, bodyBytes: RESULT_LIMITS.bytes });
                return "refused" in read ? read.refused : exchange.deliver(id, read.body);
            } finally {
                share.release();
            }
        }
        if (method !== "GET") return reply(405, "method not allowed\n", { Allow: "GET, HEAD" });
        return exchange.fetch(id, what);
    };

    const answer = (req: http.IncomingMessage): Reply | Promise<Reply> => {
        const path = requestPath(req.url ?? "");
        if (path === undefined) return reply(400, "bad request target: expected /path or http://host/path\n");
        const previewPath = /^\/previews\/([0-9a-f]{32})\/(job|source|dependencies|result)$/.exec(path);
        if (previewPath) return preview(req, previewPath[1]!, previewPath[2]!);
        const route = routes.get(path);
        if (!route) return reply(404, "not found\n");
        const method = req.method === "HEAD" ? "GET" : req.method;
        const handler = method === "GET" || method === "POST" ? route[method] : undefined;
        if (handler) return handler(req);
        return reply(405, "method not allowed\n", { Allow: route.GET ? "GET, HEAD" : "POST" });
    };
    const send = (req: http.IncomingMessage, res: http.ServerResponse, r: Reply) => {
        if (res.headersSent) return void res.destroy();
        // An unread request body cannot be drained on a kept-alive connection: close it after the answer.
        const close = req.complete ? {} : { Connection: "close" };
        res.writeHead(r.code, { "Content-Type": r.type ?? "text/plain; charset=utf-8", "Cache-Control": "no-store", ...r.headers, ...close });
        if (r.body instanceof stream.Readable) stream.pipeline(r.body, res, (e) => e && res.destroy());
        else res.end(r.body);
    };
    const options: http.ServerOptions = {
        headersTimeout: limits.headersTimeoutMs,
        requestTimeout: Math.max(limits.requestTimeoutMs, limits.headersTimeoutMs),
        // Node checks both deadlines only at this interval (30 s by default, longer than the deadlines).
        connectionsCheckingInterval: Math.max(100, Math.min(1000, limits.headersTimeoutMs / 4)),
    };
    // Every request gets an answer, and nothing a request does can reject out of here.
    const server = http.createServer(options, (req, res) => {
        void (async () => {
            let r: Reply;
            try {
                r = await answer(req);
            } catch (e) {
                deps.log("request failed", { error: (e as Error).message });
                r = reply(500, "internal error\n");
            }
            send(req, res, r);
        })().catch(() => res.destroy());
    });
    // Node hands CONNECT to this event, not to the request handler, and closes the socket unanswered
    // when nothing listens. This server is no proxy: CONNECT is implemented for no path.
    server.on("connect", (_req: http.IncomingMessage, socket: stream.Duplex) => {
        socket.on("error", () => socket.destroy());
        socket.end("HTTP/1.1 501 Not Implemented\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    });
    return server;
}
