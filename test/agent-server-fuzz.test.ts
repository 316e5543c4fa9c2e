/**
 * The agent's HTTP surface under property-based tests (fast-check): the server over raw loopback
 * sockets with random methods, request targets (malformed ones included), headers and bodies, and
 * the pure parsers it is built from. Every run is bounded in count and in time.
 */
import { strict as assert } from "node:assert";
import * as crypto from "node:crypto";
import * as net from "node:net";
import { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { AgentMetrics, bearerToken, createServer, requestPath, statusPage } from "../agent/server";
import { emptyStatus } from "../agent/conditions";
import { AgentStatus, CONDITIONS } from "../agent/status";
import { pushVerdict } from "../agent/webhook";

const SECRET = "fuzz-webhook-secret";
const TOKEN = "fuzz-sync-token";
/** Bounds of each property: runs, and wall time on a loaded 2-core machine. */
const BOUND = { numRuns: 600, interruptAfterTimeLimit: 10_000, markInterruptAsFailure: false } as const;

/** Markup that must never come out of the status page as markup. */
const EVIL = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "\"'&<>", `main@sha1:${"ab".repeat(20)}`, "\u0000\uffff"];
const leaf = fc.oneof(fc.constantFrom(...EVIL), fc.string({ maxLength: 20 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null));
const { value: anyJson } = fc.letrec((tie) => ({
    value: fc.oneof({ depthSize: "small" }, leaf, fc.array(tie("value"), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 8 }), tie("value"), { maxKeys: 3 })),
}));
const anyRun = fc.oneof(anyJson, fc.record({ revision: anyJson, kind: anyJson, result: anyJson, durationMs: anyJson, startedAt: anyJson, message: anyJson }, { requiredKeys: [] }));
const anyCondition = fc.oneof(anyJson, fc.record({ status: fc.oneof(fc.constantFrom("True", "False", "Unknown"), anyJson), reason: anyJson, message: anyJson, lastTransitionTime: anyJson }, { requiredKeys: [] }));
/** A status as an edited ConfigMap could hold it: every field of any type, or missing. */
const anyStatus = fc.record(
    {
        headRevision: anyJson, lastAppliedRevision: anyJson, lastAttemptedRevision: anyJson, failures: anyJson, nextRetryAt: anyJson, suspended: anyJson,
        lastCheckedAt: anyJson, history: fc.oneof(anyJson, fc.array(anyRun, { maxLength: 4 })),
        conditions: fc.oneof(anyJson, fc.record(Object.fromEntries(CONDITIONS.map((c) => [c, anyCondition])), { requiredKeys: [] })),
    },
    { requiredKeys: [] },
) as fc.Arbitrary<unknown> as fc.Arbitrary<AgentStatus>;

/** Sends `raw` and resolves with the status line of the first answer, or rejects when none comes in time. */
function firstStatusLine(port: number, raw: Buffer): Promise<string> {
    return new Promise((resolve, reject) => {
        const socket = net.connect(port, "127.0.0.1", () => socket.write(raw));
        let got = "";
        const done = (f: () => void) => {
            socket.destroy();
            f();
        };
        socket.on("data", (d) => {
            got += d.toString("latin1");
            const line = /^HTTP\/1\.1 \d{3} [^\r\n]*\r\n/.exec(got);
            if (line) done(() => resolve(line[0].trim()));
        });
        socket.on("error", () => {});
        socket.on("close", () => reject(new Error(`closed without an answer (got ${JSON.stringify(got.slice(0, 80))})`)));
        socket.setTimeout(5000, () => done(() => reject(new Error("no answer within 5 s"))));
    });
}

