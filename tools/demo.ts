/**
 * `npm run demo` (tools/demo-cli.ts is the command line): the whole GitOps loop of this project on
 * one machine, with nothing but this checkout. It builds the Go tools it needs (once), starts the
 * local cluster (tools/controlplane.ts: real apiserver, controllers and scheduler, KWOK's simulated
 * nodes, where pods are marked Running but no container runs), makes a git repository of the working
 * tree, bootstraps the dev stack with a real `pulumi up` through the engine built here, and runs the
 * reconcile agent (agent/main.ts, a local process) against that repository: every commit to it is
 * applied by the agent. Git mode by default; with `source: "flux"` the real Flux source-controller
 * fetches the repository and the agent applies its artifact.
 *
 * The program is not changed for the demo. What has no real counterpart here is handled by the
 * cluster: the apiserver runs without its admission-webhook plugins (the webhooks' pods run no
 * process; the configurations are stored as declared, never called), and the address stand-in gives
 * LoadBalancer Services and Ingresses their address as a cloud would.
 *
 * Everything the demo starts listens on 127.0.0.1, and everything it writes is under its directory.
 */
import { ChildProcess, execFileSync, spawn } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import * as yaml from "js-yaml";
import { runEngine } from "../agent/pulumi-engine";
import type { AgentStatus } from "../agent/status";
import { AGENT_DEFAULTS, SourceMode } from "../agent/contract";
import { gitRepositorySpec } from "../components/flux/source";
import { PROJECT } from "../config";
import { ControlPlane, ensureBinaries, KUBERNETES_VERSION, startControlPlane } from "./controlplane";
import { ensureEngine, KUBERNETES_PROVIDER_VERSION, PULUMI_CLI_VERSION } from "./engine";
import { serveGit } from "./git-http";
import { toolCacheDir } from "./go-tools";
import { copyWorkingTree, localChartsConfig, makeCredentials, ROOT, seedDependencyCache } from "./local-stack";
import { chartCrds, upstream } from "./upstream";
import { freePort } from "./net";
import { logTail, stopChild } from "./processes";
import { ensureSourceController, SOURCE_CONTROLLER_VERSION, SourceController, startSourceController } from "./source-controller";

/** The stack the demo bootstraps: the shipped one meant for local and throwaway clusters. */
const DEMO_STACK = "dev";
const BRANCH = "main";
/** The credentials the dev stack takes as bring-your-own config (it has no agent or Flux component). */
const STACK_SECRETS = ["adminPassword", "sealingKeyPem", "sealingCertPem"] as const;
/** How often source-controller fetches the demo repository in flux mode. */
const FLUX_INTERVAL = "10s";
/** Seconds a running update may finish after Ctrl-C: a demo should stop soon. */
const AGENT_SHUTDOWN_GRACE_SECONDS = 15;

export interface DemoOptions {
    /** The demo directory: created if missing, refused unless empty. @default a new directory under the OS temp directory */
    readonly dir?: string;
    /** Where the agent takes revisions from. @default "git" */
    readonly source?: SourceMode;
    /** Seconds between the agent's checks of the branch (git mode). @default 10 */
    readonly pollIntervalSeconds?: number;
    /** Seconds between the agent's drift checks; 0 turns them off. @default 120 */
    readonly driftIntervalSeconds?: number;
    /** Leave the directory (repository, state, logs) behind on stop. @default false */
    readonly keep?: boolean;
    /** Progress, one line at a time. @default nothing */
    readonly log?: (line: string) => void;
    /** The engine's output of the bootstrap `pulumi up`. @default {@link log} */
    readonly engineLog?: (line: string) => void;
    /** Aborting stops the start where it is and removes what it made. */
    readonly signal?: AbortSignal;
}

export interface Demo {
    readonly dir: string;
    /** The git repository the agent follows (branch `main`): commit here. */
    readonly repo: string;
    /** The commit the bootstrap applied. */
    readonly head: string;
    readonly source: SourceMode;
    /** The agent's HTTP address on loopback: status page at `/`, `POST /sync`, `/metrics`. */
    readonly agentUrl: string;
    /** The bearer token for `POST /sync`, in a file (mode 0600); never printed. */
    readonly syncTokenFile: string;
    /** Everything the agent writes (JSON lines). */
    readonly agentLog: string;
    readonly kubeconfig: string;
    readonly cluster: ControlPlane;
    /** The agent's status as it persisted it (the status ConfigMap), or undefined before its first write. */
    status(): AgentStatus | undefined;
    /** What to try next, as the command line prints it. */
    nextSteps(): string;
    /** Stops the agent, source-controller, the git server and the cluster; removes the directory unless kept. */
    stop(): Promise<void>;
}

