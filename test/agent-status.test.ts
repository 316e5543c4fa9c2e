/**
 * The persisted status: whatever a status ConfigMap holds (written by this agent, an older one, or
 * a person with kubectl) gives a usable status, and whatever happens the ConfigMap the agent writes
 * stays far below Kubernetes' 1 MiB limit. Property-based (fast-check) besides hand-picked cases.
 */
import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import * as fc from "fast-check";
import { Engine, RunContext, RunResult } from "../agent/engine";
import { statusConfigMapData } from "../agent/status-store";
import { parsePersisted, readPersisted } from "../agent/persisted-status";
import { Reconciler, Source } from "../agent/reconciler";
import { capText, MAX_TEXT } from "../agent/status";

const NOW = Date.parse("2026-11-24T00:00:00Z");
const A = "a".repeat(40);

/** TEST DOUBLE for the engine (no Pulumi CLI here): fails with `error` when set, drifts by `drift`. */
class Engine_ implements Engine {
    error?: string;
    drift: string[] = [];
    driftError?: string;
    async up(_: RunContext): Promise<RunResult> {
        if (this.error !== undefined) throw new Error(this.error);
        return { changes: { same: 1 }, changed: [] };
    }
    async detectDrift(): Promise<RunResult> {
        if (this.driftError !== undefined) throw new Error(this.driftError);
        return { changes: { update: this.drift.length }, changed: this.drift };
    }
    async correctDrift(): Promise<RunResult> {
        return { changes: { update: this.drift.length }, changed: this.drift };
    }
}

/** TEST DOUBLE for the git source: the head and its failure are set by the test. */
class Source_ implements Source {
    headRev = A;
    error?: string;
    async head() {
        if (this.error !== undefined) throw new Error(this.error);
        return this.headRev;
    }
    async checkout() {
        return "/checkout";
    }
    async verify() {}
}

function agent(initial?: unknown) {
    const engine = new Engine_();
    const source = new Source_();
    let now = NOW;
    const r = new Reconciler(
        { source, engine, clock: () => (now += 1000), isLeader: () => true, settings: { backoffBaseMs: 1, backoffCapMs: 1, stalledAfter: 3, driftMode: "report" } },
        initial,
    );
    return { r, engine, source };
}

/** Bytes of a ConfigMap's data as the apiserver counts them (keys and values, UTF-8). */
const dataBytes = (data: Record<string, string>) => Object.entries(data).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);

