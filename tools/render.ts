/**
 * `npm run render -- --stack <name> [--out <dir>]`: evaluates the program under the mock engine and
 * writes every Kubernetes object it declares as YAML (not the contents of Helm charts, which the
 * Kubernetes provider renders at deploy time). Generated and secret values are placeholders.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import * as yaml from "js-yaml";
import { parseConfig, RawConfig } from "../config";
import { buildPlatform } from "../platform";
import { declare, DeclaredResource, PLACEHOLDER, stackFileConfig } from "./mock-engine";

export interface K8sObject {
    apiVersion: string;
    kind: string;
    metadata: { name: string; namespace?: string; [k: string]: unknown };
    [k: string]: unknown;
}

const CHART = "kubernetes:helm.sh/v4:Chart";

/** Replaces the value at a dotted path (as recorded by the mock engine) with a placeholder. */
function mask(obj: Record<string, any>, dotted: string): void {
    const parts = dotted.split(".");
    let at: any = obj;
    for (const p of parts.slice(0, -1)) at = at?.[p];
    const last = parts[parts.length - 1]!;
    if (at && typeof at === "object" && last in at) {
        const v = at[last];
        at[last] = v !== null && typeof v === "object"
            ? Object.fromEntries(Object.keys(v).map((k) => [k, `${PLACEHOLDER}:secret`]))
            : `${PLACEHOLDER}:secret`;
    }
}

/** Pure: the Kubernetes objects among the declared resources, secrets masked, namespaces first. */
export function kubernetesObjects(resources: readonly DeclaredResource[]): K8sObject[] {
    const objects = resources
        .filter((r) => r.type.startsWith("kubernetes:") && r.type !== CHART)
        .map((r) => {
            const obj = structuredClone(r.inputs) as K8sObject;
            for (const p of r.secretPaths) mask(obj, p);
            if (!obj.apiVersion || !obj.kind || !obj.metadata?.name) throw new Error(`${r.type} ${r.name} has no apiVersion, kind or metadata.name`);
            return obj;
        });
    const rank = (o: K8sObject) => (o.kind === "Namespace" ? 0 : 1);
    return objects.sort((a, b) => rank(a) - rank(b));
}

/** Evaluates a stack and returns its Kubernetes objects. */
export async function renderStack(raw: RawConfig): Promise<K8sObject[]> {
    const { resources } = await declare(raw.stack, () => buildPlatform(parseConfig(raw)));
    return kubernetesObjects(resources);
}

/** File name of an object: ordered, kind, namespace and name, so a directory listing reads like the stack. */
export function objectFileName(o: K8sObject, index: number): string {
    return `${String(index).padStart(3, "0")}-${o.kind.toLowerCase()}-${o.metadata.namespace ? `${o.metadata.namespace}-` : ""}${o.metadata.name}.yaml`;
}

/** Marks a directory render created, so a later run may replace what it wrote there and nothing else. */
export const RENDER_MARKER = ".openfaas-gitops-render";
const RENDERED_FILE = /^\d{3,}-.+\.yaml$/;
export const USAGE = "usage: npm run render -- --stack <dev|staging|prod> [--out <dir>]";

/**
 * Writes one file per object into `out`. A new or empty directory becomes render's (marker file); in
 * a directory it owns, only the files of a previous render are replaced. Anything else is refused:
 * render never deletes what it did not write (`--out .` once deleted a working tree).
 */
export function writeObjects(objects: readonly K8sObject[], out: string): string[] {
    const existing = fs.existsSync(out) ? fs.readdirSync(out) : [];
    if (existing.length > 0 && !existing.includes(RENDER_MARKER)) {
        throw new Error(`--out ${out} is not empty and was not created by render (no ${RENDER_MARKER} in it); give a new or empty directory`);
    }
    fs.mkdirSync(out, { recursive: true });
    fs.writeFileSync(path.join(out, RENDER_MARKER), "Written by npm run render; its *.yaml files are replaced on the next render into this directory.\n");
    for (const f of existing.filter((f) => RENDERED_FILE.test(f))) fs.rmSync(path.join(out, f));
    return objects.map((o, i) => {
        const file = path.join(out, objectFileName(o, i));
        fs.writeFileSync(file, yaml.dump(o, { noRefs: true, sortKeys: false, lineWidth: -1 }));
        return file;
    });
}

async function main(): Promise<void> {
    let values;
    try {
        ({ values } = parseArgs({ options: { stack: { type: "string" }, out: { type: "string" } } }));
    } catch (e) {
        console.error(`${(e as Error).message}\n${USAGE}`);
        process.exit(2);
    }
    if (!values.stack) {
        console.error(USAGE);
        process.exit(2);
    }
    const out = values.out ?? path.join("rendered", values.stack);
    const objects = await renderStack(stackFileConfig(values.stack));
    const files = writeObjects(objects, out);
    console.log(`rendered ${files.length} objects of stack ${values.stack} to ${out}/`);
}

if (require.main === module) {
    main().catch((e: Error) => {
        console.error(e.message);
        process.exit(1);
    });
}