describe("agent HTTP server under a fuzzer (raw sockets on loopback)", () => {
    let leads = true;
    let status: AgentStatus = emptyStatus(0);
    const rejections: unknown[] = [];
    const onRejection = (r: unknown) => rejections.push(r);
    const server = createServer({
        status: () => status, metrics: new AgentMetrics(), branch: "main", sync: () => {}, suspend: () => {},
        election: () => ({ identity: "agent-a", leader: leads ? "agent-a" : "agent-b" }), leads: () => leads,
        webhookSecret: () => ({ value: SECRET }), syncToken: () => ({ value: TOKEN }), log: () => {}, notReady: () => undefined,
        // Small limits, so that bodies are refused (413) and cut off (408) too, and quickly.
        limits: { bodyBytes: 1024, pendingBodyBytes: 64 * 1024, bodyTimeoutMs: 300, headersTimeoutMs: 1000, requestTimeoutMs: 2000 },
    });
    let port = 0;
    before(async () => {
        process.on("unhandledRejection", onRejection);
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
        port = (server.address() as AddressInfo).port;
    });
    after(() => {
        process.off("unhandledRejection", onRejection);
        server.close();
        server.closeAllConnections();
    });

    const token = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}$/);
    // Weighted towards requests the parser accepts, so that most runs reach the handlers.
    const method = fc.oneof(
        { arbitrary: fc.constant("POST"), weight: 5 },
        { arbitrary: fc.constantFrom("GET", "HEAD"), weight: 4 },
        { arbitrary: fc.constantFrom("PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT", "QUERY", "get", "PRI"), weight: 2 },
        { arbitrary: token, weight: 1 },
    );
    const target = fc.oneof(
        { arbitrary: fc.constant("/webhook"), weight: 4 },
        { arbitrary: fc.constantFrom("/sync", "/suspend", "/resume"), weight: 2 },
        { arbitrary: fc.constantFrom("/", "/healthz", "/readyz", "/metrics", "/status.json"), weight: 3 },
        { arbitrary: fc.constantFrom("//", "http://[::1", "*", "http://agent/sync", "https://agent:8080/webhook?x=1", "//evil.example/webhook", "/%", "/%zz/../webhook",
            "/webhook?a=%ff", "agent:8080", "\\", "/\u00ff", "/sync/", "/SYNC", "/./webhook"), weight: 3 },
        { arbitrary: fc.string({ unit: "binary-ascii", maxLength: 40 }).map((s) => s.replace(/[\r\n ]/g, "")), weight: 1 },
        { arbitrary: fc.string({ unit: "grapheme-ascii", maxLength: 40 }).map((s) => `/${s.replace(/ /g, "")}`), weight: 1 },
    );
    const headerValue = fc.oneof(fc.string({ unit: "grapheme-ascii", maxLength: 30 }), fc.constantFrom("chunked", "gzip, chunked", "100-continue", "websocket", "close", "-1", "99999999999", ""));
    const header = fc.oneof(
        { arbitrary: fc.tuple(fc.constantFrom("Accept", "User-Agent", "Content-Type", "X-GitHub-Event", "X-Hub-Signature-256", "Authorization", "Connection", "Upgrade", "X-Forwarded-For"), headerValue), weight: 6 },
        { arbitrary: fc.tuple(fc.constantFrom("Content-Length", "Transfer-Encoding", "Expect", "Host"), headerValue), weight: 1 },
        { arbitrary: fc.tuple(token, headerValue), weight: 2 },
    );
    const request = fc.record({
        method, target, headers: fc.array(header, { maxLength: 4 }),
        body: fc.oneof(fc.uint8Array({ maxLength: 2048, size: "max" }), fc.jsonValue({ maxDepth: 2 }).map((v) => new TextEncoder().encode(JSON.stringify(v) ?? "")),
            fc.constantFrom(...[`{"ref":"refs/heads/main","after":"${"a".repeat(40)}"}`, "null", "[]", "{\"ref\":{}}"].map((s) => new TextEncoder().encode(s)))),
        // "trailing": the body after a request that declares none, parsed by the server as a next request.
        // "short": a Content-Length beyond the body, which never arrives in full.
        framing: fc.oneof({ arbitrary: fc.constant("content-length"), weight: 4 }, fc.constantFrom("chunked", "none", "trailing", "short")),
        auth: fc.constantFrom("none", "bearer", "signed", "both"),
        leads: fc.boolean(),
        status: fc.oneof(fc.constant(undefined), anyStatus),
    });

    it("every request gets an answer, and the server keeps serving", async () => {
        let runs = 0;
        await fc.assert(
            fc.asyncProperty(request, async (r) => {
                runs++;
                leads = r.leads;
                status = r.status ?? emptyStatus(0);
                const body = Buffer.from(r.body);
                const lines = [`${r.method} ${r.target} HTTP/1.1`, "Host: agent", ...r.headers.map(([k, v]) => `${k}: ${v}`)];
                if (r.auth === "bearer" || r.auth === "both") lines.push(`Authorization: bearer  ${TOKEN}`);
                if (r.auth === "signed" || r.auth === "both") lines.push("X-GitHub-Event: push", `X-Hub-Signature-256: sha256=${crypto.createHmac("sha256", SECRET).update(body).digest("hex")}`);
                let payload = r.framing === "none" ? Buffer.alloc(0) : body;
                if (r.framing === "content-length") lines.push(`Content-Length: ${body.length}`);
                if (r.framing === "short") lines.push(`Content-Length: ${body.length + 1}`);
                if (r.framing === "chunked") {
                    lines.push("Transfer-Encoding: chunked");
                    payload = Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from("\r\n0\r\n\r\n")]);
                }
                const raw = Buffer.concat([Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1"), payload]);
                const line = await firstStatusLine(port, raw);
                assert.match(line, /^HTTP\/1\.1 [1-5]\d\d /);
                assert.doesNotMatch(line, /^HTTP\/1\.1 500 /, `a 500 for ${JSON.stringify(lines)}`);
            }),
            BOUND,
        );
        assert.ok(runs >= 20, `only ${runs} runs in the time bound`);
        assert.ok(server.listening);
        status = emptyStatus(0);
        assert.equal(await firstStatusLine(port, Buffer.from("GET /healthz HTTP/1.1\r\nHost: agent\r\n\r\n")), "HTTP/1.1 200 OK");
        assert.deepEqual(rejections, [], "no rejection escaped");
    });
});

