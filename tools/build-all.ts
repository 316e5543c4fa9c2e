/**
 * `npm run tools:build`: every Go tool the tests run, built into the cache (or found there), with the
 * time each took. CI runs it before the tests, so a cold machine pays for the builds here, in sight,
 * and never inside a test.
 *
 * Two builds run at a time, each in its own process: one Go build keeps both cores busy only part
 * of the time (module downloads, the single-threaded link), and a second fills the gaps. The lanes
 * are about equally long cold: the engine (CLI then provider), and everything else.
 */
import { fork } from "node:child_process";
import { ensureBinaries } from "./controlplane";
import { ensureEngine } from "./engine";
import { ensureSmallTool, SMALL_TOOLS, SmallTool } from "./go-tools";
import { ensureKubeseal } from "./kubeseal";
import { ensureKubelet } from "./real-node";
import { ensureSealedSecretsController } from "./sealed-secrets-controller";
import { ensureSourceController } from "./source-controller";

const log = (line: string) => console.log(line);
const ENGINE = "the Pulumi CLI and kubernetes provider";
const STEPS: Record<string, () => unknown> = {
    [ENGINE]: () => ensureEngine(log),
    "the live cluster (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok)": () => ensureBinaries(log),
    "the real node's kubelet": () => ensureKubelet(log),
    "Flux source-controller": () => ensureSourceController(log),
    kubeseal: () => ensureKubeseal(log),
    "sealed-secrets controller": () => ensureSealedSecretsController(log),
    ...Object.fromEntries(Object.keys(SMALL_TOOLS).map((name) => [name, () => ensureSmallTool(name as SmallTool, log)])),
};
const LANES = [[ENGINE], Object.keys(STEPS).filter((step) => step !== ENGINE)];

/** Runs one step in a child process; resolves with its name if it failed. */
function runStep(step: string): Promise<string | undefined> {
    return new Promise((resolve) => {
        fork(__filename, ["--step", step], { stdio: "inherit" }).on("exit", (code) => resolve(code === 0 ? undefined : step));
    });
}

async function main(): Promise<void> {
    const start = Date.now();
    const failed = (
        await Promise.all(
            LANES.map(async (lane) => {
                const bad: string[] = [];
                for (const step of lane) {
                    const f = await runStep(step);
                    if (f) bad.push(f);
                }
                return bad;
            }),
        )
    ).flat();
    if (failed.length > 0) {
        console.error(`could not build: ${failed.join(", ")} (the Go output above says why)`);
        process.exit(1);
    }
    console.log(`all Go tools ready after ${Math.round((Date.now() - start) / 1000)} s`);
}

if (process.argv[2] === "--step") {
    const step = process.argv[3]!;
    const t = Date.now();
    STEPS[step]!();
    console.log(`${step}: ready after ${Math.round((Date.now() - t) / 1000)} s`);
} else {
    void main();
}
