import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { secretFile } from "../agent/secret-file";
import { tempDir } from "./support/tmp";

/** A directory laid out as kubelet mounts a Secret: `token -> ..data/token`, `..data -> ..<n>`; rotate() swaps `..data`. */
function mountedSecret(value: string) {
    const dir = tempDir("ofg-secret-");
    let n = 0;
    const rotate = (v: string) => {
        const version = `..${++n}`;
        fs.mkdirSync(path.join(dir, version));
        fs.writeFileSync(path.join(dir, version, "token"), v);
        fs.symlinkSync(version, path.join(dir, "..data_tmp"));
        fs.renameSync(path.join(dir, "..data_tmp"), path.join(dir, "..data"));
    };
    rotate(value);
    fs.symlinkSync("..data/token", path.join(dir, "token"));
    return { file: path.join(dir, "token"), rotate };
}

describe("secretFile: a mounted credential, re-read while the agent runs", () => {
    it("a rotation (kubelet's symlink swap) counts once the last read is older than maxAgeMs, and is logged without the value", () => {
        const m = mountedSecret("first-value\n");
        let now = 0;
        const logs: string[] = [];
        const get = secretFile(m.file, "AGENT_SYNC_TOKEN_FILE", (level, msg) => logs.push(`${level} ${msg}`), { maxAgeMs: 1000, clock: () => now });
        assert.deepEqual(get(), { value: "first-value" }, "trimmed, as before");
        m.rotate("second-value");
        now = 999;
        assert.deepEqual(get(), { value: "first-value" }, "a read is reused within maxAgeMs");
        now = 1000;
        assert.deepEqual(get(), { value: "second-value" });
        assert.deepEqual(logs, [`info AGENT_SYNC_TOKEN_FILE ${m.file} changed: the new value is in use`]);
        assert.doesNotMatch(logs.join("\n"), /first-value|second-value/);
    });

    it("a wall clock stepped back does not keep a revoked value: the read is reused only within maxAgeMs after it, never before", () => {
        // Date.now() can go back (an NTP step): now - readAt was negative, so below maxAgeMs, and the
        // old value was served (and a rotated-out token accepted) until the clock caught up.
        const m = mountedSecret("old-token");
        let now = 10 * 3_600_000;
        const get = secretFile(m.file, "AGENT_SYNC_TOKEN_FILE", () => {}, { maxAgeMs: 1000, clock: () => now });
        assert.deepEqual(get(), { value: "old-token" });
        m.rotate("new-token");
        now -= 3_600_000;
        assert.deepEqual(get(), { value: "new-token" });
    });

    it("an unreadable or empty file is an error naming the setting and the file, logged once per change, until it can be read again", () => {
        const m = mountedSecret("v1");
        const logs: string[] = [];
        let now = 0;
        const get = secretFile(m.file, "AGENT_WEBHOOK_SECRET_FILE", (level, msg) => logs.push(`${level} ${msg}`), { maxAgeMs: 1, clock: () => now++ });
        assert.deepEqual(get(), { value: "v1" });
        fs.unlinkSync(path.join(path.dirname(m.file), "..data"));
        const missing = get();
        assert.ok("error" in missing && missing.error.startsWith(`AGENT_WEBHOOK_SECRET_FILE ${m.file} cannot be read: ENOENT`), JSON.stringify(missing));
        get();
        get();
        m.rotate("   \n");
        assert.deepEqual(get(), { error: `AGENT_WEBHOOK_SECRET_FILE ${m.file} is empty` });
        m.rotate("v2");
        assert.deepEqual(get(), { value: "v2" });
        assert.equal(logs.length, 3, logs.join("\n"));
        assert.match(logs[0]!, /^error AGENT_WEBHOOK_SECRET_FILE .* cannot be read: ENOENT.*; the endpoint it guards answers 503 until it can be read$/);
        assert.match(logs[1]!, /^error AGENT_WEBHOOK_SECRET_FILE .* is empty; /);
        assert.equal(logs[2], `info AGENT_WEBHOOK_SECRET_FILE ${m.file} can be read again`);
    });
});
