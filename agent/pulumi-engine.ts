/**
 * The Engine on the Pulumi Automation API. Every run is a child process (engine-run.ts) that runs
 * the checkout's program inline, so no language host is needed and a crashed run cannot take the
 * agent down. The decisions are in reconciler.ts, tested without the CLI; this stays thin.
 */
import { ChildProcess, fork } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { engineEnvAllowed, proxyEnvironment } from "../model/engine-env";
import { fileBackendDir, MAYBE_TORN_STATE, removeTornAttrs } from "./diy-state";
import { Engine, PolicyViolation, RunContext, RunResult } from "./engine";
import type { RunMessage, RunOp, RunRequest } from "./engine-run";

export interface PulumiEngineSettings {
    readonly stack: string;
    /** Directory of the Pulumi project inside the checkout. */
    readonly projectPath: string;
    readonly backendUrl?: string;
    readonly secretsProvider?: string;
    /**
     * The whole environment of a run (see {@link engineEnvironment}): the program, the CLI and the
     * providers see these variables and no others.
     */
    readonly env: Readonly<Record<string, string>>;
    /** How long a cancelled run may take to stop before it is killed. @default {@link CANCEL_GRACE_MS} */
    readonly killAfterMs?: number;
}

/**
 * How long a cancelled run may take to stop: the CLI finishes the steps in flight and writes a
 * checkpoint (a Helm release or a CRD can take tens of seconds); killed sooner, the stack would keep
 * pending operations and a lock.
 */
const CANCEL_GRACE_MS = 60_000;

/** What a process needs to run at all, and how the provider finds the cluster (in-cluster or a kubeconfig). */
const ENGINE_ENV_BASE = /^(PATH|HOME|TMPDIR|LANG|TZ|SSL_CERT_FILE|SSL_CERT_DIR|NODE_EXTRA_CA_CERTS|KUBERNETES_SERVICE_HOST|KUBERNETES_SERVICE_PORT|KUBECONFIG|PULUMI_HOME)$/;

/**
 * How the agent runs the engine, on top of the allowlisted environment:
 * - server-side apply conflicts are forced: git is the source of truth for every field the program
 *   sets, so a `kubectl scale` of a field the program owns is corrected; fields the program leaves
 *   out (replicas under an HPA) are never applied, so never taken back;
 * - resource references are off: the program uses no resource a remote component returns (a chart's
 *   `resources` is only waited on), and with references on the SDK fetches the whole state of every
 *   chart object back into the program, CRD schemas included (measured: 3 of about 20 CPU-seconds of
 *   a dev stack's operation);
 * - the CLI logs every run in detail under PULUMI_HOME/logs (about 2 MB a run for this platform) and
 *   keeps up to 500 MB by default: on the pod's work volume that is ephemeral storage the kubelet
 *   counts. The last few dozen runs are enough for `pulumi logs share`;
 * - plugins are never downloaded: a run uses the image's plugins (or those on PATH), and a missing
 *   one fails the run naming it (`no resource plugin 'pulumi-resource-random' found`) instead of
 *   fetching code from the internet, or hanging on it where the cluster has no way out.
 */
export const ENGINE_SETTINGS: Readonly<Record<string, string>> = {
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PULUMI_K8S_ENABLE_PATCH_FORCE: "true",
    PULUMI_DISABLE_RESOURCE_REFERENCES: "true",
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_LOG_ROTATION_MAX_TOTAL_MB: "64",
};

/**
 * Pure: the exact environment of an engine run, from the agent's own: the allowlisted variables
 * (model/engine-env.ts, the list the stack config checks `agentEngineEnv` against) and
 * {@link ENGINE_SETTINGS}. Everything else in the pod (the agent's settings, tokens of other tools)
 * never reaches the program, the CLI or a provider. Behind a proxy, the in-cluster apiserver stays
 * direct: the provider reaches it by KUBERNETES_SERVICE_HOST, which no egress proxy can.
 */
export function engineEnvironment(agentEnv: Readonly<Record<string, string | undefined>>, backendUrl?: string): Record<string, string> {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(agentEnv)) if (v !== undefined && (engineEnvAllowed(k) || ENGINE_ENV_BASE.test(k))) env[k] = v;
    if (backendUrl) env.PULUMI_BACKEND_URL = backendUrl;
    return { ...env, ...proxyEnvironment(agentEnv, [agentEnv.KUBERNETES_SERVICE_HOST ?? ""]), ...ENGINE_SETTINGS };
}

/** The CLI's home for an engine environment: PULUMI_HOME, else ~/.pulumi as the CLI defaults. */
export function pulumiHome(env: Readonly<Record<string, string | undefined>>): string {
    return env.PULUMI_HOME ?? path.join(env.HOME ?? os.homedir(), ".pulumi");
}