/** A demo that cannot start for a reason the user can fix; the message says how. */
export class DemoError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "DemoError";
    }
}

/**
 * The change the demo suggests, as shell commands run in its repository: certinfo scaled to 3
 * replicas with faas-cli's scale label (docs/functions.md), then committed. The test runs these
 * very lines.
 */
export const SUGGESTED_CHANGE: readonly string[] = [
    `perl -pi -e 's/^  certinfo:$/$&\\n    labels:\\n      com.openfaas.scale.min: "3"/' functions/stack.yml`,
    `git commit -qam "certinfo: 3 replicas"`,
];

/** One Go tools build: whether it is cached, and what a cold build takes (2 cores, docs/testing.md). */
interface Build {
    readonly what: string;
    readonly cached: () => boolean;
    readonly coldTime: string;
    readonly build: (log: (line: string) => void) => void;
}

const cachedIn = (module: string, tag: string, names: readonly string[]) => () => names.every((n) => fs.existsSync(path.join(toolCacheDir(module, tag), n)));

const BUILDS: Record<"controlplane" | "engine" | "sourceController", Build> = {
    controlplane: {
        what: "the local cluster (kube-apiserver, etcd, kube-controller-manager, kube-scheduler, KWOK)",
        cached: cachedIn("controlplane", KUBERNETES_VERSION, ["kube-apiserver", "etcd", "kube-controller-manager", "kube-scheduler", "kwok"]),
        coldTime: "10 to 15 minutes",
        build: (log) => ensureBinaries(log),
    },
    engine: {
        what: "the Pulumi CLI and its kubernetes provider",
        cached: () => cachedIn("pulumi", PULUMI_CLI_VERSION, ["pulumi"])() && cachedIn("pulumi-kubernetes", `v${KUBERNETES_PROVIDER_VERSION}`, ["pulumi-resource-kubernetes"])(),
        coldTime: "15 to 20 minutes",
        build: (log) => ensureEngine(log),
    },
    sourceController: {
        what: "Flux source-controller",
        cached: cachedIn("source-controller", SOURCE_CONTROLLER_VERSION, ["source-controller"]),
        coldTime: "about 5 minutes",
        build: (log) => ensureSourceController(log),
    },
};

/** Builds what is missing, saying first what and for how long (the Go output follows). */
function ensureTools(source: SourceMode, log: (line: string) => void): void {
    const needed = [BUILDS.controlplane, BUILDS.engine, ...(source === "flux" ? [BUILDS.sourceController] : [])];
    for (const b of needed) {
        if (b.cached()) continue;
        log(`building ${b.what} from its Go module, once: ${b.coldTime} on 2 cores (later runs start at once; npm run tools:build builds everything ahead)`);
        const t = Date.now();
        b.build(log);
        log(`built ${b.what} in ${Math.round((Date.now() - t) / 1000)} s`);
    }
}

/** The demo directory: a given one must be new or empty (the demo removes it on stop). */
function demoDir(dir: string | undefined): string {
    if (dir === undefined) return fs.mkdtempSync(path.join(os.tmpdir(), "openfaas-gitops-demo-"));
    const abs = path.resolve(dir);
    if (fs.existsSync(abs)) {
        if (!fs.statSync(abs).isDirectory()) throw new DemoError(`--dir ${abs}: not a directory; give a new or empty directory (the demo removes it when it stops)`);
        if (fs.readdirSync(abs).length > 0) throw new DemoError(`--dir ${abs}: not empty; give a new or empty directory (the demo removes it when it stops)`);
    }
    fs.mkdirSync(abs, { recursive: true });
    return abs;
}

function git(args: string[], cwd: string): string {
    return execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
}

/**
 * The demo repository: the working tree's files, committed on `main`, with this project's
 * node_modules linked in (ignored by .gitignore) so the bootstrap runs without an install. The
 * repository has its own committer identity, so a newcomer's commit works without git config.
 */
function makeRepository(repo: string): void {
    fs.mkdirSync(repo);
    copyWorkingTree(repo);
    git(["init", "--quiet", `--initial-branch=${BRANCH}`], repo);
    git(["config", "user.name", "openfaas-gitops demo"], repo);
    git(["config", "user.email", "demo@openfaas-gitops.invalid"], repo);
    // A signing setup of the user's (commit.gpgsign) would make every demo commit ask for a key.
    git(["config", "commit.gpgsign", "false"], repo);
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(repo, "node_modules"));
    git(["add", "-A"], repo);
    git(["commit", "--quiet", "-m", `the working tree of ${ROOT}`], repo);
}

