/**
 * `npm run demo` (tools/demo.ts) end to end, on the path a newcomer takes: the local cluster, the
 * bootstrap `pulumi up` of the dev stack through the real engine, the agent process in git mode
 * against the demo repository; the agent applies the bootstrapped commit, then the change the demo
 * suggests (its printed commands, run as printed) after `POST /sync`, and the change is live in the
 * cluster; every socket of the demo stays on loopback; stop leaves no process and no directory.
 * Flux mode is the same agent as test/agent-e2e.test.ts runs it (there with source-controller).
 * Beside it, the demo's command-line arguments under fast-check.
 */
import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import { controlPlaneAvailable } from "../tools/controlplane";
import { Demo, DemoError, startDemo, SUGGESTED_CHANGE } from "../tools/demo";
import { parseDemoArgs } from "../tools/demo-cli";
import { engineAvailable } from "../tools/engine";
import { onLoopback, socketsOf } from "./support/sockets";
import { until } from "./support/wait";
import { tempDir } from "./support/tmp";

const available = engineAvailable() && controlPlaneAvailable();

/**
 * The processes of this user whose command line, working directory or environment names `dir`:
 * the cluster's components (their files are under it), the agent (its work directory is a flag),
 * its engine runs, the CLI and the provider (they run in its checkout, with its PULUMI_HOME).
 */
function processesUnder(dir: string): { pid: number; cmd: string }[] {
    const found: { pid: number; cmd: string }[] = [];
    for (const entry of fs.readdirSync("/proc").filter((e) => /^\d+$/.test(e))) {
        const pid = Number(entry);
        if (pid === process.pid) continue;
        try {
            const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
            const cwd = fs.readlinkSync(`/proc/${pid}/cwd`);
            const env = fs.readFileSync(`/proc/${pid}/environ`, "utf8");
            if (cmd.includes(dir) || cwd.startsWith(dir) || env.includes(dir)) found.push({ pid, cmd: cmd.slice(0, 200) });
        } catch {
            // Another user's process, or one that just exited.
        }
    }
    return found;
}

describe("npm run demo: arguments and refusals", () => {
    it("any arguments give options or a problem for the usage line, never a throw; unknown flags and positionals are problems", () => {
        fc.assert(
            fc.property(fc.array(fc.oneof(fc.constantFrom("--flux", "--keep", "--dir", "--dir=", "-x", "--help", "stray"), fc.string()), { maxLength: 6 }), (args) => {
                const r = parseDemoArgs(args);
                if ("problem" in r) {
                    assert.equal(typeof r.problem, "string");
                    assert.ok(r.problem.length > 0);
                } else {
                    assert.equal(r.flux, args.includes("--flux"));
                    assert.equal(r.keep, args.includes("--keep"));
                    assert.ok(r.dir === undefined || r.dir.trim() !== "");
                }
            }),
        );
        assert.deepEqual(parseDemoArgs([]), { flux: false, dir: undefined, keep: false });
        assert.deepEqual(parseDemoArgs(["--flux", "--dir", "/tmp/x", "--keep"]), { flux: true, dir: "/tmp/x", keep: true });
        assert.match((parseDemoArgs(["--fluxx"]) as { problem: string }).problem, /--fluxx/);
        assert.match((parseDemoArgs(["demo"]) as { problem: string }).problem, /demo/);
        assert.match((parseDemoArgs(["--dir", " "]) as { problem: string }).problem, /--dir/);
    });

    it("a --dir that is not empty is refused, naming it, and left as it was", async () => {
        const dir = tempDir("ofg-demo-full-");
        fs.writeFileSync(path.join(dir, "mine"), "keep me");
        await assert.rejects(startDemo({ dir }), (e: Error) => e instanceof DemoError && e.message.includes(dir) && /not empty/.test(e.message));
        assert.deepEqual(fs.readdirSync(dir), ["mine"]);
        fs.rmSync(dir, { recursive: true });
    });

    it("an interrupted start removes the directory it made", async () => {
        const dir = path.join(tempDir("ofg-demo-abort-"), "demo");
        await assert.rejects(startDemo({ dir, signal: AbortSignal.abort() }), (e: Error) => e instanceof DemoError && /interrupted/.test(e.message));
        assert.ok(!fs.existsSync(dir));
        fs.rmdirSync(path.dirname(dir));
    });
});

