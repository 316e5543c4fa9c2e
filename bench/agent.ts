/**
 * The agent as a real process on loopback: a real kube-apiserver (Lease, status, Events), a real git
 * repository (file://: no sshd on these machines, so the SSH handshake is not in the figures), real
 * HTTP. Prints, for the agent run by tsx from TypeScript and as precompiled JavaScript
 * (`npm run agent:build`): idle RSS (median and peak of the process), signed push webhook -> engine
 * run started (the fork of engine-run), CPU per unchanged poll with its child processes (git)
 * included, and the Lease takeover by a second replica after SIGKILL of the leader.
 * Usage: npm run bench:agent (also last in npm run bench; .ci/run runs it).
 */
import { ChildProcess, execFileSync, spawn } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { makeRepo, Repo } from "../test/support/gitrepo";
import { ControlPlane, startControlPlane } from "../tools/controlplane";
import { AGENT_DEFAULTS } from "../agent/contract";
import { freePort } from "../tools/net";
import { cpuSeconds, memoryMiB } from "./proc";

const ROOT = path.resolve(__dirname, "..");
const SECRET = "bench-webhook-secret-0123456789";
const POLL_SECONDS = 5;

interface Agent {
    readonly proc: ChildProcess;
    readonly base: string;
    /** Resolves at the next log line matching `re`. */
    next(re: RegExp): Promise<number>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function startAgent(cp: ControlPlane, repo: Repo, identity: string, compiled: boolean): Promise<Agent> {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), `ofg-bench-${identity}-`));
    fs.writeFileSync(path.join(work, "webhook"), SECRET);
    const port = await freePort();
    const entry = compiled ? [path.join(ROOT, "build", "agent", "main.js")] : ["--import", "tsx", path.join(ROOT, "agent", "main.ts")];
    const proc = spawn(process.execPath, entry, {
        cwd: ROOT,
        env: {
            PATH: process.env.PATH, HOME: work, KUBECONFIG: cp.kubeconfig, POD_NAMESPACE: "openfaas-gitops", POD_NAME: identity,
            AGENT_REPO_URL: `file://${repo.bare}`, AGENT_STACK: "dev", AGENT_WORK_DIR: path.join(work, "state"), AGENT_LISTEN: `127.0.0.1:${port}`,
            AGENT_WEBHOOK_SECRET_FILE: path.join(work, "webhook"), AGENT_DRIFT_INTERVAL: "0", AGENT_POLL_INTERVAL: String(POLL_SECONDS),
            // A failing revision is not retried during the measurement: every poll is an unchanged one.
            AGENT_BACKOFF_BASE: "86400", AGENT_BACKOFF_CAP: "86400", AGENT_LOG_LEVEL: "info",
        },
        stdio: ["ignore", "pipe", "pipe"],
    });
    const waiters: { re: RegExp; resolve: (t: number) => void }[] = [];
    let buffered = "";
    const onData = (d: Buffer) => {
        buffered += d.toString();
        const lines = buffered.split("\n");
        buffered = lines.pop()!;
        for (const line of lines) {
            const now = performance.now();
            for (const w of [...waiters]) if (w.re.test(line)) waiters.splice(waiters.indexOf(w), 1) && w.resolve(now);
        }
    };
    proc.stdout!.on("data", onData);
    proc.stderr!.on("data", onData);
    return { proc, base: `http://127.0.0.1:${port}`, next: (re) => new Promise((resolve) => waiters.push({ re, resolve })) };
}

async function webhook(agent: Agent, sha: string): Promise<void> {
    const body = JSON.stringify({ ref: "refs/heads/main", after: sha });
    const sig = `sha256=${crypto.createHmac("sha256", SECRET).update(body).digest("hex")}`;
    const res = await fetch(`${agent.base}/webhook`, { method: "POST", body, headers: { "X-GitHub-Event": "push", "X-Hub-Signature-256": sig } });
    if (res.status !== 202) throw new Error(`webhook answered ${res.status}`);
}