describe("reading a persisted status", () => {
    it('{"history":null} (the crash loop): history is dropped and named, the rest kept, the agent applies', async () => {
        const { status, dropped } = parsePersisted(JSON.stringify({ history: null, lastAppliedRevision: A }), NOW);
        assert.deepEqual(dropped, ["history"]);
        assert.deepEqual([status.history, status.lastAppliedRevision], [[], A]);
        // The whole path as at start: the reconciler takes what the ConfigMap held.
        const { r, source } = agent(JSON.parse('{"history":null}'));
        source.headRev = "b".repeat(40);
        assert.equal((await r.sync("poll")).action, "applied");
        assert.equal(r.status.history.length, 1);
    });

    it("keeps each valid field, drops each invalid one (and a bad run record alone), names them without their values", () => {
        const good = { revision: A, kind: "apply", result: "succeeded", startedAt: "2026-11-24T00:00:00.000Z", durationMs: 5 };
        const { status, dropped } = readPersisted(
            {
                lastAppliedRevision: A,
                failures: "secret-value-1",
                stalledReason: "NoSuchReason",
                nextRetryAt: "tomorrow",
                drift: { revision: A, resources: "secret-value-2", corrected: false },
                history: [good, { ...good, kind: "secret-value-3" }, 7, good],
                conditions: { Ready: { status: "maybe" } },
                stalledArtifact: `sha256:${"0".repeat(200)}`,
                somethingNew: { token: "secret-value-4" },
            },
            NOW,
        );
        assert.deepEqual([...dropped].sort(), ["conditions", "drift", "failures", "history[1]", "history[2]", "nextRetryAt", "somethingNew", "stalledArtifact", "stalledReason"]);
        assert.doesNotMatch(dropped.join(" "), /secret-value/);
        assert.equal(status.lastAppliedRevision, A);
        assert.equal(status.failures, 0);
        assert.equal(status.history.length, 2);
        assert.equal(status.conditions.Ready.status, "True");
    });

    it("a ConfigMap with thousands of unknown fields: the log names 20 of them, each at most 64 characters", () => {
        const raw = Object.fromEntries(Array.from({ length: 5_000 }, (_, i) => [`${"k".repeat(100)}${i}`, i]));
        const { dropped } = readPersisted({ ...raw, lastAppliedRevision: A }, NOW);
        assert.equal(dropped.length, 21);
        assert.equal(dropped.at(-1), "and 4980 more");
        assert.ok(dropped.every((d) => d.length <= 64));
    });

    it("a status.json that is not JSON, or not an object, starts fresh and says so", () => {
        assert.deepEqual(parsePersisted("{not json", NOW).dropped, ["the whole status (not JSON)"]);
        assert.deepEqual(parsePersisted("null", NOW).dropped, ["the whole status (a JSON null, not an object)"]);
        assert.deepEqual(parsePersisted("[1]", NOW).dropped, ["the whole status (a JSON array, not an object)"]);
        assert.equal(parsePersisted('"x"', NOW).status.failures, 0);
    });

    it("an error stored whole by an older agent is capped when read", () => {
        const { status } = readPersisted({ failures: 1, lastAttemptedRevision: A, applyError: "x".repeat(200_000) }, NOW);
        assert.ok(status.applyError!.length <= MAX_TEXT);
        assert.ok(status.conditions.Ready.message.length <= MAX_TEXT);
    });

    it("fuzz: any JSON value, any object of known fields with any values, any string: a usable status, never a throw", async () => {
        const fields = ["headRevision", "lastAppliedRevision", "lastAttemptedRevision", "failures", "nextRetryAt", "applyError", "stalledReason", "stalledArtifact", "sourceError", "leaderElectionError", "drift", "suspended", "suspendedBy", "lastCheckedAt", "conditions", "history", "lastError", "driftedResources", "running", "__proto__", "constructor"];
        const nearShape = fc.dictionary(fc.constantFrom(...fields), fc.oneof(fc.jsonValue(), fc.array(fc.dictionary(fc.constantFrom("revision", "kind", "result", "startedAt", "durationMs", "message", "status"), fc.jsonValue()))), { maxKeys: 8 });
        await fc.assert(
            fc.asyncProperty(fc.oneof(fc.jsonValue(), nearShape), async (raw) => {
                const { status } = readPersisted(raw, NOW);
                // Usable: it drives a sync and is written back, and what is written reads back whole.
                const { r } = agent(status);
                await r.sync("poll");
                const written = statusConfigMapData(r.status)["status.json"]!;
                assert.deepEqual(parsePersisted(written, NOW).dropped, []);
            }),
            { numRuns: 300 },
        );
        fc.assert(
            fc.property(fc.oneof(fc.string(), fc.string({ unit: "binary" }), fc.jsonValue().map((v) => JSON.stringify(v).slice(0, -1))), (text) => {
                const { status } = parsePersisted(text, NOW);
                assert.ok(Array.isArray(status.history) && typeof status.failures === "number");
            }),
            { numRuns: 500 },
        );
    });
});

