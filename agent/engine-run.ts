/**
 * One engine run in its own process, forked by pulumi-engine.ts (the agent, and the tests through
 * the same function). The Automation API runs the program inline (no language host needed), and
 * both come from the checkout's own node_modules: the engine code is the version the revision pins,
 * the program's `@pulumi/pulumi` is the same module instance the Automation API drives, and a
 * crash or a failed run's stray callbacks end with this process, never in the agent.
 *
 * Protocol (IPC): the parent sends one {@link RunRequest}; this process sends {@link RunMessage}s
 * and exits after `done` or `failed`. A `cancel` message asks the engine to stop gracefully.
 */
import * as fs from "node:fs";
import { createRequire, enableCompileCache } from "node:module";
import * as path from "node:path";
import * as yaml from "js-yaml";
import { deferUnusedModules } from "./deferred-modules";
import { ObjectRef, objectRef, PolicyViolation } from "./engine";
import { CliContext, exportState, importState } from "./pulumi-cli";
import type * as automation from "@pulumi/pulumi/automation";

/**
 * `drift-check` is a preview against the cluster as it is now (refresh first); `drift-correct` the
 * update that makes it match again; `unlock` removes the stack's lock (the parent decides when
 * that is safe).
 */
export type RunOp = "preview" | "up" | "destroy" | "drift-check" | "drift-correct" | "unlock";

export interface RunRequest {
    readonly op: RunOp;
    readonly stack: string;
    /** The stack's config file (the Automation API ignores Pulumi.yaml's stackConfigDir, pulumi/pulumi#10305). */
    readonly configFile: string;
    readonly secretsProvider?: string;
    /** Policy packs (directories or executables) and their config files, for preview and up. */
    readonly policyPacks?: readonly string[];
    readonly policyPackConfigs?: readonly string[];
    /**
     * A preview only: a stack export (secrets as ciphertext) to import into the backend first. A pull
     * request's preview runs against a private copy of the stack's state this way (agent/preview-run.ts),
     * so nothing it does can reach the real state.
     */
    readonly importState?: string;
}

export type RunMessage =
    | { readonly kind: "log"; readonly line: string }
    | { readonly kind: "done"; readonly changes: Record<string, number>; readonly changed: string[]; readonly objects?: ObjectRef[]; readonly violations: PolicyViolation[] }
    | { readonly kind: "failed"; readonly message: string; readonly locked: boolean; readonly violations: PolicyViolation[] };

/** Steps that are not a change: a drift check's refresh steps are how it reads, not what it finds. */
const NOT_A_CHANGE = new Set(["same", "read", "refresh"]);

/** Pure: `type::name` of a resource's URN (its parent types left out). */
export function resourceName(urn: string): string {
    const [type, name] = urn.split("::").slice(-2);
    return `${type!.split("$").pop()}::${name}`;
}

/** Pure: `type::name (op)` of a resource step, as reported in change and drift lists. */
export function describeStep(urn: string, op: string): string {
    return `${resourceName(urn)} (${op})`;
}

/** Pure: a policy event as a run reports it: the CLI's colour codes out of its message. */
export function policyViolation(ev: Pick<automation.PolicyEvent, "policyName" | "enforcementLevel" | "message" | "resourceUrn">): PolicyViolation {
    // eslint-disable-next-line no-control-regex
    const message = ev.message.replace(/\x1b\[[0-9;]*m|<\{%[^%]*%\}>/g, "").trim();
    return { policy: ev.policyName, level: ev.enforcementLevel === "mandatory" ? "mandatory" : "advisory", message, ...(ev.resourceUrn ? { resource: resourceName(ev.resourceUrn) } : {}) };
}

/** Pure: changes by operation, from the `type::name (op)` list. */
export function countChanges(changed: readonly string[]): Record<string, number> {
    const out: Record<string, number> = {};
    for (const c of changed) {
        const op = /\(([^)]+)\)$/.exec(c)![1]!;
        out[op] = (out[op] ?? 0) + 1;
    }
    return out;
}

