/**
 * agent/byte-cap.ts, the one bound on every stream the agent did not make: whatever the chunks, a
 * stream within the limit passes unchanged and one past it fails with the caller's error, having
 * passed no byte beyond the limit.
 */
import { strict as assert } from "node:assert";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ByteCap } from "../agent/byte-cap";

async function through(chunks: Uint8Array[], max: number): Promise<{ out: Buffer; error?: Error; cap: ByteCap }> {
    const cap = new ByteCap(max, () => new Error("over"));
    const out: Buffer[] = [];
    const sink = new Writable({ write: (c: Buffer, _e, done) => (out.push(c), done()) });
    const error = await pipeline(Readable.from(chunks.map((c) => Buffer.from(c))), cap, sink).then(() => undefined, (e: Error) => e);
    return { out: Buffer.concat(out), error, cap };
}

describe("ByteCap", () => {
    it("passes a stream within the limit unchanged, and fails one past it with the caller's error, passing no byte beyond the limit (property)", async () => {
        await fc.assert(
            fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 20 }), fc.nat(600), async (chunks, max) => {
                const all = Buffer.concat(chunks.map((c) => Buffer.from(c)));
                const { out, error, cap } = await through(chunks, max);
                if (all.length <= max) {
                    assert.equal(error, undefined);
                    assert.deepEqual(out, all);
                    assert.equal(cap.bytes, all.length);
                    assert.equal(cap.overLimit, false);
                } else {
                    assert.equal(error?.message, "over");
                    assert.equal(cap.overLimit, true);
                    assert.ok(out.length <= max, `${out.length} bytes passed, limit ${max}`);
                    assert.deepEqual(out, all.subarray(0, out.length), "what passed is the stream's start");
                    assert.ok(cap.bytes > max);
                }
            }),
        );
    });

    it("makes the error once, when the limit is passed (its maker may stop what feeds the stream)", async () => {
        let made = 0;
        const cap = new ByteCap(3, () => (made++, new Error("over")));
        await assert.rejects(pipeline(Readable.from([Buffer.from("ab"), Buffer.from("cd"), Buffer.from("ef")]), cap, new Writable({ write: (_c, _e, done) => done() })), /over/);
        assert.equal(made, 1);
    });
});