/**
 * Writes the dev stack's config as a user would for this machine: the shipped stack file, the charts
 * from local paths (no download), and the generated credentials as secrets (`pulumi config set
 * --secret`, encrypted with the demo's passphrase); then commits it, since the agent applies what is
 * committed.
 */
function configureStack(repo: string, credentialsDir: string, pulumi: string, env: Record<string, string>): string {
    const configFile = path.join(repo, "stacks", `Pulumi.${DEMO_STACK}.yaml`);
    const shipped = (yaml.load(fs.readFileSync(configFile, "utf8")) ?? {}) as { config?: Record<string, unknown> };
    fs.writeFileSync(configFile, yaml.dump({ ...shipped, config: { ...shipped.config, [`${PROJECT}:charts`]: localChartsConfig() } }));
    const cli = (args: string[], input?: string) => execFileSync(pulumi, [...args, "--non-interactive", "--cwd", repo], { env, input, stdio: ["pipe", "pipe", "pipe"] });
    cli(["stack", "init", DEMO_STACK, "--secrets-provider", "passphrase"]);
    const credentials = makeCredentials(credentialsDir);
    // On stdin, never on a command line another user could read.
    for (const k of STACK_SECRETS) cli(["config", "set", "--secret", "--stack", DEMO_STACK, `${PROJECT}:${k}`], credentials[k]);
    git(["add", "-A"], repo);
    git(["commit", "--quiet", "-m", `demo: the ${DEMO_STACK} stack with local charts and generated credentials (encrypted)`], repo);
    return configFile;
}

/** Resolves once `url` answers 200; rejects when `alive` turns false or after `ms`. */
async function waitForHttp(url: string, alive: () => string | undefined, ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    for (;;) {
        const dead = alive();
        if (dead) throw new Error(dead);
        const ok = await fetch(url).then((r) => r.status === 200, () => false);
        if (ok) return;
        if (Date.now() > deadline) throw new Error(`${url} did not answer within ${ms / 1000} s`);
        await new Promise((r) => setTimeout(r, 250));
    }
}

/** Stops the agent (SIGTERM, then SIGKILL), then whatever is left of its process group (engine runs, the CLI, providers). */
async function stopAgent(child: ChildProcess): Promise<void> {
    await stopChild(child, (AGENT_SHUTDOWN_GRACE_SECONDS + 15) * 1000);
    try {
        process.kill(-child.pid!, "SIGKILL");
    } catch {
        // ESRCH: nothing of it left.
    }
}