describe("the HTTP surface's parsers, property-based", () => {
    it("pushVerdict: any bytes and any JSON give a verdict, never a throw; it syncs only a push whose ref is the branch", () => {
        const body = fc.oneof(fc.uint8Array({ maxLength: 256 }).map((b) => Buffer.from(b)), fc.jsonValue({ maxDepth: 3 }).map((v) => Buffer.from(JSON.stringify(v) ?? "")),
            fc.record({ ref: fc.oneof(fc.constant("refs/heads/main"), fc.jsonValue({ maxDepth: 1 })), after: fc.oneof(fc.stringMatching(/^[0-9a-f]{40}$/), fc.jsonValue({ maxDepth: 1 })) }, { requiredKeys: [] })
                .map((o) => Buffer.from(JSON.stringify(o))));
        fc.assert(
            fc.property(fc.option(fc.constantFrom("push", "ping", "issues"), { nil: undefined }), body, (event, b) => {
                const v = pushVerdict(event, b, "main");
                if (v.sync) {
                    const payload = JSON.parse(b.toString("utf8")) as { ref: unknown; after: unknown };
                    assert.equal(event, "push");
                    assert.equal(payload.ref, "refs/heads/main");
                    assert.ok(v.revision === undefined || v.revision === payload.after);
                } else assert.ok(v.reason.length < 300, "a reason is short");
            }),
            { numRuns: 1000 },
        );
    });

    it("bearerToken: any casing of the scheme and any spaces around the token; anything else is no token", () => {
        const spaces = (min: number) => fc.array(fc.constantFrom(" ", "\t"), { minLength: min, maxLength: 4 }).map((a) => a.join(""));
        const tokenArb = fc.stringMatching(/^[A-Za-z0-9._~+/-]+=*$/);
        const casing = fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }).map((up) => [..."bearer"].map((c, i) => (up[i] ? c.toUpperCase() : c)).join(""));
        fc.assert(
            fc.property(spaces(0), casing, spaces(1), tokenArb, spaces(0), (lead, scheme, gap, t, trail) => {
                assert.equal(bearerToken(`${lead}${scheme}${gap}${t}${trail}`), t);
            }),
            { numRuns: 500 },
        );
        fc.assert(
            fc.property(fc.string({ unit: "binary", maxLength: 64 }), (s) => {
                const t = bearerToken(s);
                if (t !== undefined) {
                    assert.match(s.trim(), /^bearer[ \t]/i);
                    assert.equal(t, t.trim());
                    assert.notEqual(t, "");
                }
            }),
            { numRuns: 1000 },
        );
        assert.equal(bearerToken(`Bearer ${" ".repeat(16 * 1024)}x`), "x", "16 KiB of spaces: linear");
    });

    it("requestPath: never throws; a path when the target has one, starting with /", () => {
        fc.assert(
            fc.property(fc.oneof(fc.string({ unit: "binary", maxLength: 60 }), fc.webUrl(), fc.webPath(), fc.string({ maxLength: 30 }).map((s) => `/${s}`)), (t) => {
                const p = requestPath(t);
                if (t.startsWith("/")) assert.notEqual(p, undefined, t);
                if (p !== undefined) assert.ok(p.startsWith("/"), `${t} -> ${p}`);
            }),
            { numRuns: 1000 },
        );
    });

    it("statusPage and the metrics: a status of any shape renders and is observed, and no markup from it survives", () => {
        const metrics = new AgentMetrics();
        fc.assert(
            fc.property(anyStatus, fc.constantFrom(...EVIL), (s, identity) => {
                const html = statusPage(s, { identity, leader: identity });
                assert.match(html, /<\/html>\n$/);
                assert.doesNotMatch(html, /<script|<img/);
                metrics.observe(s);
            }),
            { numRuns: 500 },
        );
    });
});