/**
 * Makes the image's preinstalled plugins the CLI's plugin cache. PULUMI_HOME must be writable (a
 * stack selection writes there, and the CLI its own logs), so the Deployment puts it on the work
 * volume, which hides whatever the image had there; a link from it to the image's plugin
 * directory lets every run find its provider without a download (and air-gapped clusters work).
 * A plugins directory already in PULUMI_HOME is the operator's and is left alone.
 */
export function linkPreinstalledPlugins(plugins: string, home: string): string {
    const target = path.join(home, "plugins");
    const current = fs.lstatSync(target, { throwIfNoEntry: false });
    if (current?.isSymbolicLink() && path.resolve(home, fs.readlinkSync(target)) === path.resolve(plugins)) return `plugins: ${target} -> ${plugins}`;
    if (current) return `plugins: ${target} already exists; it is used instead of ${plugins}`;
    fs.mkdirSync(home, { recursive: true });
    fs.symlinkSync(path.resolve(plugins), target);
    return `plugins: ${target} -> ${plugins}`;
}

/** A lock named in a backend's "currently locked" error: `user@host (pid N)`. */
export interface LockHolder {
    readonly host: string;
    readonly pid: number;
}

/** Pure: the holders named in a lock error (the DIY backends name them; the Pulumi Cloud does not). */
export function lockHolders(message: string): LockHolder[] {
    // The engine's error repeats the CLI's output, so the same lock can be named more than once.
    const seen = new Map<string, LockHolder>();
    // The user ends at the first '@' (as the lazy \S*? did), with no retry from every '@' of a long
    // word: the message holds whatever the program printed.
    for (const m of message.matchAll(/created by [^\s@]*@(\S+) \(pid (\d+)\)/g)) seen.set(`${m[1]}:${m[2]}`, { host: m[1]!, pid: Number(m[2]) });
    return [...seen.values()];
}

/**
 * Pure: why a lock is left alone, and the way out once nothing holds it: another replica's update may
 * still be stopping (a leader that lost its Lease cancels its run), so only a person who knows the
 * holder is gone (its pod deleted, its node lost) may remove it; the agent retries with backoff.
 */
export function lockAdvice(holders: readonly LockHolder[], host: string, stack: string): string {
    const who = holders.length ? holders.map((h) => `${h.host}, pid ${h.pid}`).join("; ") : "its holder is not named";
    return (
        `The lock is not a crashed run of this agent (${host}), so it is left alone (${who}): its update may still be running or stopping, and the agent tries again with backoff. ` +
        `If its holder is gone (a pod deleted or a node lost mid-update), remove the lock with \`pulumi cancel --yes --stack ${stack}\` against the same state backend, then POST /sync.`
    );
}

function processAlive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch (e) {
        return (e as NodeJS.ErrnoException).code === "EPERM";
    }
}

/**
 * Whether every lock is provably a crashed run of this agent: taken on this host (the pod's own
 * name, so never another replica) by a process that no longer exists. Anything else is left alone.
 */
export function locksAreOwnAndDead(holders: readonly LockHolder[], host = os.hostname(), alive = processAlive): boolean {
    return holders.length > 0 && holders.every((h) => h.host === host && !alive(h.pid));
}

export class EngineRunError extends Error {
    /** `violations`: what the policy pack reported before the run failed (a mandatory one fails it). */
    constructor(message: string, public readonly locked: boolean, public readonly violations: readonly PolicyViolation[] = []) {
        super(message);
        this.name = "EngineRunError";
    }
}

/** The characters of a run's stderr kept for its crash message (its last lines). */
const STDERR_TAIL = 64 * 1024;

const RUNNER = path.join(__dirname, `engine-run${path.extname(__filename)}`);

export interface EngineRunContext {
    /** The Pulumi project directory (Pulumi.yaml, stacks/, node_modules). */
    readonly cwd: string;
    /** The whole environment of the run. */
    readonly env: Readonly<Record<string, string>>;
    readonly signal?: AbortSignal;
    readonly log: (line: string) => void;
    /** How long a cancelled run may take to stop before it is killed. @default {@link CANCEL_GRACE_MS} */
    readonly killAfterMs?: number;
}

/**
 * Forks one run (engine-run.ts) and streams its log; resolves with its changes, rejects with an
 * {@link EngineRunError} for its error or its crash. Cancelling through the signal asks the engine
 * to stop gracefully, then kills the run after `killAfterMs`.
 */