/** Starts the demo; on any failure or abort, stops what it started and removes its directory (unless kept). */
export async function startDemo(opts: DemoOptions = {}): Promise<Demo> {
    const log = opts.log ?? (() => undefined);
    const source = opts.source ?? "git";
    const dir = demoDir(opts.dir);
    const undo: (() => Promise<void> | void)[] = [];
    let stopped = false;
    const stop = async () => {
        if (stopped) return;
        stopped = true;
        for (const u of undo.reverse()) {
            try {
                await u();
            } catch (e) {
                log(`while stopping: ${(e as Error).message}`);
            }
        }
        if (!opts.keep) fs.rmSync(dir, { recursive: true, force: true });
    };
    const checkAborted = () => {
        if (opts.signal?.aborted) throw new DemoError("interrupted");
    };

    try {
        log(`demo directory: ${dir}${opts.keep ? " (kept after the demo)" : " (removed when the demo stops)"}`);
        checkAborted();
        ensureTools(source, log);
        checkAborted();
        const engine = ensureEngine(log);

        log("starting the local cluster: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and KWOK with one simulated node (pods there are marked Running and Ready; no container runs)...");
        const cp = await startControlPlane({ dir: path.join(dir, "cluster"), log });
        undo.push(() => cp.stop());
        checkAborted();
        // No CRD is installed here: the bootstrap's CRD step applies the charts' CRDs, as on a user's cluster.
        log(`cluster ready at ${cp.server} (admission webhooks are never called: their pods run no process)`);

        const repo = path.join(dir, "repo");
        makeRepository(repo);
        for (const d of ["state", "home", "credentials"]) fs.mkdirSync(path.join(dir, d));
        const passphrase = crypto.randomBytes(24).toString("hex");
        // Kept beside the state, for running the CLI against it by hand with --keep.
        fs.writeFileSync(path.join(dir, "credentials", "passphrase"), passphrase, { mode: 0o600 });
        const env: Record<string, string> = {
            PATH: [...engine.path, process.env.PATH ?? ""].join(path.delimiter),
            HOME: path.join(dir, "home"),
            KUBECONFIG: cp.kubeconfig,
            PULUMI_BACKEND_URL: `file://${path.join(dir, "state")}`,
            PULUMI_CONFIG_PASSPHRASE: passphrase,
            PULUMI_HOME: path.join(dir, "home", ".pulumi"),
            PULUMI_SKIP_UPDATE_CHECK: "true",
        };
        const configFile = configureStack(repo, path.join(dir, "credentials"), engine.pulumi, env);
        const head = git(["rev-parse", "HEAD"], repo);
        checkAborted();

        log(`pulumi up of the ${DEMO_STACK} stack at ${head.slice(0, 7)} (the real engine, built here; a few minutes)...`);
        const t = Date.now();
        const up = await runEngine(
            { op: "up", stack: DEMO_STACK, configFile, secretsProvider: "passphrase" },
            { cwd: repo, env, signal: opts.signal, log: opts.engineLog ?? log },
        ).catch((e: Error) => {
            checkAborted();
            throw new Error(`the bootstrap pulumi up failed: ${e.message}`);
        });
        checkAborted();
        log(`pulumi up: ${Object.entries(up.changes).map(([op, n]) => `${n} ${op}`).join(", ") || "no changes"} in ${Math.round((Date.now() - t) / 1000)} s`);

        cp.kubectl(["create", "namespace", AGENT_DEFAULTS.namespace]);
        const agentEnv: Record<string, string> = {
            ...env,
            AGENT_STACK: DEMO_STACK,
            AGENT_SECRETS_PROVIDER: "passphrase",
            AGENT_POLL_INTERVAL: String(opts.pollIntervalSeconds ?? 10),
            AGENT_DRIFT_INTERVAL: String(opts.driftIntervalSeconds ?? 120),
            AGENT_SHUTDOWN_GRACE: String(AGENT_SHUTDOWN_GRACE_SECONDS),
            POD_NAMESPACE: AGENT_DEFAULTS.namespace,
            POD_NAME: "demo-agent",
        };
        if (source === "flux") {
            const fluxNamespace = AGENT_DEFAULTS.fluxNamespace;
            cp.kubectl(["create", "namespace", fluxNamespace]);
            // The dev stack has no Flux, so its CRD step brings none of Flux's: the source-controller run here needs them.
            cp.kubectl(["apply", "--server-side", "--field-manager=openfaas-gitops-demo", "-f", "-"], chartCrds("flux2", upstream().charts.flux2));
            cp.kubectl(["wait", "--for=condition=Established", "crd", "-l", "app.kubernetes.io/part-of=flux", "--timeout=60s"]);
            // Flux fetches over HTTP: git's own http-backend serves the demo directory's repositories on loopback.
            const server = http.createServer((req, res) => serveGit(dir, req, res));
            await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
            undo.push(() => new Promise<void>((r) => server.close(() => r())));
            const storageDir = path.join(dir, "source-controller");
            fs.mkdirSync(storageDir);
            const sc: SourceController = await startSourceController(cp.kubeconfig, { namespace: fluxNamespace, storageDir });
            undo.push(() => sc.stop());
            const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/repo`;
            cp.kubectl(["apply", "--server-side", "-f", "-"], yaml.dump(gitRepositorySpec(fluxNamespace, { repoUrl: url, branch: BRANCH, interval: FLUX_INTERVAL })));
            // No notification-controller runs here: the agent sends no Flux events.
            Object.assign(agentEnv, { AGENT_SOURCE: "flux", AGENT_FLUX_NAMESPACE: fluxNamespace, AGENT_FLUX_SOURCE: AGENT_DEFAULTS.fluxSource, AGENT_FLUX_EVENTS_URL: "off" });
            log(`Flux source-controller started; GitRepository ${fluxNamespace}/${AGENT_DEFAULTS.fluxSource} fetches ${url} every ${FLUX_INTERVAL}`);
        } else {
            agentEnv.AGENT_REPO_URL = `file://${repo}`;
        }
        const syncTokenFile = path.join(dir, "credentials", "sync-token");
        fs.writeFileSync(syncTokenFile, crypto.randomBytes(24).toString("hex"), { mode: 0o600 });
        agentEnv.AGENT_SYNC_TOKEN_FILE = syncTokenFile;

        const agentHome = path.join(dir, "agent");
        const workDir = path.join(agentHome, "state");
        seedDependencyCache(workDir);
        const port = await freePort();
        const agentLog = path.join(dir, "agent.log");
        const fd = fs.openSync(agentLog, "a");
        // Its own process group: Ctrl-C in the terminal reaches the demo, which stops the agent in
        // order (a running update may finish), then anything left of its group. The work directory
        // is a flag so the process shows which demo it belongs to.
        const agent = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "agent", "main.ts"), `--work-dir=${workDir}`], {
            cwd: ROOT,
            env: { ...agentEnv, HOME: agentHome, AGENT_LISTEN: `127.0.0.1:${port}` },
            stdio: ["ignore", fd, fd],
            detached: true,
        });
        fs.closeSync(fd);
        const killGroup = () => {
            try {
                process.kill(-agent.pid!, "SIGKILL");
            } catch {
                // already gone
            }
        };
        // Last resort for an abrupt exit of the demo: never leave the agent or its engine runs behind.
        process.on("exit", killGroup);
        undo.push(async () => {
            await stopAgent(agent);
            process.off("exit", killGroup);
        });
        const agentUrl = `http://127.0.0.1:${port}`;
        await waitForHttp(`${agentUrl}/healthz`, () => (agent.exitCode !== null || agent.signalCode !== null ? `the agent exited (${agent.exitCode ?? agent.signalCode}); its log ${agentLog} ends with:\n${logTail(agentLog, 20)}` : undefined), 60_000);
        checkAborted();

        const status = (): AgentStatus | undefined => {
            const text = cp.kubectl(["get", "configmap", AGENT_DEFAULTS.statusConfigMap, "-n", AGENT_DEFAULTS.namespace, "--ignore-not-found", "-o", "jsonpath={.data.status\\.json}"]);
            return text ? (JSON.parse(text) as AgentStatus) : undefined;
        };
        const facts = { dir, repo, source, agentUrl, syncTokenFile, agentLog, kubeconfig: cp.kubeconfig, keep: opts.keep ?? false, pollSeconds: opts.pollIntervalSeconds ?? 10 };
        return { dir, repo, head, source, agentUrl, syncTokenFile, agentLog, kubeconfig: cp.kubeconfig, cluster: cp, status, nextSteps: () => nextSteps(facts), stop };
    } catch (e) {
        await stop();
        throw e;
    }
}

