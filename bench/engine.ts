/**
 * The real engine on the prod stack with the real upstream charts (test/support/engine.ts): wall
 * time and CPU of preview, first up, no-op preview, no-op up, drift check (and what the agent's
 * drift gate reads instead when nothing was written) and destroy, and the state's size; then the same stack in Pro mode with N generated functions (preview, up, no-op
 * preview); and `kubectl apply --server-side` of the prod stack's objects on a fresh control plane,
 * the floor the engine is compared with.
 * Usage: npm run bench:engine [-- <functions>] (default 150; also in npm run bench; .ci/run runs 15)
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as yaml from "js-yaml";
import { installCrds, startControlPlane } from "../tools/controlplane";
import { startEngineHarness } from "../test/support/engine";
import { stackYml } from "./generated-functions";
import { cpuSeconds } from "./proc";
import { clusterReader, refKey } from "../agent/drift-gate";
import { kubeApi } from "../kube/api";

/** Server-managed fields that an apply must not carry. */
const SERVER_FIELDS = ["uid", "resourceVersion", "managedFields", "creationTimestamp", "generation"];

/** The pids of this process's children (every thread's). */
function children(): Set<number> {
    const tasks = fs.readdirSync("/proc/self/task");
    return new Set(tasks.flatMap((t) => fs.readFileSync(`/proc/self/task/${t}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number)));
}

/**
 * Wall time of `fn`, the CPU of the processes it ran and waited for (the engine run's Node process,
 * the program in it, the CLI and the provider: each is reaped by its parent, so its time adds to
 * this process's children's once the run has exited, which it does just after answering), and the
 * apiserver's CPU meanwhile.
 */
async function timed<T>(label: string, fn: () => Promise<T>, into: Record<string, number>, cpu?: Record<string, { engine: number; apiserver: number }>, apiserverPid?: number): Promise<T> {
    const before = children();
    const start = process.hrtime.bigint();
    const engine0 = cpuSeconds("self", "children");
    const api0 = apiserverPid ? cpuSeconds(apiserverPid) : 0;
    const out = await fn();
    into[label] = Number(process.hrtime.bigint() - start) / 1e9;
    for (let i = 0; i < 200 && [...children()].some((pid) => !before.has(pid)); i++) await new Promise((r) => setTimeout(r, 50));
    if (cpu) cpu[label] = { engine: cpuSeconds("self", "children") - engine0, apiserver: apiserverPid ? cpuSeconds(apiserverPid) - api0 : 0 };
    return out;
}

/** The prod stack's credentials, as bring-your-own config. */
const SECRETS = ["adminPassword", "sealingKeyPem", "sealingCertPem", "agentDeployKey", "agentSyncToken", "agentWebhookSecret"] as const;

async function main(functions: number): Promise<void> {
    let proResources = 0;
    let gatedObjects = 0;
    const t: Record<string, number> = {};
    const cpu: Record<string, { engine: number; apiserver: number }> = {};
    const h = await startEngineHarness();
    const apiserver = h.cp.processes.find((p) => p.name === "kube-apiserver")?.pid;
    let objects: unknown[] = [];
    let stateBytes = 0;
    let crdStateBytes = 0;
    try {
        const stack = await h.stack("bench", "prod", { secrets: SECRETS });
        const preview = await timed("preview", () => stack.run("preview"), t, cpu, apiserver);
        await timed("first up", () => stack.run("up"), t, cpu, apiserver);
        await timed("no-op preview", () => stack.run("preview"), t, cpu, apiserver);
        await timed("no-op up", () => stack.run("up"), t, cpu, apiserver);
        const drift = await timed("drift check", () => stack.run("drift-check"), t, cpu, apiserver);
        // What the agent's drift gate reads instead when nothing was written (agent/drift-gate.ts), in this process.
        const read = clusterReader(kubeApi(h.cp.kubeconfig));
        await read(drift.objects ?? []);
        const self0 = cpuSeconds("self");
        const api0 = apiserver ? cpuSeconds(apiserver) : 0;
        await timed("drift check, gated", () => read(drift.objects ?? []), t);
        cpu["drift check, gated"] = { engine: cpuSeconds("self") - self0, apiserver: apiserver ? cpuSeconds(apiserver) - api0 : 0 };
        gatedObjects = new Set((drift.objects ?? []).map(refKey)).size;
        const deployment = (await stack.stack.exportStack()).deployment as { resources: { type: string }[] };
        stateBytes = JSON.stringify(deployment).length;
        crdStateBytes = deployment.resources.filter((r) => r.type === "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition").reduce((n, r) => n + JSON.stringify(r).length, 0);
        // The same objects as the cluster holds them (state outputs are the SDK's form, not the API's).
        const state = (await stack.stack.exportStack()).deployment.resources as { type: string; outputs?: Record<string, any> }[];
        objects = state
            .filter((r) => r.type.startsWith("kubernetes:") && !r.type.startsWith("kubernetes:helm.sh") && r.outputs?.kind)
            .map((r) => {
                const { apiVersion, kind, metadata } = r.outputs!;
                // kubectl's fully qualified form: Kind.version.group, or the bare Kind in the core group.
                const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
                const resource = group ? `${kind}.${version}.${group}` : kind;
                const o = JSON.parse(h.cp.kubectl(["get", resource, metadata.name, ...(metadata.namespace ? ["-n", metadata.namespace] : []), "-o", "json"]));
                delete o.status;
                for (const f of SERVER_FIELDS) delete o.metadata[f];
                return o;
            });
        await timed("destroy", () => stack.run("destroy"), t, cpu, apiserver);
        console.log(`engine, prod stack, ${preview.changes.create} resources (${objects.length} Kubernetes objects):`);

        // Pro mode with many functions (Function objects for the operator, HPAs, CronJobs), on the same cluster.
        fs.writeFileSync(path.join(h.projectDir, "functions", "bench.yml"), stackYml(functions));
        const pro = await h.stack("bench-pro", "prod", { secrets: SECRETS, extra: { functionsFile: "functions/bench.yml" } });
        await pro.stack.setConfig("openfaas-gitops:proLicense", { value: "bench-placeholder-not-a-licence", secret: true });
        proResources = (await timed(`pro ${functions} fns: preview`, () => pro.run("preview"), t, cpu, apiserver)).changes.create ?? 0;
        await timed(`pro ${functions} fns: up`, () => pro.run("up"), t, cpu, apiserver);
        await timed(`pro ${functions} fns: no-op preview`, () => pro.run("preview"), t, cpu, apiserver);
    } finally {
        await h.stop();
    }

    // The same objects with kubectl alone, on a fresh control plane (namespaces and CRD-backed kinds need no order: CRDs are installed first).
    const cp = await startControlPlane();
    try {
        installCrds(cp);
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ofg-bench-"));
        const rank = (o: any) => (o.kind === "Namespace" ? 0 : o.kind === "CustomResourceDefinition" ? 1 : 2);
        const file = path.join(dir, "objects.yaml");
        fs.writeFileSync(file, [...objects].sort((a, b) => rank(a) - rank(b)).map((o) => yaml.dump(o)).join("---\n"));
        const apply = () => Promise.resolve(cp.kubectl(["apply", "--server-side", "--force-conflicts", "--field-manager=bench", "-f", file]));
        await timed("kubectl first apply", apply, t);
        // What the provider awaits on a first up and `kubectl apply` does not: every Deployment Available.
        await timed("kubectl wait (Available)", () => Promise.resolve(cp.kubectl(["wait", "--for=condition=Available", "deployment", "--all", "--all-namespaces", "--timeout=300s"])), t);
        await timed("kubectl no-op apply", apply, t);
        fs.rmSync(dir, { recursive: true, force: true });
    } finally {
        await cp.stop();
    }
    for (const [k, v] of Object.entries(t)) {
        const c = cpu[k];
        console.log(`  ${k.padEnd(28)} ${v.toFixed(2).padStart(6)} s${c ? `   CPU: engine ${c.engine.toFixed(1)} s, apiserver ${c.apiserver.toFixed(1)} s` : ""}`);
    }
    console.log(`  (drift check, gated: the drift gate's read of the ${gatedObjects} objects' metadata when nothing was written; its CPU is this process's)`);
    console.log(`  state: ${(stateBytes / 1e6).toFixed(2)} MB, of which CRDs ${(crdStateBytes / 1e6).toFixed(2)} MB`);
    console.log(`  first up / kubectl first apply: x${(t["first up"]! / t["kubectl first apply"]!).toFixed(1)}; with its wait for the Deployments: x${(t["first up"]! / (t["kubectl first apply"]! + t["kubectl wait (Available)"]!)).toFixed(1)}`);
    console.log(`  no-op up / kubectl no-op apply: x${(t["no-op up"]! / t["kubectl no-op apply"]!).toFixed(1)}`);
    console.log(`  (pro: the prod stack in Pro mode with ${functions} generated functions, ${proResources} resources)`);
}

const functions = Number(process.argv[2] ?? 150);
if (!Number.isInteger(functions) || functions < 1) {
    console.error("usage: npm run bench:engine [-- <functions>] (the Pro-mode stack's generated functions; default 150)");
    process.exit(2);
}
void main(functions);