describe("npm run demo end to end: bootstrap, the agent applies a commit to the demo repository, stop leaves nothing", { skip: !available && "no Go toolchain and no cached engine" }, () => {
    let demo: Demo | undefined;
    after(async () => {
        await demo?.stop();
    });

    it("runs the whole loop", { timeout: 30 * 60_000 }, async () => {
        const dir = path.join(tempDir("ofg-demo-test-"), "demo");
        const started = Date.now();
        // Polling off: the commit is applied because the test asks, as the printed curl does.
        demo = await startDemo({ dir, pollIntervalSeconds: 3600, driftIntervalSeconds: 0, log: (l) => console.log(`# ${l}`), engineLog: () => undefined });
        const d = demo;
        console.log(`# demo started in ${Math.round((Date.now() - started) / 1000)} s`);
        assert.equal(new URL(d.agentUrl).hostname, "127.0.0.1");
        const steps = d.nextSteps();
        for (const expected of [d.repo, `${d.agentUrl}/`, `export KUBECONFIG=${d.kubeconfig}`, ...SUGGESTED_CHANGE, `${d.agentUrl}/sync`, d.syncTokenFile]) assert.ok(steps.includes(expected), `next steps lack ${expected}:\n${steps}`);
        assert.ok(!steps.includes(fs.readFileSync(d.syncTokenFile, "utf8")), "the sync token itself is never printed");

        const applied = (revision: string) =>
            until(`${revision} applied`, () => (d.status()?.lastAppliedRevision === revision ? true : undefined), 600_000).catch((e) =>
                assert.fail(`${e}\n${fs.readFileSync(d.agentLog, "utf8").slice(-4000)}`));
        await applied(d.head);
        assert.equal(d.status()!.conditions.Ready!.reason, "Applied");
        console.log(`# the agent applied the bootstrapped commit after ${Math.round((Date.now() - started) / 1000)} s`);

        // Every socket of the demo, the agent's and the cluster's, is on loopback.
        const sockets = processesUnder(d.dir).flatMap((p) => socketsOf(p.pid).map((s) => ({ ...s, owner: p.pid })));
        assert.ok(sockets.some((s) => s.local.endsWith(`:${new URL(d.agentUrl).port}`)), "the agent's socket was not read");
        for (const s of sockets) assert.ok(onLoopback(s), `pid ${s.owner}: ${JSON.stringify(s)}`);

        // The suggested change, as printed, in the demo repository.
        for (const line of SUGGESTED_CHANGE) execFileSync("sh", ["-c", line], { cwd: d.repo, stdio: "pipe" });
        const change = execFileSync("git", ["rev-parse", "HEAD"], { cwd: d.repo, encoding: "utf8" }).trim();
        assert.notEqual(change, d.head);
        const token = fs.readFileSync(d.syncTokenFile, "utf8");
        assert.equal((await fetch(`${d.agentUrl}/sync`, { method: "POST", headers: { Authorization: `Bearer ${token}` } })).status, 202);
        const t = Date.now();
        await applied(change);
        console.log(`# the change was applied ${Math.round((Date.now() - t) / 1000)} s after POST /sync`);
        const certinfo = () => JSON.parse(d.cluster.kubectl(["get", "deployment", "certinfo", "-n", "openfaas-fn", "-o", "json"])) as { spec: { replicas: number }; status: { readyReplicas?: number } };
        assert.equal(certinfo().spec.replicas, 3);
        // KWOK marks the new pods Running and Ready on the simulated node: the rollout completes.
        await until("3 certinfo pods ready", () => (certinfo().status.readyReplicas === 3 ? true : undefined), 120_000);

        const stopping = Date.now();
        await d.stop();
        demo = undefined;
        console.log(`# stopped in ${Math.round((Date.now() - stopping) / 1000)} s; the whole demo took ${Math.round((Date.now() - started) / 1000)} s`);
        assert.ok(!fs.existsSync(d.dir), `${d.dir} is still there`);
        assert.deepEqual(processesUnder(d.dir), [], "a process of the demo is still running");
        fs.rmdirSync(path.dirname(d.dir));
    });
});
