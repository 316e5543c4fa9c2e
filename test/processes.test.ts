/**
 * tools/processes.ts: what a tool starts dies with it, also when the tool is stopped by a signal
 * (Ctrl-C, a CI runner's SIGTERM), which runs no `exit` hook by itself.
 */
import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import * as path from "node:path";
import { describe, it } from "node:test";
import { until } from "./support/wait";

const alive = (pid: number) => {
    try {
        process.kill(pid, 0);
        return true;
    } catch {
        return false;
    }
};

/** A Node process that starts `sleep` under killOnExit, with `handler` as its own handler of the signal, if any. */
function tool(signal: NodeJS.Signals, handler = "") {
    const processes = path.resolve(__dirname, "..", "tools", "processes");
    const script = `
        const { spawn } = require("node:child_process");
        const { killOnExit } = require(${JSON.stringify(processes)});
        const child = spawn("sleep", ["300"], { stdio: "ignore" });
        killOnExit(child);
        ${handler}
        console.log(child.pid);
        setInterval(() => undefined, 1000);
    `;
    const p = spawn(process.execPath, ["--import", "tsx", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    p.stdout!.on("data", (d) => (out += d));
    return {
        exited: new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => p.on("exit", (code, sig) => resolve({ code, signal: sig }))),
        child: () => until("the tool's child", () => (/^\d+\n/.test(out) ? Number(out.trim()) : undefined), 30_000),
        send: () => p.kill(signal),
    };
}

describe("processes started with killOnExit", () => {
    for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
        it(`die with the tool on ${signal}, which ends as killed by it would (128 + n)`, async () => {
            const t = tool(signal);
            const child = await t.child();
            assert.ok(alive(child));
            t.send();
            const { code } = await t.exited;
            assert.equal(code, 128 + (await import("node:os")).constants.signals[signal]);
            await until(`sleep ${child} to be gone`, () => (alive(child) ? undefined : true), 10_000);
        });
    }

    it("leave a tool's own signal handler in charge (a graceful stop of its own)", async () => {
        const t = tool("SIGINT", `process.on("SIGINT", () => { console.log("own handler"); setTimeout(() => process.exit(0), 200); });`);
        const child = await t.child();
        t.send();
        assert.deepEqual(await t.exited, { code: 0, signal: null });
        await until(`sleep ${child} to be gone`, () => (alive(child) ? undefined : true), 10_000);
    });
});