export function runEngine(req: RunRequest, ctx: EngineRunContext): Promise<RunResult> {
    // Development runs the agent from TypeScript; the image runs compiled JavaScript.
    const execArgv = RUNNER.endsWith(".ts") ? ["--import", "tsx"] : [];
    const child: ChildProcess = fork(RUNNER, [], { cwd: ctx.cwd, env: { ...ctx.env }, execArgv, stdio: ["ignore", "pipe", "pipe", "ipc"] });
    ctx.log(`${req.op}: engine run started (pid ${child.pid})`);
    // Only a crash's message reads stderr, so only its tail is kept: a run can write any amount there.
    let stderr = "";
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (d: string) => (stderr = (stderr + d).slice(-STDERR_TAIL)));
    child.stdout!.on("data", (d: Buffer) => ctx.log(d.toString().trimEnd()));
    return new Promise<RunResult>((resolve, reject) => {
        let settled = false;
        let killer: NodeJS.Timeout | undefined;
        const onAbort = () => {
            child.send({ kind: "cancel" });
            killer = setTimeout(() => child.kill("SIGKILL"), ctx.killAfterMs ?? CANCEL_GRACE_MS);
        };
        if (ctx.signal?.aborted) onAbort();
        else ctx.signal?.addEventListener("abort", onAbort, { once: true });
        child.on("message", (m: RunMessage) => {
            if (m.kind === "log") ctx.log(m.line);
            else if (m.kind === "done") {
                settled = true;
                resolve({ changes: m.changes, changed: m.changed, objects: m.objects, violations: m.violations });
            } else {
                settled = true;
                reject(new EngineRunError(m.message, m.locked, m.violations));
            }
        });
        child.on("exit", (code, signal) => {
            clearTimeout(killer);
            ctx.signal?.removeEventListener("abort", onAbort);
            if (!settled) {
                const tail = stderr.trim().split("\n").slice(-5).join("\n");
                reject(new EngineRunError(`the engine run crashed (${signal ?? `exit code ${code}`})${tail ? `: ${tail}` : ""}`, false));
            }
        });
        child.send(req);
    });
}

export class PulumiEngine implements Engine {
    constructor(private readonly settings: PulumiEngineSettings) {}

    private fork(op: RunOp, ctx: RunContext): Promise<RunResult> {
        const cwd = path.join(ctx.dir, this.settings.projectPath);
        const req: RunRequest = { op, stack: this.settings.stack, configFile: path.join(cwd, "stacks", `Pulumi.${this.settings.stack}.yaml`), secretsProvider: this.settings.secretsProvider };
        return runEngine(req, { cwd, env: this.settings.env, signal: ctx.signal, log: ctx.log, killAfterMs: this.settings.killAfterMs });
    }

    /**
     * Runs `op`. A DIY file backend whose metadata a killed run left torn is repaired first, and
     * the run retried once (./diy-state.ts); a stack locked by a crashed run of this agent (its
     * host, a dead pid) has that lock removed, and the run retried once. A lock held by anything
     * else is reported, never broken.
     */
    private async run(op: "up" | "drift-check" | "drift-correct", ctx: RunContext): Promise<RunResult> {
        try {
            return await this.forkUnlocking(op, ctx);
        } catch (e) {
            const dir = fileBackendDir(this.settings.env.PULUMI_BACKEND_URL);
            if (!(e instanceof EngineRunError) || !dir || !MAYBE_TORN_STATE.test(e.message)) throw e;
            const removed = removeTornAttrs(dir);
            if (removed.length === 0) throw e;
            ctx.log(`recovering: a killed run left the state backend's metadata torn; removed ${removed.join(", ")} (the state itself is whole) and retrying once`);
            return this.forkUnlocking(op, ctx);
        }
    }

    private async forkUnlocking(op: "up" | "drift-check" | "drift-correct", ctx: RunContext): Promise<RunResult> {
        try {
            return await this.fork(op, ctx);
        } catch (e) {
            if (!(e instanceof EngineRunError) || !e.locked) throw e;
            const holders = lockHolders(e.message);
            if (!locksAreOwnAndDead(holders)) throw new EngineRunError(`${e.message}\n${lockAdvice(holders, os.hostname(), this.settings.stack)}`, true);
            ctx.log(`recovering: the stack is locked by a crashed run of this agent (${holders.map((h) => `pid ${h.pid}`).join(", ")}, no longer running); removing the lock and retrying once`);
            await this.fork("unlock", ctx);
            return this.fork(op, ctx);
        }
    }

    up(ctx: RunContext): Promise<RunResult> {
        return this.run("up", ctx);
    }

    detectDrift(ctx: RunContext): Promise<RunResult> {
        return this.run("drift-check", ctx);
    }

    correctDrift(ctx: RunContext): Promise<RunResult> {
        return this.run("drift-correct", ctx);
    }
}
