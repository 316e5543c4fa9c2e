/**
 * The agent as a process, started the way its image starts it (agent/main.ts, settings from the
 * environment), for the tests that run it whole: npm run agent, and the end-to-end test.
 */
import { ChildProcess, spawn } from "node:child_process";
import * as path from "node:path";
import { seedDependencyCache } from "../../tools/local-stack";
import { freePort } from "../../tools/net";
import { tempDir } from "./tmp";
import { until } from "./wait";

const ROOT = path.resolve(__dirname, "..", "..");

export interface AgentProcess {
    readonly child: ChildProcess;
    /** Its HTTP address (AGENT_LISTEN on a free loopback port). */
    readonly base: string;
    /** Its home directory; AGENT_WORK_DIR is `<work>/state`. */
    readonly work: string;
    /**
     * Everything this test process has read of its stdout and stderr so far. A line the agent wrote
     * before a state the test saw (through kubectl, which blocks this event loop) may still sit in
     * the pipe: a line that must be there is awaited with {@link waitForLog}.
     */
    logs(): string;
    /** Resolves with the logs once they match `pattern`; fails with the last lines after `ms`. */
    waitForLog(pattern: RegExp, ms?: number): Promise<string>;
    /** Sends `signal` and resolves with the exit code once it has exited and its output is read whole. */
    stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Starts the agent with `env` (its settings; PATH is this process's unless given) in a home of its
 * own (HOME, AGENT_WORK_DIR under it, AGENT_LISTEN on a free loopback port) and, with
 * `dependencyCache`, this project's node_modules already installed in its checkout.
 */
export async function startAgent(env: Record<string, string | undefined>, opts: { dependencyCache?: boolean } = {}): Promise<AgentProcess> {
    const work = tempDir("ofg-agent-");
    const stateDir = path.join(work, "state");
    if (opts.dependencyCache) seedDependencyCache(stateDir);
    const port = await freePort();
    let logs = "";
    const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "agent", "main.ts")], {
        cwd: ROOT,
        env: { PATH: process.env.PATH, ...env, HOME: work, AGENT_WORK_DIR: stateDir, AGENT_LISTEN: `127.0.0.1:${port}` },
        stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout!.on("data", (d) => (logs += d));
    child.stderr!.on("data", (d) => (logs += d));
    // "close", not "exit": the process may exit before its last lines are read from the pipes.
    const closed = new Promise<void>((r) => child.once("close", () => r()));
    return {
        child,
        base: `http://127.0.0.1:${port}`,
        work,
        logs: () => logs,
        waitForLog: (pattern, ms = 30_000) =>
            until(`a log line matching ${pattern}`, () => (pattern.test(logs) ? logs : undefined), ms).catch((e) => {
                throw new Error(`${(e as Error).message}; the last lines:\n${logs.slice(-3000)}`);
            }),
        async stop(signal = "SIGTERM") {
            if (child.exitCode === null && child.signalCode === null) child.kill(signal);
            await closed;
            return child.exitCode;
        },
    };
}
