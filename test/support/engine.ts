/**
 * The real Pulumi engine against the real control plane, for the tests: the CLI and the kubernetes
 * provider built from their Go modules (tools/engine.ts), a file state backend in a temporary
 * directory, and the program run inline by the Automation API in a child process per run (the
 * agent's own runner, agent/engine-run.ts), wrapped in the harness stand-ins (./standins.ts). Stacks are the shipped stack files plus the pinned
 * upstream charts (tools/upstream.ts: ../shared/upstream/charts or the tools cache) and test credentials for everything the program would generate
 * with the random, tls and github providers, which cannot be built here (tools/local-stack.ts).
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import * as yaml from "js-yaml";
import { PROJECT } from "../../config";
import { ControlPlane, installCrds, startControlPlane } from "../../tools/controlplane";
import { EngineBinaries, ensureEngine } from "../../tools/engine";
import { copyWorkingTree, LocalCredentials, localChartsConfig, makeCredentials } from "../../tools/local-stack";
import { RunResult } from "../../agent/engine";
import { RunOp } from "../../agent/engine-run";
import { ENGINE_SETTINGS, runEngine } from "../../agent/pulumi-engine";
import { tempDir } from "./tmp";

const ROOT = path.resolve(__dirname, "..", "..");

/**
 * Writes a copy of this project (tracked and new files, as `git ls-files` sees them) into `dir`,
 * whose index.ts registers the harness stand-ins before the program runs and records which
 * environment variables the program saw (seen-env.json). This is what the agent tests commit or
 * hand to the agent as a checkout: the agent itself has no test hooks.
 */
export function projectCopy(dir: string): void {
    copyWorkingTree(dir);
    fs.renameSync(path.join(dir, "index.ts"), path.join(dir, "index.program.ts"));
    // CommonJS on purpose: an ES import would be hoisted above the registration.
    fs.writeFileSync(
        path.join(dir, "index.ts"),
        [
            'require("./test/support/standins").registerStandins();',
            'require("node:fs").writeFileSync("seen-env.json", JSON.stringify(Object.keys(process.env)));',
            'module.exports = require("./index.program");',
            "",
        ].join("\n"),
    );
}

/** An await that ran out: the provider's words for a resource that did not become ready in time. */
const AWAIT_RAN_OUT = /timed out waiting to be Ready|failed to fully initialize or become live/;

/**
 * An engine error whose await ran out, with what the cluster says about every pod that is not
 * Ready (its phase and the reason of each false condition, e.g. Unschedulable and why): the
 * provider names the resource and what it awaited, the pods say what stood in the way.
 */