function send(m: RunMessage): Promise<void> {
    return new Promise((resolve) => process.send!(m, () => resolve()));
}

/**
 * An update killed mid-way leaves pending operations in the state. The CLI goes on with a warning
 * but keeps them, on every update, until an interactive `pulumi refresh` resolves them, and an agent
 * has no one to answer it. Clearing them is safe here: a create it had started is adopted by the
 * next apply (server-side apply upserts an object that already exists), and an update or delete is
 * planned again from the program. (An import drops them; the CLI does that on every import.)
 * Only after an update that met them (the CLI's warning says so): reading the whole state costs a
 * CLI process, about 0.45 CPU-seconds on the prod stack, which every update would pay otherwise.
 * The state goes out and back with its secrets as ciphertext (agent/pulumi-cli.ts), never the
 * Automation API's plaintext export and world-readable import file.
 */
async function clearPendingOperations(stack: string, ctx: CliContext): Promise<void> {
    const state = JSON.parse(await exportState(stack, ctx)) as { deployment?: { pending_operations?: { resource?: { urn?: string }; type?: string }[] } };
    const deployment = state.deployment;
    const pending = deployment?.pending_operations ?? [];
    if (pending.length === 0) return;
    await send({ kind: "log", line: `recovering: clearing ${pending.length} pending operation(s) of an interrupted update: ${pending.map((p) => `${p.type} ${p.resource?.urn?.split("::").pop()}`).join(", ")}` });
    deployment!.pending_operations = [];
    await importState(stack, JSON.stringify(state), ctx);
}

/**
 * Resource operations at once. The CLI's default is 4 per core (8 on 2 cores), sized for cloud APIs'
 * rate limits; here most operations wait (a chart's component until its objects are in, a Service
 * 10 s after its Endpoints last changed), and 8 waiting operations held every other chart back:
 * the first up of prod ran its charts in two rounds.
 */
const ENGINE_PARALLEL = 64;

/** The CLI's warning when an update starts from a state with pending operations (pkg/engine, pulumi#9293). */
const PENDING_OPERATIONS_WARNING = /pending operations from previous deployment/;

async function run(req: RunRequest, signal: AbortSignal): Promise<RunMessage> {
    const projectDir = process.cwd();
    const fromProject = createRequire(path.join(projectDir, "package.json"));
    // Under the agent's own tsx (development) .ts already loads; in the image, the checkout's tsx.
    if (!require.extensions[".ts"]) (fromProject("tsx/cjs/api") as { register(): unknown }).register();
    // tsx maps every stack trace back to TypeScript, and @pulumi/pulumi takes one for every promise and
    // resource it makes: about 0.4 of a prod preview's CPU-seconds. A run's errors are messages, so
    // its traces point into the transpiled program instead.
    process.setSourceMapsEnabled(false);
    deferUnusedModules(fromProject);
    const auto = fromProject("@pulumi/pulumi/automation") as typeof automation;
    // A stack locked by someone is the Automation API's own error type (it reads the CLI's words for
    // both the DIY backends and the Pulumi Cloud), so nothing here matches error text. A mandatory
    // policy fails the run: its results go with the failure.
    const violations: PolicyViolation[] = [];
    return operate(auto, fromProject, req, signal, violations).catch((e: Error): RunMessage => ({ kind: "failed", message: e.message, locked: e instanceof auto.ConcurrentUpdateError, violations }));
}

