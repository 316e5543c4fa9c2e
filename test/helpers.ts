import * as fs from "node:fs";
import * as path from "node:path";
import { parseConfig, projectFiles, RawConfig } from "../config";
import { buildPlatform, PlatformOutputs } from "../platform";
import { ChartName } from "../model/charts";
import { declare, DeclaredResource, stackFileConfig } from "../tools/mock-engine";
import { upstream } from "../tools/upstream";

export const ROOT = path.resolve(__dirname, "..");
/** A file of a pinned chart, wherever tools/upstream.ts finds the charts (../shared/upstream or the tools cache). */
export function chartFile(chart: ChartName, file: string): string {
    return path.join(upstream().charts[chart], file);
}
export const STACKS = fs
    .readdirSync(path.join(ROOT, "stacks"))
    .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
    .filter((s): s is string => s !== undefined)
    .sort();

/** Runs the whole program for a raw config under the mock engine (a test double; see tools/mock-engine.ts). */
export async function runProgram(raw: RawConfig): Promise<{ resources: DeclaredResource[]; outputs: PlatformOutputs }> {
    const { resources, result } = await declare(raw.stack, () => buildPlatform(parseConfig(raw)));
    return { resources, outputs: result };
}

export function runStack(stack: string) {
    return runProgram(stackFileConfig(stack));
}

/** A raw config from plain values, as the engine would pass them. */
export function raw(values: Record<string, string>, secretKeys: string[] = [], stack = "test"): RawConfig {
    return { stack, values, secretKeys: new Set(secretKeys), files: projectFiles(ROOT) };
}

/** The single resource of a type (and name, if given); fails loudly when absent or ambiguous. */
export function one(resources: DeclaredResource[], type: string, name?: string): DeclaredResource {
    const found = resources.filter((r) => r.type === type && (name === undefined || r.name === name));
    if (found.length !== 1) {
        throw new Error(`expected exactly one ${type}${name ? ` named ${name}` : ""}, found ${found.length}: ${found.map((r) => r.name).join(", ")}`);
    }
    return found[0]!;
}

export function chartInputs(resources: DeclaredResource[], release: string): Record<string, any> {
    return one(resources, "kubernetes:helm.sh/v4:Chart", `${release}-chart`).inputs;
}

function isMap(v: unknown): v is Record<string, unknown> {
    return v !== null && typeof v === "object" && !Array.isArray(v);
}

/**
 * Key paths in `given` that the chart's values.yaml does not have. Below an upstream map that is
 * empty (free-form, e.g. annotations) anything goes.
 */
export function unknownValueKeys(given: Record<string, unknown>, upstream: Record<string, unknown>, at = ""): string[] {
    const out: string[] = [];
    for (const [k, v] of Object.entries(given)) {
        const p = at ? `${at}.${k}` : k;
        if (!(k in upstream)) {
            out.push(p);
            continue;
        }
        const u = upstream[k];
        if (isMap(v) && isMap(u) && Object.keys(u).length > 0) out.push(...unknownValueKeys(v, u, p));
    }
    return out;
}
