/**
 * Evaluates the whole program under the mock engine (tools/mock-engine.ts) with 15, 150 and 1500
 * generated functions (the generated file stands in for functions/stack.yml only; every other file
 * the program reads is the project's own) and prints wall time and peak memory of each, plus the
 * 150 -> 1500 ratio. Each size runs in its own process so peak RSS belongs to that size alone.
 * Usage: npm run bench (all sizes), npm run bench:functions [-- <sizes...>] (CI runs 15).
 */
import { execFileSync } from "node:child_process";
import * as os from "node:os";
import * as path from "node:path";
import { parseConfig } from "../config";
import { projectFiles } from "../config/files";
import { buildPlatform } from "../platform";
import { declare, stackFileConfig } from "../tools/mock-engine";
import { stackYml } from "./generated-functions";

const DEFAULT_SIZES = [15, 150, 1500];
/** The functions file the shipped stacks read (`functionsFile`'s default). */
const FUNCTIONS_FILE = "functions/stack.yml";

async function measure(n: number): Promise<void> {
    const base = stackFileConfig("prod");
    const project = projectFiles(path.resolve(__dirname, ".."));
    // More than 15 functions needs OpenFaaS Pro; the licence is a placeholder the double never sends anywhere.
    const raw = {
        ...base,
        values: { ...base.values, proLicense: "bench-placeholder" },
        secretKeys: new Set(["proLicense"]),
        files: { ...project, read: (rel: string) => (rel === FUNCTIONS_FILE ? stackYml(n) : project.read(rel)) },
    };
    const start = process.hrtime.bigint();
    const { resources } = await declare("prod", () => buildPlatform(parseConfig(raw)));
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    const peakMiB = process.resourceUsage().maxRSS / 1024;
    process.stdout.write(JSON.stringify({ n, ms, peakMiB, resources: resources.length }) + "\n");
}

function main(sizes: number[]): void {
    const results = sizes.map((n) => {
        const out = execFileSync(process.execPath, ["--import", "tsx", __filename, "--size", String(n)], { encoding: "utf8", cwd: path.resolve(__dirname, "..") });
        return JSON.parse(out.trim().split("\n").pop()!) as { n: number; ms: number; peakMiB: number; resources: number };
    });
    console.log(`program evaluation under the mock engine (${os.cpus().length} cores, Node ${process.version})`);
    console.log("functions  resources  wall time  peak RSS");
    for (const r of results) {
        console.log(`${String(r.n).padStart(9)}  ${String(r.resources).padStart(9)}  ${(r.ms / 1000).toFixed(2).padStart(7)} s  ${r.peakMiB.toFixed(0).padStart(5)} MiB`);
    }
    const mid = results.find((r) => r.n === 150);
    const big = results.find((r) => r.n === 1500);
    if (mid && big) console.log(`150 -> 1500: time x${(big.ms / mid.ms).toFixed(1)}, peak memory x${(big.peakMiB / mid.peakMiB).toFixed(1)} (10x the functions)`);
}

if (process.argv[2] === "--size") {
    void measure(Number(process.argv[3]));
} else {
    const sizes = process.argv.slice(2).map(Number);
    if (sizes.some((n) => !Number.isInteger(n) || n < 1)) {
        console.error(`usage: npm run bench:functions [-- <sizes...>] (positive integers; default ${DEFAULT_SIZES.join(" ")})`);
        process.exit(2);
    }
    main(sizes.length > 0 ? sizes : DEFAULT_SIZES);
}