/** The operation itself, with the checkout's Automation API and program. */
async function operate(auto: typeof automation, fromProject: NodeJS.Require, req: RunRequest, signal: AbortSignal, violations: PolicyViolation[]): Promise<RunMessage> {
    const projectDir = process.cwd();
    const project = yaml.load(fs.readFileSync(path.join(projectDir, "Pulumi.yaml"), "utf8")) as { name: string; main?: string };
    const main = path.resolve(projectDir, project.main ?? "index.ts");
    const program = async () => {
        const exported = fromProject(main) as Record<string, unknown>;
        return Object.fromEntries(Object.entries(exported).filter(([k]) => k !== "__esModule"));
    };
    // The CLI as the Automation API runs it: this process's variables (the run's engine environment), in the project.
    const cli: CliContext = { cwd: projectDir, env: process.env as Record<string, string> };
    const stack = await auto.LocalWorkspace.createOrSelectStack(
        { projectName: project.name, stackName: req.stack, program },
        { workDir: projectDir, secretsProvider: req.secretsProvider },
    );
    if (req.importState !== undefined) {
        if (req.op !== "preview") throw new Error(`importState is for a preview only, not ${req.op}: an operation that saves must run on the stack's own state`);
        await importState(req.stack, req.importState, cli);
    }
    if (req.op === "unlock") {
        await stack.cancel();
        return { kind: "done", changes: {}, changed: [], violations };
    }
    const planOnly = req.op === "preview" || req.op === "drift-check";
    // An up's result is the stack's outputs and its last update, which the Automation API reads after
    // the update (`stack output` twice, `stack history`: about 0.75 CPU-seconds on the prod stack).
    // A run reports the steps it saw instead, so both are answered without the CLI.
    stack.outputs = async () => ({});
    stack.info = async () => undefined;
    const changed: string[] = [];
    const objects: ObjectRef[] = [];
    let metPendingOperations = false;
    const opts = {
        configFile: req.configFile,
        signal,
        // Drift is the difference between the program and the cluster as it is now.
        refresh: req.op === "drift-check" || req.op === "drift-correct",
        parallel: ENGINE_PARALLEL,
        policyPacks: req.policyPacks ? [...req.policyPacks] : undefined,
        policyPackConfigs: req.policyPackConfigs ? [...req.policyPackConfigs] : undefined,
        onOutput: (line: string) => void send({ kind: "log", line: line.trimEnd() }),
        onEvent: (ev: automation.EngineEvent) => {
            if (ev.diagnosticEvent && PENDING_OPERATIONS_WARNING.test(ev.diagnosticEvent.message)) metPendingOperations = true;
            if (ev.policyEvent) violations.push(policyViolation(ev.policyEvent));
            // A plan reports steps before they run; an update, the steps that ran.
            const m = planOnly ? ev.resourcePreEvent?.metadata : ev.resOutputsEvent?.metadata;
            if (m && !NOT_A_CHANGE.has(m.op)) changed.push(describeStep(m.urn, m.op));
            // The objects the program manages: as the state has them (a plan), as the update left them.
            const state = m && (planOnly ? m.old ?? m.new : m.new ?? m.old);
            const object = state?.custom ? objectRef(state.type, state.id) : undefined;
            if (object) objects.push(object);
        },
    };
    if (req.op === "destroy") await stack.destroy({ signal, parallel: ENGINE_PARALLEL, onOutput: opts.onOutput, onEvent: opts.onEvent });
    else await (planOnly ? stack.preview(opts) : stack.up(opts));
    if (!planOnly && metPendingOperations) await clearPendingOperations(req.stack, cli);
    return { kind: "done", changes: countChanges(changed), changed, objects, violations };
}

if (require.main === module) {
    // Every run is a fresh process loading the Automation API, the SDKs and the program: V8's code
    // cache on disk (in TMPDIR) saves about 0.4 s of CPU a run once warm.
    enableCompileCache();
    const controller = new AbortController();
    process.on("message", (m: RunRequest | { kind: "cancel" }) => {
        if ("kind" in m) {
            controller.abort();
            return;
        }
        void run(m, controller.signal)
            .catch((e: Error): RunMessage => ({ kind: "failed", message: e.message, locked: false, violations: [] }))
            .then(send)
            .then(() => process.exit(0));
    });
}
