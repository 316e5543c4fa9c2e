/**
 * The real engine on the prod stack with the real upstream charts (test/support/engine.ts): wall
 * time of preview, first up, no-op up and destroy, and in the same run `kubectl apply
 * --server-side` of the same objects on a fresh control plane, as the floor the engine is compared
 * with. Usage: npm run bench:engine (also in npm run bench; .ci/run runs it)
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as yaml from "js-yaml";
import { installCrds, startControlPlane } from "../tools/controlplane";
import { startEngineHarness } from "../test/support/engine";

/** Server-managed fields that an apply must not carry. */
const SERVER_FIELDS = ["uid", "resourceVersion", "managedFields", "creationTimestamp", "generation"];

async function timed<T>(label: string, fn: () => Promise<T>, into: Record<string, number>): Promise<T> {
    const start = process.hrtime.bigint();
    const out = await fn();
    into[label] = Number(process.hrtime.bigint() - start) / 1e9;
    return out;
}

async function main(): Promise<void> {
    const t: Record<string, number> = {};
    const h = await startEngineHarness();
    let objects: unknown[] = [];
    try {
        const stack = await h.stack("bench", "prod", { secrets: ["adminPassword", "sealingKeyPem", "sealingCertPem", "agentDeployKey", "agentSyncToken", "agentWebhookSecret"] });
        const preview = await timed("preview", () => stack.run("preview"), t);
        await timed("first up", () => stack.run("up"), t);
        await timed("no-op up", () => stack.run("up"), t);
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
        await timed("destroy", () => stack.run("destroy"), t);
        console.log(`engine, prod stack, ${preview.changes.create} resources (${objects.length} Kubernetes objects):`);
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
        await timed("kubectl no-op apply", apply, t);
        fs.rmSync(dir, { recursive: true, force: true });
    } finally {
        await cp.stop();
    }
    for (const [k, v] of Object.entries(t)) console.log(`  ${k.padEnd(20)} ${v.toFixed(2)} s`);
    console.log(`  first up / kubectl first apply: x${(t["first up"]! / t["kubectl first apply"]!).toFixed(1)}`);
    console.log(`  no-op up / kubectl no-op apply: x${(t["no-op up"]! / t["kubectl no-op apply"]!).toFixed(1)}`);
}

void main();