/** Pure: what to try once the demo runs, every command ready to paste. */
function nextSteps(d: { dir: string; repo: string; source: SourceMode; agentUrl: string; syncTokenFile: string; agentLog: string; kubeconfig: string; keep: boolean; pollSeconds: number }): string {
    const ns = AGENT_DEFAULTS.namespace;
    const applyNow =
        d.source === "flux"
            ? [
                  `source-controller fetches the repository every ${FLUX_INTERVAL} and the agent applies each new artifact at once; to fetch now:`,
                  `  kubectl -n ${AGENT_DEFAULTS.fluxNamespace} annotate --overwrite gitrepository ${AGENT_DEFAULTS.fluxSource} reconcile.fluxcd.io/requestedAt="$(date +%s)"`,
              ]
            : [
                  `The agent checks the branch every ${d.pollSeconds} s; to apply at once:`,
                  `  curl -XPOST -H "Authorization: Bearer $(cat ${d.syncTokenFile})" ${d.agentUrl}/sync`,
              ];
    return [
        `The demo is running (agent in ${d.source} mode). Everything listens on 127.0.0.1.`,
        `  repository   ${d.repo}  (branch ${BRANCH}: the agent applies what is committed there)`,
        `  status page  ${d.agentUrl}/`,
        `  agent log    ${d.agentLog}`,
        "",
        "Try a change: scale certinfo to 3 replicas with faas-cli's scale label, and commit it:",
        `  cd ${d.repo}`,
        ...SUGGESTED_CHANGE.map((c) => `  ${c}`),
        ...applyNow,
        "",
        "Watch it applied (pods on the simulated node are marked Running; no container runs):",
        `  export KUBECONFIG=${d.kubeconfig}`,
        "  kubectl -n openfaas-fn get deployments,pods",
        `  kubectl -n ${ns} get configmap ${AGENT_DEFAULTS.statusConfigMap} -o jsonpath='{.data.status\\.json}'`,
        `  kubectl -n ${ns} get events`,
        "Or delete a function's Deployment and watch the agent's drift check put it back:",
        "  kubectl -n openfaas-fn delete deployment nodeinfo",
        "",
        `Ctrl-C stops everything${d.keep ? `; ${d.dir} is kept` : ` and removes ${d.dir}`}.`,
    ].join("\n");
}