function withClusterView(e: unknown, cp: ControlPlane): unknown {
    if (!(e instanceof Error) || !AWAIT_RAN_OUT.test(e.message)) return e;
    type Pod = { metadata: { namespace: string; name: string }; status?: { phase?: string; conditions?: { type: string; status: string; reason?: string; message?: string }[] } };
    let view: string;
    try {
        const pods = (JSON.parse(cp.kubectl(["get", "pods", "-A", "-o", "json"])).items as Pod[]).filter((p) => !p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"));
        view = pods.length === 0 ? "every pod is Ready" : pods.map((p) => `pod ${p.metadata.namespace}/${p.metadata.name} ${p.status?.phase ?? "?"}: ${(p.status?.conditions ?? []).filter((c) => c.status !== "True").map((c) => `${c.type} ${c.reason ?? ""} ${c.message ?? ""}`.trim()).join("; ")}`).join("\n");
    } catch (err) {
        view = `(could not read the pods: ${(err as Error).message})`;
    }
    e.message = `${e.message}\nPods that are not Ready, as the cluster reports them:\n${view}`;
    return e;
}

/** Credentials a real `pulumi up` would generate; supplied here as bring-your-own config. */
export type TestCredentials = LocalCredentials;

/** A stack of the project copy: config, outputs and state through the Automation API; program runs through the agent's runner. */
export interface TestStack {
    readonly name: string;
    /** For config, outputs and state only: it never runs the program in this process. */
    readonly stack: Stack;
    /** The stack's config file in the project copy. */
    readonly configFile: string;
    /** Runs the program in a child process (agent/engine-run.ts); rejects with the engine's error. */
    run(op: Exclude<RunOp, "unlock">, opts?: { policyPacks?: string[]; policyPackConfigs?: string[] }): Promise<RunResult & { log: string[] }>;
}

export interface EngineHarness {
    readonly cp: ControlPlane;
    readonly binaries: EngineBinaries;
    readonly credentials: TestCredentials;
    /** Environment of every run (the CLI's, and so the provider's). */
    readonly env: Readonly<Record<string, string>>;
    /** The project copy every stack of this harness runs in (see {@link projectCopy}). */
    readonly projectDir: string;
    /**
     * A stack named `name` with the config of `stacks/Pulumi.<from>.yaml`, the upstream charts,
     * the test credentials (only those `secrets` names) and `extra` config on top.
     */
    stack(name: string, from: string, opts?: { secrets?: readonly (keyof TestCredentials)[]; extra?: Record<string, unknown> }): Promise<TestStack>;
    stop(): Promise<void>;
}

export interface EngineHarnessOptions {
    readonly log?: (line: string) => void;
    /**
     * Whether the engine saves a checkpoint after every step, as it does by default and as the
     * agent always runs. With the charts' CRDs (about 2 MB of state) that is most of the CLI's CPU in
     * an update or destroy (measured: 44 s -> 12 s of CLI CPU for a prod preview and up). Tests that
     * assert what an operation does, not how a killed one is recovered, turn it off
     * (`PULUMI_SKIP_CHECKPOINTS`: the engine writes the state once, at the end). @default true
     */
    readonly checkpoints?: boolean;
    /**
     * Whether the engine runs with the settings the agent gives every run (ENGINE_SETTINGS in
     * agent/pulumi-engine.ts: forced server-side apply conflicts, no resource references, ...), as
     * it does on every sync; false runs it as a plain `pulumi up` from a workstation, the bootstrap.
     * @default true
     */
    readonly agentSettings?: boolean;
    /**
     * Whether the charts' CRDs are on the cluster before the first run (unmarked, as `npm run
     * cluster` puts them), or only the program's CRD step brings them (docs/crds.md). @default true
     */
    readonly crds?: boolean;
}

/** Starts a control plane with the real CRDs, a private state backend and a project copy for the engine. */
export async function startEngineHarness(opts: EngineHarnessOptions = {}): Promise<EngineHarness> {
    const log = opts.log ?? (() => undefined);
    const binaries = ensureEngine(log);
    const dir = tempDir("ofg-engine-");
    const cp = await startControlPlane({ log });
    // Everything after the control plane started stops it when it fails: the test file never holds
    // it (the harness was not returned), and its etcd and apiserver would keep the test process, and
    // so the whole run, alive for good (a CI clone without ../shared hung so).
    const ready = await (async () => {
        try {
            if (opts.crds !== false) installCrds(cp);
            for (const d of ["state", "home", "project"]) fs.mkdirSync(path.join(dir, d));
            const projectDir = path.join(dir, "project");
            projectCopy(projectDir);
            fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(projectDir, "node_modules"));
            const credentials = makeCredentials(dir);
            const env: Record<string, string> = {
                PATH: [...binaries.path, process.env.PATH ?? ""].join(path.delimiter),
                HOME: path.join(dir, "home"),
                KUBECONFIG: cp.kubeconfig,
                PULUMI_BACKEND_URL: `file://${path.join(dir, "state")}`,
                PULUMI_CONFIG_PASSPHRASE: crypto.randomBytes(16).toString("hex"),
                PULUMI_HOME: path.join(dir, "home", ".pulumi"),
                PULUMI_SKIP_UPDATE_CHECK: "true",
                ...(opts.agentSettings === false ? {} : ENGINE_SETTINGS),
                ...(opts.checkpoints === false ? { PULUMI_SKIP_CHECKPOINTS: "true" } : {}),
            };
            return { credentials, env, projectDir };
        } catch (e) {
            await cp.stop();
            throw e;
        }
    })();
    const { credentials, env, projectDir } = ready;
    // The Automation API looks the CLI up on this process's PATH.
    process.env.PATH = env.PATH;

    return {
        cp,
        binaries,
        credentials,
        env,
        projectDir,
        async stack(name, from, opts = {}) {
            const stack = await LocalWorkspace.createOrSelectStack({ stackName: name, workDir: projectDir }, { envVars: env });
            // The shipped stack file's config, kept as YAML so maps stay maps, beside the salt the CLI wrote.
            const shipped = (yaml.load(fs.readFileSync(path.join(ROOT, "stacks", `Pulumi.${from}.yaml`), "utf8")) ?? {}) as { config?: Record<string, unknown> };
            const configFile = path.join(projectDir, "stacks", `Pulumi.${name}.yaml`);
            const current = (fs.existsSync(configFile) ? yaml.load(fs.readFileSync(configFile, "utf8")) : {}) as Record<string, unknown>;
            const charts = localChartsConfig();
            const extra = Object.fromEntries(Object.entries(opts.extra ?? {}).map(([k, v]) => [`${PROJECT}:${k}`, v]));
            fs.writeFileSync(configFile, yaml.dump({ ...current, config: { ...shipped.config, [`${PROJECT}:charts`]: charts, ...extra } }));
            const secrets = Object.fromEntries((opts.secrets ?? []).map((k) => [`${PROJECT}:${k}`, { value: credentials[k], secret: true }]));
            if (Object.keys(secrets).length > 0) await stack.setAllConfig(secrets);
            return {
                name,
                stack,
                configFile,
                async run(op, runOpts = {}) {
                    const lines: string[] = [];
                    try {
                        const result = await runEngine({ op, stack: name, configFile, secretsProvider: "passphrase", ...runOpts }, { cwd: projectDir, env, log: (l) => lines.push(l) });
                        return { ...result, log: lines };
                    } catch (e) {
                        throw withClusterView(e, cp);
                    }
                },
            };
        },
        async stop() {
            await cp.stop();
            fs.rmSync(dir, { recursive: true, force: true });
        },
    };
}
