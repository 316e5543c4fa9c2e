import { strict as assert } from "node:assert";
import * as crypto from "node:crypto";
import * as net from "node:net";
import { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { AgentMetrics, createServer, Credential, statusPage } from "../agent/server";
import { emptyStatus } from "../agent/conditions";
import { fromPersisted } from "../agent/persisted-status";
import { Trigger } from "../agent/status";
import { pushVerdict, validSignature } from "../agent/webhook";

/** Sends `raw` over a plain TCP connection and resolves with everything the server answered until it closed. */
function rawRequest(port: number, raw: string): Promise<string> {
    return new Promise((resolve, reject) => {
        const socket = net.connect(port, "127.0.0.1", () => socket.write(raw));
        let got = "";
        socket.on("data", (d) => (got += d.toString("latin1")));
        socket.on("close", () => resolve(got));
        socket.on("error", reject);
        socket.setTimeout(5000, () => socket.destroy(new Error(`no answer to ${JSON.stringify(raw.slice(0, 80))}`)));
    });
}

const SECRET = "webhook-secret-123";
const TOKEN = "sync-token-456";

describe("agent HTTP server (real HTTP on loopback)", () => {
    const syncs: Trigger[] = [];
    const revisions: (string | undefined)[] = [];
    const suspends: boolean[] = [];
    let electionError: string | undefined;
    const status = emptyStatus(Date.parse("2026-11-24T00:00:00Z"));
    const metrics = new AgentMetrics();
    let base = "";
    let ready = false;
    const server = createServer({
        status: () => status, metrics, branch: "main",
        sync: (t, rev) => {
            syncs.push(t);
            revisions.push(rev);
        },
        suspend: (on) => suspends.push(on),
        election: () => ({ identity: "agent-a", leader }),
        leads: () => leader === "agent-a",
        webhookSecret: () => webhookSecret, syncToken: () => syncToken, log: () => {},
        notReady: () => electionError ?? (ready ? undefined : "the first check of the branch has not finished"),
    });
    /** The Lease holder this replica last saw; it leads while that is itself. */
    let leader: string | undefined = "agent-a";
    let webhookSecret: Credential | undefined = { value: SECRET };
    let syncToken: Credential | undefined = { value: TOKEN };
    before(async () => {
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
        base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(() => server.close());

    const sign = (body: string, secret = SECRET) => `sha256=${crypto.createHmac("sha256", secret).update(body).digest("hex")}`;
    const push = (ref: string) => JSON.stringify({ ref, after: "f".repeat(40) });
    const hook = (body: string, headers: Record<string, string>) => fetch(`${base}/webhook`, { method: "POST", body, headers: { "X-GitHub-Event": "push", ...headers } });

    it("a validly signed push to the branch starts a sync at once", async () => {
        syncs.length = 0;
        const body = push("refs/heads/main");
        const res = await hook(body, { "X-Hub-Signature-256": sign(body) });
        assert.equal(res.status, 202);
        assert.equal(await res.text(), "sync started\n");
        assert.deepEqual(syncs, ["webhook"]);
        assert.deepEqual(revisions.at(-1), "f".repeat(40), "the payload's after sha is handed on");
    });

    it("a signature with trailing garbage is refused", async () => {
        syncs.length = 0;
        const body = push("refs/heads/main");
        assert.equal((await hook(body, { "X-Hub-Signature-256": sign(body) + "zz" })).status, 401);
        assert.equal((await hook(body, { "X-Hub-Signature-256": sign(body) + "00" })).status, 401);
        assert.deepEqual(syncs, []);
    });

    it("an oversized body gets a 413 answer, not a reset connection", async () => {
        const big = "x".repeat(1024 * 1024 + 1);
        const res = await hook(big, { "X-Hub-Signature-256": sign(big) });
        assert.equal(res.status, 413);
        assert.equal(await res.text(), "payload too large\n");
        // Chunked (no Content-Length): the limit is found while reading.
        const chunked = await fetch(`${base}/webhook`, {
            method: "POST", duplex: "half", headers: { "X-GitHub-Event": "push", "X-Hub-Signature-256": sign(big) },
            body: new ReadableStream({ start(c) { for (let i = 0; i < 17; i++) c.enqueue(new TextEncoder().encode("y".repeat(64 * 1024))); c.close(); } }),
        } as RequestInit);
        assert.equal(chunked.status, 413);
    });

    it("an invalid or missing signature gets 401 and nothing else", async () => {
        syncs.length = 0;
        const body = push("refs/heads/main");
        assert.equal((await hook(body, { "X-Hub-Signature-256": sign(body, "wrong-secret") })).status, 401);
        assert.equal((await hook(body, { "X-Hub-Signature-256": sign(body + " ") })).status, 401, "a changed body fails");
        assert.equal((await hook(body, { "X-Hub-Signature-256": "sha256=abc" })).status, 401, "a short signature fails");
        assert.equal((await hook(body, {})).status, 401);
        assert.deepEqual(syncs, []);
    });

    it("pushes to other branches and pings are ignored", async () => {
        syncs.length = 0;
        const other = push("refs/heads/feature");
        const r1 = await hook(other, { "X-Hub-Signature-256": sign(other) });
        assert.equal(r1.status, 202);
        assert.match(await r1.text(), /ignored: push to refs\/heads\/feature/);
        const ping = "{}";
        const r2 = await fetch(`${base}/webhook`, { method: "POST", body: ping, headers: { "X-GitHub-Event": "ping", "X-Hub-Signature-256": sign(ping) } });
        assert.match(await r2.text(), /ignored: ping/);
        assert.deepEqual(syncs, []);
    });

    it("POST /sync needs the bearer token", async () => {
        syncs.length = 0;
        assert.equal((await fetch(`${base}/sync`, { method: "POST" })).status, 401);
        assert.equal((await fetch(`${base}/sync`, { method: "POST", headers: { Authorization: "Bearer nope" } })).status, 401);
        assert.equal((await fetch(`${base}/sync`, { method: "POST", headers: { Authorization: `Bearer ${TOKEN}` } })).status, 202);
        assert.deepEqual(syncs, ["manual"]);
    });

    it("POST /suspend and /resume need the bearer token", async () => {
        assert.equal((await fetch(`${base}/suspend`, { method: "POST" })).status, 401);
        const auth = { Authorization: `Bearer ${TOKEN}` };
        assert.equal(await (await fetch(`${base}/suspend`, { method: "POST", headers: auth })).text(), "suspended\n");
        assert.equal(await (await fetch(`${base}/resume`, { method: "POST", headers: auth })).text(), "resumed\n");
        assert.deepEqual(suspends, [true, false]);
    });

    it("health, readiness, metrics and the status page", async () => {
        assert.equal((await fetch(`${base}/healthz`)).status, 200);
        assert.equal((await fetch(`${base}/readyz`)).status, 503);
        ready = true;
        assert.equal((await fetch(`${base}/readyz`)).status, 200);
        electionError = "leader election on Lease openfaas-gitops/x failed: HTTP 403: leases is forbidden";
        const notReady = await fetch(`${base}/readyz`);
        assert.deepEqual([notReady.status, await notReady.text()], [503, `not ready: ${electionError}\n`]);
        electionError = undefined;
        status.lastAppliedRevision = "a".repeat(40);
        metrics.observe(status, { revision: "a".repeat(40), kind: "apply", result: "succeeded", startedAt: "2026-11-24T00:00:00.000Z", durationMs: 4200 });
        const m = await (await fetch(`${base}/metrics`)).text();
        assert.match(m, /openfaas_gitops_runs_total\{kind="apply",result="succeeded"\} 1/);
        assert.match(m, /openfaas_gitops_run_duration_seconds_bucket\{le="5",kind="apply"\} 1/);
        assert.match(m, /openfaas_gitops_last_success_timestamp_seconds 1795478404\.2/);
        assert.match(m, new RegExp(`openfaas_gitops_revision_info\\{revision="${"a".repeat(40)}"\\} 1`));
        assert.match(m, /openfaas_gitops_drift_detected 0/);
        assert.match(m, /openfaas_gitops_condition\{type="DriftDetected",status="Unknown"\} 1/);
        assert.match(m, /openfaas_gitops_condition\{type="DriftDetected",status="True"\} 0/);
        const page = await fetch(`${base}/`);
        assert.match(page.headers.get("content-type")!, /text\/html/);
        const html = await page.text();
        assert.match(html, /last applied<\/th><td><code>aaaaaaaaaaaa<\/code>/);
        assert.match(html, /leader<\/th><td>agent-a \(this replica\)/);
        assert.doesNotMatch(html, /<script|src=|href=/, "no scripts or external assets");
        assert.equal((await fetch(`${base}/nope`)).status, 404);
    });

    it("the status page escapes what it shows", () => {
        const s = emptyStatus(0);
        s.lastAppliedRevision = "<img src=x onerror=alert(1)>";
        assert.match(statusPage(s, { identity: "<b>" }), /&lt;img src=x o/);
        assert.match(statusPage(s, { identity: "<b>" }), /this replica<\/th><td>&lt;b&gt;/);
    });

    it("the status page escapes every field, whatever its type, and survives a status of the wrong shape", () => {
        const s = emptyStatus(0) as unknown as Record<string, unknown>;
        s.failures = "<script>alert(1)</script>";
        assert.doesNotMatch(statusPage(s as never, { identity: "a" }), /<script>alert/);
        assert.match(statusPage(s as never, { identity: "a" }), /consecutive failures<\/th><td>&lt;script&gt;/);
        // What an edited status ConfigMap can hold: every field of another type.
        const odd = { failures: { n: 1 }, history: null, conditions: { Ready: null, Stalled: "x" }, suspended: "<b>", headRevision: 42, lastCheckedAt: ["<i>"], nextRetryAt: {} };
        const html = statusPage(odd as never, { identity: "a" });
        assert.match(html, /<h1>openfaas-gitops agent<\/h1>/);
        assert.doesNotMatch(html, /<i>|<b>/);
        const runs = { ...emptyStatus(0), history: [null, 7, { revision: ["<i>"], kind: {}, result: 1, durationMs: "x", startedAt: null, message: { m: "<i>" } }] };
        assert.doesNotMatch(statusPage(runs as never, { identity: "a" }), /<i>/);
    });

    it("the status page shows a Flux revision as branch@sha1: and 12 hex digits", () => {
        const s = emptyStatus(0);
        s.lastAppliedRevision = `main@sha1:${"0123456789abcdef".repeat(2)}01234567`;
        s.headRevision = "f".repeat(40);
        const html = statusPage(s, { identity: "a" });
        assert.match(html, /last applied<\/th><td><code>main@sha1:0123456789ab<\/code>/);
        assert.match(html, /branch head<\/th><td><code>ffffffffffff<\/code>/);
    });

    it("the status page says who suspended reconciliation, and the drifted-resources gauge counts the unlisted ones", async () => {
        const byRequest = fromPersisted({ suspended: true, suspendedBy: "request" }, 0);
        assert.match(statusPage(byRequest, { identity: "a" }), /suspended<\/th><td class="bad">yes: POST \/suspend; POST \/resume resumes it<\/td>/);
        const bySetting = fromPersisted({ suspended: true, suspendedBy: "setting" }, 0);
        assert.match(statusPage(bySetting, { identity: "a" }), /suspended<\/th><td class="bad">yes: agent\.suspend \(AGENT_SUSPEND\) is true<\/td>/);
        const revision = "d".repeat(40);
        const drifted = fromPersisted({ lastAppliedRevision: revision, drift: { revision, resources: ["a", "b"], unlisted: 148, corrected: false } }, 0);
        const metrics = new AgentMetrics();
        metrics.observe(drifted);
        assert.match(await metrics.registry.metrics(), /^openfaas_gitops_drifted_resources 150$/m);
    });

    it("the status page colours by meaning and shows each error once", () => {
        const error = "cannot reach git@github.com:org/repo.git: ssh: connect to host github.com port 22: Connection refused";
        const s = fromPersisted({ lastAttemptedRevision: "b".repeat(40), failures: 5, applyError: error, stalledReason: "RetriesExhausted",
            history: [{ revision: "b".repeat(40), kind: "apply", result: "failed", startedAt: "2026-11-24T00:00:00.000Z", durationMs: 10, message: error }] }, 0);
        const html = statusPage(s, { identity: "agent-a", leader: "agent-b" });
        assert.match(html, /<td>Stalled<\/td><td class="bad">True<\/td>/, "Stalled=True is bad, not green");
        assert.match(html, /<td>Ready<\/td><td class="bad">False<\/td>/);
        assert.match(html, /<td>DriftDetected<\/td><td class="unknown">Unknown<\/td>/);
        assert.equal(html.split("Connection refused").length - 1, 1);
        assert.match(html, /leader<\/th><td>agent-b<\/td>/);
    });

    it("a malformed request target gets 400 and the server keeps serving", async () => {
        const port = (server.address() as AddressInfo).port;
        for (const target of ["//", "http://[::1", "//evil.example/sync", "*", "http://agent:99999/", "a"]) {
            const answer = await rawRequest(port, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
            assert.match(answer, /^HTTP\/1\.1 [45]\d\d /, target);
        }
        assert.match(await rawRequest(port, "GET http://[::1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), /^HTTP\/1\.1 400 /);
        assert.match(await rawRequest(port, "GET // HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), /^HTTP\/1\.1 404 /, "// is a path, just not a known one");
        // Node hands CONNECT to another event and closes the connection unanswered unless it is handled.
        assert.match(await rawRequest(port, "CONNECT agent:443 HTTP/1.1\r\nHost: agent:443\r\n\r\n"), /^HTTP\/1\.1 501 /);
        // Absolute-form (RFC 9112 section 3.2.2) is routed by its path.
        assert.match(await rawRequest(port, "GET http://agent/healthz HTTP/1.1\r\nHost: agent\r\nConnection: close\r\n\r\n"), /^HTTP\/1\.1 200 /);
        assert.equal((await fetch(`${base}/healthz`)).status, 200);
    });

    it("a known path with the wrong method gets 405 and an Allow header", async () => {
        for (const [method, path, allow] of [["GET", "/sync", "POST"], ["PUT", "/webhook", "POST"], ["DELETE", "/suspend", "POST"], ["POST", "/healthz", "GET, HEAD"], ["POST", "/", "GET, HEAD"], ["PATCH", "/metrics", "GET, HEAD"]] as const) {
            const res = await fetch(`${base}${path}`, { method });
            assert.equal(res.status, 405, `${method} ${path}`);
            assert.equal(res.headers.get("allow"), allow, `${method} ${path}`);
        }
        const head = await fetch(`${base}/healthz`, { method: "HEAD" });
        assert.equal(head.status, 200, "HEAD is GET without the body");
        assert.equal((await fetch(`${base}/nope`, { method: "POST" })).status, 404);
    });

    it("the bearer scheme is case-insensitive and extra spaces are tolerated", async () => {
        syncs.length = 0;
        for (const header of [`bearer ${TOKEN}`, `BEARER ${TOKEN}`, `Bearer   ${TOKEN}`, `bEaReR \t ${TOKEN}  `]) {
            const res = await fetch(`${base}/sync`, { method: "POST", headers: { Authorization: header } });
            assert.equal(res.status, 202, JSON.stringify(header));
        }
        for (const header of [`Basic ${TOKEN}`, `Bearer${TOKEN}`, `Bearer ${TOKEN}x`, `Bearer x${TOKEN}`, "Bearer", "Bearer  "]) {
            const res = await fetch(`${base}/sync`, { method: "POST", headers: { Authorization: header } });
            assert.equal(res.status, 401, JSON.stringify(header));
            assert.equal(res.headers.get("www-authenticate"), "Bearer", "a 401 says which scheme it wants (RFC 9110 section 11.6.1)");
        }
        assert.equal(syncs.length, 4);
    });

    it("a follower says so: a push is left to the leader's next check (202), /sync, /suspend and /resume get 503 naming the leader", async () => {
        syncs.length = 0;
        suspends.length = 0;
        leader = "agent-b";
        try {
            const body = push("refs/heads/main");
            const res = await hook(body, { "X-Hub-Signature-256": sign(body) });
            assert.equal(res.status, 202);
            assert.equal(await res.text(), "not started here: this replica (agent-a) does not lead; the leader agent-b applies the push at its next check of the branch\n");
            const auth = { Authorization: `Bearer ${TOKEN}` };
            for (const path of ["/sync", "/suspend", "/resume"]) {
                const r = await fetch(`${base}${path}`, { method: "POST", headers: auth });
                assert.equal(r.status, 503, path);
                assert.equal(r.headers.get("retry-after"), "2");
                assert.match(await r.text(), /^this replica \(agent-a\) does not lead; send it to the leader agent-b \(kubectl port-forward pod\/agent-b 8080 in the agent's namespace\)\n$/);
            }
            assert.equal((await fetch(`${base}/sync`, { method: "POST" })).status, 401, "credentials are checked before leadership is told");
            // Nobody leads (an election failing here, or its first round not done): nothing would take a push.
            leader = undefined;
            const none = await hook(body, { "X-Hub-Signature-256": sign(body) });
            assert.deepEqual([none.status, none.headers.get("retry-after"), await none.text()], [503, "2", "no replica leads right now; try again\n"]);
            assert.equal((await fetch(`${base}/sync`, { method: "POST", headers: auth })).status, 503);
            assert.deepEqual([syncs, suspends], [[], []], "nothing was started on a replica that would not run it");
        } finally {
            leader = "agent-a";
        }
    });

    it("credentials are read per request: rotated ones count at once, an unreadable one makes its endpoint answer 503, none turns it off", async () => {
        const body = push("refs/heads/main");
        try {
            webhookSecret = { value: "rotated-secret" };
            syncToken = { value: "rotated-token" };
            assert.equal((await hook(body, { "X-Hub-Signature-256": sign(body) })).status, 401, "the old secret is refused");
            assert.equal((await hook(body, { "X-Hub-Signature-256": sign(body, "rotated-secret") })).status, 202);
            assert.equal((await fetch(`${base}/sync`, { method: "POST", headers: { Authorization: `Bearer ${TOKEN}` } })).status, 401, "the old token is refused");
            assert.equal((await fetch(`${base}/sync`, { method: "POST", headers: { Authorization: "Bearer rotated-token" } })).status, 202);
            webhookSecret = { error: "AGENT_WEBHOOK_SECRET_FILE /x cannot be read: ENOENT" };
            syncToken = { error: "AGENT_SYNC_TOKEN_FILE /y cannot be read: EACCES" };
            const hookRes = await hook(body, { "X-Hub-Signature-256": sign(body) });
            assert.deepEqual([hookRes.status, await hookRes.text()], [503, "the webhook secret cannot be read; the agent's log says why\n"]);
            const syncRes = await fetch(`${base}/sync`, { method: "POST", headers: { Authorization: `Bearer ${TOKEN}` } });
            assert.deepEqual([syncRes.status, await syncRes.text()], [503, "the sync token cannot be read; the agent's log says why\n"]);
            webhookSecret = undefined;
            syncToken = undefined;
            assert.equal((await hook(body, { "X-Hub-Signature-256": sign(body) })).status, 404);
            assert.equal((await fetch(`${base}/resume`, { method: "POST", headers: { Authorization: `Bearer ${TOKEN}` } })).status, 404);
        } finally {
            webhookSecret = { value: SECRET };
            syncToken = { value: TOKEN };
        }
    });

    it("signature check is an HMAC-SHA256 over the exact body", () => {
        const body = Buffer.from("payload");
        assert.equal(validSignature("s", body, `sha256=${crypto.createHmac("sha256", "s").update(body).digest("hex")}`), true);
        assert.equal(validSignature("s", body, `sha1=${crypto.createHmac("sha1", "s").update(body).digest("hex")}`), false);
        assert.equal(validSignature("s", body, undefined), false);
    });
});

describe("pushVerdict: any verified payload gets a verdict", () => {
    it("valid JSON that is not an object is ignored, not a 500", () => {
        for (const body of ["null", "1", "\"refs/heads/main\"", "[]", "true", "[{\"ref\":\"refs/heads/main\"}]"]) {
            const v = pushVerdict("push", Buffer.from(body), "main");
            assert.deepEqual(v, { sync: false, reason: "payload is not a JSON object" }, body);
        }
    });

    it("a ref that is not a string is no ref; a long one is cut in the reason", () => {
        assert.deepEqual(pushVerdict("push", Buffer.from(JSON.stringify({ ref: { a: 1 } })), "main"), { sync: false, reason: "push to (no ref), following refs/heads/main" });
        const long = pushVerdict("push", Buffer.from(JSON.stringify({ ref: `refs/heads/${"x".repeat(5000)}` })), "main");
        assert.equal(long.sync, false);
        assert.ok(!long.sync && long.reason.length < 300, "the reason echoes at most a capped part of the ref");
    });
});

describe("agent HTTP server limits: unauthenticated bodies and slow clients (real HTTP on loopback)", () => {
    // The body deadline is seconds long so the budget test's bodies are still being read under a loaded machine's stalls.
    const limits = { bodyBytes: 64 * 1024, pendingBodyBytes: 128 * 1024, bodyTimeoutMs: 5000, headersTimeoutMs: 1000, requestTimeoutMs: 10_000 };
    const syncs: Trigger[] = [];
    const server = createServer({
        status: () => emptyStatus(0), metrics: new AgentMetrics(), branch: "main", sync: (t) => syncs.push(t), suspend: () => {},
        election: () => ({ identity: "a", leader: "a" }), leads: () => true, webhookSecret: () => ({ value: SECRET }), syncToken: () => ({ value: TOKEN }),
        log: () => {}, notReady: () => undefined, limits,
    });
    let port = 0;
    const open: net.Socket[] = [];
    before(async () => {
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
        port = (server.address() as AddressInfo).port;
    });
    after(() => {
        for (const s of open) s.destroy();
        server.close();
        server.closeAllConnections();
    });

    /** A connection that sends the headers of a signed-looking webhook and `bytes` of its body, and never finishes. */
    const unfinished = (headers: string, bytes: number) => {
        const socket = net.connect(port, "127.0.0.1");
        open.push(socket);
        let got = "";
        socket.on("data", (d) => (got += d.toString("latin1")));
        socket.on("error", () => {});
        const closed = new Promise<void>((r) => socket.on("close", () => r()));
        socket.write(`POST /webhook HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: push\r\nX-Hub-Signature-256: sha256=${"0".repeat(64)}\r\n${headers}\r\n`);
        if (bytes) socket.write("x".repeat(bytes));
        return { socket, answer: () => got, closed };
    };
    const signedPush = async () => {
        const body = JSON.stringify({ ref: "refs/heads/main", after: "e".repeat(40) });
        const sig = `sha256=${crypto.createHmac("sha256", SECRET).update(body).digest("hex")}`;
        return fetch(`http://127.0.0.1:${port}/webhook`, { method: "POST", body, headers: { "X-GitHub-Event": "push", "X-Hub-Signature-256": sig } });
    };
    /** A whole unsigned webhook of `bytes`: what the server answered. */
    const whole = (bytes: number) => rawRequest(port, `POST /webhook HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: push\r\nContent-Length: ${bytes}\r\nConnection: close\r\n\r\n${"z".repeat(bytes)}`);
    const settle = () => new Promise((r) => setTimeout(r, 200));

    it("bodies in flight are bounded in total, across connections: past the budget 503, and a finished or closed request gives its bytes back", { timeout: 30_000 }, async () => {
        // Declared lengths are taken whole before reading: the third 60 KiB body does not fit in 128 KiB.
        const a = unfinished("Content-Length: 61440\r\n", 1024);
        const b = unfinished("Content-Length: 61440\r\n", 1024);
        await settle();
        const c = unfinished("Content-Length: 61440\r\n", 1024);
        await c.closed;
        assert.match(c.answer(), /^HTTP\/1\.1 503 /);
        assert.match(c.answer(), /\r\nretry-after: \d+\r\n/i);
        a.socket.destroy();
        b.socket.destroy();
        await settle();
        // Chunked bodies are counted as they arrive.
        const d = unfinished("Transfer-Encoding: chunked\r\n", 0);
        d.socket.write(`${(60 * 1024).toString(16)}\r\n${"y".repeat(60 * 1024)}\r\n`);
        const e = unfinished("Transfer-Encoding: chunked\r\n", 0);
        e.socket.write(`${(60 * 1024).toString(16)}\r\n${"y".repeat(60 * 1024)}\r\n`);
        await settle();
        const f = unfinished("Transfer-Encoding: chunked\r\n", 0);
        f.socket.write(`${(20 * 1024).toString(16)}\r\n${"y".repeat(20 * 1024)}\r\n`);
        await f.closed;
        assert.match(f.answer(), /^HTTP\/1\.1 503 /);
        assert.equal(d.answer() + e.answer(), "", "the bodies within the budget are still being read");
        // A closed connection gives its bytes back at once: another 60 KiB fits beside e's.
        d.socket.destroy();
        await settle();
        assert.match(await whole(60 * 1024), /^HTTP\/1\.1 401 /, "read in full, then refused for its signature");
        e.socket.destroy();
        syncs.length = 0;
        assert.equal((await signedPush()).status, 202);
        assert.deepEqual(syncs, ["webhook"]);
    });

    it("a body that does not arrive in time gets 408 and the connection is closed", { timeout: 30_000 }, async () => {
        const started = Date.now();
        const slow = unfinished("Content-Length: 1000\r\n", 10);
        const slower = unfinished("Content-Length: 61440\r\n", 10);
        await Promise.all([slow.closed, slower.closed]);
        assert.match(slow.answer(), /^HTTP\/1\.1 408 /);
        assert.match(slower.answer(), /^HTTP\/1\.1 408 /);
        assert.ok(Date.now() - started >= limits.bodyTimeoutMs - 100, "not before the deadline");
        // Their bytes were given back: two 60 KiB bodies fit at once.
        const both = await Promise.all([whole(60 * 1024), whole(60 * 1024)]);
        for (const answer of both) assert.match(answer, /^HTTP\/1\.1 401 /);
    });

    it("the server's own deadlines: headers in headersTimeout, the whole request in requestTimeout", { timeout: 15_000 }, async () => {
        assert.equal(server.headersTimeout, limits.headersTimeoutMs);
        assert.equal(server.requestTimeout, limits.requestTimeoutMs);
        const socket = net.connect(port, "127.0.0.1");
        open.push(socket);
        let got = "";
        socket.on("data", (d) => (got += d));
        socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\n");
        await new Promise((r) => socket.on("close", r));
        assert.match(got, /^HTTP\/1\.1 408 /, "headers that never end are cut off");
    });
});

describe("AgentMetrics: a status of the wrong shape is observed without a throw", () => {
    it("odd fields count as 0 or unknown instead of making the status write fail", async () => {
        const metrics = new AgentMetrics();
        const odd = { failures: "3", driftedResources: null, conditions: { Ready: null }, lastAppliedRevision: { a: 1 }, history: null };
        metrics.observe(odd as never, { revision: "r", kind: "apply", result: "failed", startedAt: "not a date", durationMs: "x" as never });
        const m = await metrics.registry.metrics();
        assert.match(m, /openfaas_gitops_consecutive_failures 0/);
        assert.match(m, /openfaas_gitops_drifted_resources 0/);
        assert.match(m, /openfaas_gitops_condition\{type="Ready",status="True"\} 0/);
        assert.doesNotMatch(m, /openfaas_gitops_revision_info\{/);
    });
});
