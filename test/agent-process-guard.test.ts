import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { describe, it } from "node:test";

const GUARD = path.resolve(__dirname, "..", "agent", "process-guard.ts");

/** Runs `body` in a fresh Node process, with the agent's guard installed first when `guarded`. */
function run(body: string, guarded: boolean) {
    const log = "{ error: (f, m) => console.log('error', m, f.error), fatal: (f, m) => console.log('fatal', m, f.error) }";
    const script = `${guarded ? `require(${JSON.stringify(GUARD)}).guardProcess(${log});` : ""}${body}`;
    const r = spawnSync(process.execPath, ["--import", "tsx", "-e", script], { encoding: "utf8", timeout: 30_000 });
    return { code: r.status, out: r.stdout };
}

describe("the agent process's last resort for errors nobody caught", () => {
    const reject = "Promise.reject(new Error('boom')); setTimeout(() => console.log('still serving'), 200);";

    it("an unhandled rejection is logged and the process keeps running (without the guard Node ends it)", () => {
        assert.deepEqual(run(reject, true), { code: 0, out: "error unhandled rejection; still serving boom\nstill serving\n" });
        assert.equal(run(reject, false).code, 1, "Node's default: the process ends");
    });

    it("a URL credential in what it logs is redacted, as in every other error the agent logs", () => {
        const leak = "Promise.reject(new Error('cannot reach https://oauth2:tok-5511@git.example/r.git')); setTimeout(() => {}, 100);";
        assert.deepEqual(run(leak, true), { code: 0, out: "error unhandled rejection; still serving cannot reach https://***@git.example/r.git\n" });
        const fatal = run("setTimeout(() => { throw new Error('postgres://u:pw-77@db/x broke'); }, 10);", true);
        assert.deepEqual(fatal, { code: 1, out: "fatal uncaught exception; exiting for a restart postgres://***@db/x broke\n" });
    });

    it("an uncaught exception is logged as fatal and the process exits 1", () => {
        const r = run("setTimeout(() => { throw new Error('broken state'); }, 10); setTimeout(() => console.log('not reached'), 500);", true);
        assert.deepEqual(r, { code: 1, out: "fatal uncaught exception; exiting for a restart broken state\n" });
    });
});
