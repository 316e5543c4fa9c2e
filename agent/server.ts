/**
 * The agent's HTTP side: GitHub webhook, authenticated "sync now", health, Prometheus metrics and a
 * small self-contained status page (no external assets).
 */
import * as crypto from "node:crypto";
import * as http from "node:http";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { AgentStatus, ConditionStatus, ConditionType, CONDITIONS, RunRecord, short, Trigger } from "./reconciler";
import { pushVerdict, validSignature } from "./webhook";

const BODY_LIMIT = 1024 * 1024;
const STATUSES: readonly ConditionStatus[] = ["True", "False", "Unknown"];

/** Which status of each condition is healthy: the page colours by meaning, not by value. */
const HEALTHY: Record<ConditionType, ConditionStatus> = { Ready: "True", Reconciling: "False", Stalled: "False", DriftDetected: "False" };

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

    observe(status: AgentStatus, run?: RunRecord): void {
        if (run) {
            this.runs.inc({ kind: run.kind, result: run.result });
            this.duration.observe({ kind: run.kind }, run.durationMs / 1000);
            if (run.kind === "apply" && run.result === "succeeded") this.lastSuccess.set(Date.parse(run.startedAt) / 1000 + run.durationMs / 1000);
        }
        this.revision.reset();
        if (status.lastAppliedRevision) this.revision.set({ revision: status.lastAppliedRevision }, 1);
        this.drift.set(status.conditions.DriftDetected.status === "True" ? 1 : 0);
        this.drifted.set(status.driftedResources.length);
        this.failures.set(status.failures);
        for (const type of CONDITIONS) {
            for (const s of STATUSES) this.condition.set({ type, status: s }, status.conditions[type].status === s ? 1 : 0);
        }
    }
}