describe("the status ConfigMap stays bounded", () => {
    it("the 7th failure of a 100 KB error (the issue's case) and beyond: each error stored once, capped, far under 1 MiB", async () => {
        const { r, engine } = agent();
        for (let i = 0; i < 12; i++) {
            engine.error = `pulumi up failed #${i}\n${"CLI output line\n".repeat(6_400)}error: the deployment is invalid`;
            await r.sync("manual");
        }
        const data = statusConfigMapData(r.status);
        assert.ok(dataBytes(data) < 100_000, `${dataBytes(data)} bytes`);
        const json = data["status.json"]!;
        assert.equal(json.split("pulumi up failed #11").length - 1, 1, "the current error once in status.json (applyError), not in lastError, conditions or history");
        assert.match(data.lastError!, /^pulumi up failed #11\n[^]*\[\.\.\. \d+ characters cut; the agent's log has the whole text \.\.\.\][^]*error: the deployment is invalid$/);
        assert.equal(r.status.history.length, 10);
    });

    it("a drift of 150 resources: 100 named in the status, the count whole", async () => {
        const { r, engine } = agent();
        await r.sync("poll");
        engine.drift = Array.from({ length: 150 }, (_, i) => `kubernetes:apps/v1:Deployment::fn-${i} (update)`);
        assert.equal((await r.checkDrift()).action, "drift-reported");
        assert.deepEqual([r.status.drift!.resources.length, r.status.drift!.unlisted], [100, 50]);
        assert.match(r.status.conditions.DriftDetected.message, /^150 resource\(s\) differ from a{12}: kubernetes:apps\/v1:Deployment::fn-0 \(update\), .*fn-99 \(update\) and 50 more$/);
    });

    it("capText keeps the head and the tail, drops colour codes and control characters, and is idempotent", () => {
        assert.equal(capText("\x1b[31merror\x1b[0m: a\x00b\tc\nd"), "error: ab\tc\nd");
        const long = `HEAD${"m".repeat(10_000)}TAIL`;
        const c = capText(long);
        assert.ok(c.length <= MAX_TEXT && c.startsWith("HEAD") && c.endsWith("TAIL"));
        assert.equal(capText(c), c);
    });

    it("fuzz: any sequence of failures, source errors, drift and election errors of any size keeps the ConfigMap under 512 KiB", async () => {
        // Each character kind at its worst: multi-byte, astral, escaped in JSON, control, lone surrogate.
        const text = fc
            .tuple(fc.constantFrom("x", "é", "€", "😀", '"', "\\", "\x1b", "\x01", "\ud800", "\n"), fc.integer({ min: 0, max: 300_000 }), fc.string({ maxLength: 20 }))
            .map(([ch, n, tail]) => ch.repeat(n) + tail);
        const step = fc.oneof(
            fc.record({ kind: fc.constant("apply-fails" as const), text }),
            fc.record({ kind: fc.constant("source-fails" as const), text }),
            fc.record({ kind: fc.constant("election-fails" as const), text }),
            fc.record({ kind: fc.constant("drift-check-fails" as const), text }),
            fc.record({ kind: fc.constant("drift" as const), count: fc.integer({ min: 0, max: 3_000 }), length: fc.integer({ min: 1, max: 2_000 }) }),
            fc.record({ kind: fc.constant("new-revision" as const), revision: fc.string({ minLength: 1, maxLength: 2_000 }) }),
        );
        await fc.assert(
            fc.asyncProperty(fc.array(step, { maxLength: 25 }), async (steps) => {
                const { r, engine, source } = agent();
                for (const s of steps) {
                    engine.error = source.error = engine.driftError = undefined;
                    if (s.kind === "apply-fails") engine.error = s.text;
                    else if (s.kind === "source-fails") source.error = s.text;
                    else if (s.kind === "election-fails") await r.leaderElection(s.text);
                    else if (s.kind === "drift-check-fails") engine.driftError = s.text;
                    else if (s.kind === "drift") engine.drift = Array.from({ length: s.count }, (_, i) => `${"€".repeat(s.length)}${i}`);
                    else source.headRev = s.revision;
                    await r.sync("manual");
                    await r.checkDrift();
                    const bytes = dataBytes(statusConfigMapData(r.status));
                    assert.ok(bytes < 512 * 1024, `${bytes} bytes after ${s.kind}`);
                }
            }),
            { numRuns: 40 },
        );
    });
});