async function leaseHolder(cp: ControlPlane): Promise<string | undefined> {
    try {
        return JSON.parse(cp.kubectl(["get", "lease", AGENT_DEFAULTS.name, "-n", AGENT_DEFAULTS.namespace, "-o", "json"])).spec.holderIdentity;
    } catch {
        return undefined;
    }
}

async function measure(cp: ControlPlane, compiled: boolean): Promise<Record<string, string>> {
    const repo = makeRepo();
    const lock = JSON.stringify({ name: "bench", version: "1.0.0", lockfileVersion: 3, requires: true, packages: { "": { name: "bench", version: "1.0.0" } } });
    repo.commit({ "Pulumi.yaml": "name: bench\nruntime: nodejs\n", "package.json": '{"name":"bench","version":"1.0.0"}', "package-lock.json": lock, ".gitignore": "node_modules/\n", "a.txt": "0" });
    cp.kubectl(["delete", "lease", AGENT_DEFAULTS.name, "-n", AGENT_DEFAULTS.namespace, "--ignore-not-found"]);
    cp.kubectl(["delete", "configmap", AGENT_DEFAULTS.statusConfigMap, "-n", AGENT_DEFAULTS.namespace, "--ignore-not-found"]);
    const a = await startAgent(cp, repo, "bench-a", compiled);
    const pid = a.proc.pid!;
    // First revision: dependencies installed (cached from then on), the engine run fails (no backend).
    await a.next(/"reason":"(ApplyFailed|Applied)"/);
    await sleep(3000);

    const rss: number[] = [];
    const cpu0 = cpuSeconds(pid, "both");
    const polls0 = performance.now();
    for (let i = 0; i < 6 * POLL_SECONDS; i++) {
        rss.push(memoryMiB(pid).rss);
        await sleep(1000);
    }
    const polls = (performance.now() - polls0) / 1000 / POLL_SECONDS;
    const cpuPerPoll = ((cpuSeconds(pid, "both") - cpu0) / polls) * 1000;

    const latencies: number[] = [];
    for (let i = 1; i <= 5; i++) {
        const sha = repo.commit({ "a.txt": String(i) });
        const started = a.next(/engine run started/);
        const finished = a.next(/"reason":"(ApplyFailed|Applied)"/);
        const t0 = performance.now();
        await webhook(a, sha);
        latencies.push((await started) - t0);
        await finished;
    }

    const peak = memoryMiB(pid).peak;
    const b = await startAgent(cp, repo, "bench-b", compiled);
    await sleep(6000); // b is running its election rounds as a follower
    const t0 = performance.now();
    a.proc.kill("SIGKILL");
    while ((await leaseHolder(cp)) !== "bench-b") await sleep(100);
    const takeover = (performance.now() - t0) / 1000;
    b.proc.kill("SIGKILL");
    return {
        "idle RSS, median (MiB)": median(rss).toFixed(0),
        "RSS peak since start (MiB)": peak.toFixed(0),
        "webhook -> engine run started, median of 5 (s)": (median(latencies) / 1000).toFixed(2),
        "CPU per unchanged poll, git included (ms)": cpuPerPoll.toFixed(0),
        "leader takeover after SIGKILL (s)": takeover.toFixed(1),
    };
}

async function main(): Promise<void> {
    if (!fs.existsSync(path.join(ROOT, "build", "agent", "main.js"))) execFileSync("npm", ["run", "-s", "agent:build"], { cwd: ROOT, stdio: "inherit" });
    const cp = await startControlPlane();
    try {
        cp.kubectl(["create", "namespace", "openfaas-gitops"]);
        const rows: Record<string, Record<string, string>> = {};
        rows["tsx (TypeScript at run time)"] = await measure(cp, false);
        rows["node build/agent/main.js"] = await measure(cp, true);
        console.log("\nagent benchmark (real processes on loopback; git over file://)");
        console.table(rows);
    } finally {
        await cp.stop();
    }
}

void main().catch((e) => {
    console.error(e);
    process.exit(1);
});