export interface ServerDeps {
    readonly status: () => AgentStatus;
    readonly metrics: AgentMetrics;
    /** Starts a sync in the background and returns at once: the caller answers 202 before it runs. */
    readonly sync: (trigger: Trigger, revision?: string) => void;
    /** Suspends (true) or resumes (false) reconciliation. */
    readonly suspend: (suspended: boolean) => void;
    /** This replica's identity and the Lease holder it last saw. */
    readonly election: () => { readonly identity: string; readonly leader?: string };
    readonly branch: string;
    readonly webhookSecret?: string;
    readonly syncToken?: string;
    /** Why this replica is not ready, or undefined when it is (first check done, election working). */
    readonly notReady: () => string | undefined;
    readonly log: (msg: string, fields?: Record<string, unknown>) => void;
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
    // short(): a sha cut to 12 hex digits, a Flux revision kept as `main@sha1:` and 12 of its digits.
    const rev = (r: unknown) => (typeof r === "string" && r ? `<code>${esc(short(r))}</code>` : "none");
    const conditions = CONDITIONS.map((c) => {
        const v = field(s.conditions, c);
        const status = field(v, "status");
        const meaning = status === HEALTHY[c] ? "good" : status === "True" || status === "False" ? "bad" : "unknown";
        return `<tr><td>${c}</td><td class="${meaning}">${esc(status)}</td><td>${esc(field(v, "reason"))}</td><td>${esc(field(v, "message"))}</td><td>${esc(field(v, "lastTransitionTime"))}</td></tr>`;
    }).join("");
    // The current error is the Ready message already; a run's message is shown only when it says something else.
    const shown = new Set(CONDITIONS.map((c) => field(field(s.conditions, c), "message")));
    const runs = (Array.isArray(s.history) ? (s.history as unknown[]) : [])
        .map((r) => {
            const m = field(r, "message");
            const message = m && !shown.has(m) ? m : "";
            if (message) shown.add(message);
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
<tr><th>last check of the branch</th><td>${esc(s.lastCheckedAt ?? "not yet")}</td></tr><tr><th>suspended</th><td class="${suspended ? "bad" : ""}">${suspended ? "yes" : "no"}</td></tr>
<tr><th>branch head</th><td>${rev(s.headRevision)}</td></tr><tr><th>last applied</th><td>${rev(s.lastAppliedRevision)}</td></tr>
<tr><th>last attempted</th><td>${rev(s.lastAttemptedRevision)}</td></tr><tr><th>consecutive failures</th><td>${esc(s.failures)}</td></tr>
<tr><th>next retry</th><td>${esc(s.nextRetryAt ?? "-")}</td></tr></table>
<h2>Conditions</h2><table><tr><th>type</th><th>status</th><th>reason</th><th>message</th><th>since</th></tr>${conditions}</table>
<h2>Last runs</h2><table><tr><th>revision</th><th>kind</th><th>result</th><th>duration</th><th>started</th><th>message</th></tr>${runs}</table>
<p>Sync now: <code>curl -X POST -H "Authorization: Bearer $TOKEN" &lt;agent&gt;/sync</code> (also <code>/suspend</code>, <code>/resume</code>)</p>
</body></html>
`;
}

/** The body, or undefined when it is over the limit (the rest is not read). */
function readBody(req: http.IncomingMessage): Promise<Buffer | undefined> {
    return new Promise((resolve, reject) => {
        if (Number(req.headers["content-length"] ?? 0) > BODY_LIMIT) return resolve(undefined);
        const chunks: Buffer[] = [];
        let size = 0;
        req.on("data", (c: Buffer) => {
            size += c.length;
            if (size > BODY_LIMIT) {
                req.pause();
                resolve(undefined);
            } else chunks.push(c);
        });
        req.on("end", () => resolve(Buffer.concat(chunks)));
        req.on("error", reject);
    });
}

function tokenMatches(expected: string, header: string | undefined): boolean {
    if (!header?.startsWith("Bearer ")) return false;
    // Compare digests: equal length whatever was sent, and constant time.
    const a = crypto.createHash("sha256").update(header.slice(7)).digest();
    const b = crypto.createHash("sha256").update(expected).digest();
    return crypto.timingSafeEqual(a, b);
}

export function createServer(d: ServerDeps): http.Server {
    return http.createServer(async (req, res) => {
        const send = (code: number, body: string, type = "text/plain; charset=utf-8") => {
            // An unread request body (413) cannot be drained on a kept-alive connection: close it after the answer.
            const close = req.complete ? {} : { Connection: "close" };
            res.writeHead(code, { "Content-Type": type, "Cache-Control": "no-store", ...close });
            res.end(body);
        };
        const authorized = () => d.syncToken !== undefined && tokenMatches(d.syncToken, req.headers.authorization);
        const url = new URL(req.url ?? "/", "http://agent");
        try {
            if (req.method === "GET" && url.pathname === "/healthz") return send(200, "ok\n");
            if (req.method === "GET" && url.pathname === "/readyz") {
                const why = d.notReady();
                return why === undefined ? send(200, "ready\n") : send(503, `not ready: ${why}\n`);
            }
            if (req.method === "GET" && url.pathname === "/metrics") {
                return send(200, await d.metrics.registry.metrics(), d.metrics.registry.contentType);
            }
            if (req.method === "GET" && url.pathname === "/status.json") return send(200, JSON.stringify(d.status(), null, 2), "application/json");
            if (req.method === "GET" && url.pathname === "/") return send(200, statusPage(d.status(), d.election()), "text/html; charset=utf-8");
            if (req.method === "POST" && url.pathname === "/webhook") {
                if (!d.webhookSecret) return send(404, "webhook is off: no webhook secret configured\n");
                const body = await readBody(req);
                if (body === undefined) return send(413, "payload too large\n");
                if (!validSignature(d.webhookSecret, body, req.headers["x-hub-signature-256"] as string | undefined)) {
                    d.log("webhook refused: missing or bad signature", { remote: req.socket.remoteAddress });
                    return send(401, "bad or missing X-Hub-Signature-256\n");
                }
                const verdict = pushVerdict(req.headers["x-github-event"] as string | undefined, body, d.branch);
                if (!verdict.sync) return send(202, `ignored: ${verdict.reason}\n`);
                d.log("webhook push: syncing now", { revision: verdict.revision });
                d.sync("webhook", verdict.revision);
                return send(202, "sync started\n");
            }
            if (req.method === "POST" && ["/sync", "/suspend", "/resume"].includes(url.pathname)) {
                if (!d.syncToken) return send(404, `${url.pathname} is off: no sync token configured\n`);
                if (!authorized()) return send(401, "missing or bad bearer token\n");
                if (url.pathname === "/sync") {
                    d.sync("manual");
                    return send(202, "sync started\n");
                }
                d.suspend(url.pathname === "/suspend");
                return send(200, url.pathname === "/suspend" ? "suspended\n" : "resumed\n");
            }
            return send(404, "not found\n");
        } catch (e) {
            d.log("request failed", { error: (e as Error).message });
            return send(500, "internal error\n");
        }
    });
}
