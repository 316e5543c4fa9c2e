/**
 * The agent as a process, started the way its image starts it (agent/main.ts, settings from the
 * environment), for the tests that run it whole: npm run agent, and the end-to-end test.
 */
import { ChildProcess, spawn } from "node:child_process";
import * as path from "node:path";
import { seedDependencyCache } from "../../tools/local-stack";
import { freePort } from "../../tools/net";
import { collectOutput } from "./output";
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
    const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "agent", "main.ts")], {
        cwd: ROOT,
        env: { PATH: process.env.PATH, ...env, HOME: work, AGENT_WORK_DIR: stateDir, AGENT_LISTEN: `127.0.0.1:${port}` },
        stdio: ["ignore", "pipe", "pipe"],
    });
    const output = collectOutput(child);
    return {
        child,
        base: `http://127.0.0.1:${port}`,
        work,
        logs: output.text,
        waitForLog: (pattern, ms = 30_000) =>
            until(`a log line matching ${pattern}`, () => (pattern.test(output.text()) ? output.text() : undefined), ms).catch((e) => {
                throw new Error(`${(e as Error).message}; the last lines:\n${output.text().slice(-3000)}`);
            }),
        async stop(signal = "SIGTERM") {
            if (child.exitCode === null && child.signalCode === null) child.kill(signal);
            return output.closed;
        },
    };
}
