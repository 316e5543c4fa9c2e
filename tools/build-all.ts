/**
 * `npm run tools:build`: every Go tool the tests run, built into the cache (or found there), one
 * after the other with the time each took. CI runs it before the tests, so a cold machine pays for
 * the builds here, in sight, and never inside a test.
 */
import { ensureBinaries } from "./controlplane";
import { ensureEngine } from "./engine";
import { ensureSmallTool, SMALL_TOOLS, SmallTool } from "./go-tools";
import { ensureKubeseal } from "./kubeseal";
import { ensureSourceController } from "./source-controller";

const log = (line: string) => console.log(line);
const steps: [string, () => unknown][] = [
    ["kube-apiserver and etcd", () => ensureBinaries(log)],
    ["the Pulumi CLI and kubernetes provider", () => ensureEngine(log)],
    ["Flux source-controller", () => ensureSourceController(log)],
    ["kubeseal", () => ensureKubeseal(log)],
    ...Object.keys(SMALL_TOOLS).map((name): [string, () => unknown] => [name, () => ensureSmallTool(name as SmallTool, log)]),
];
const start = Date.now();
for (const [what, build] of steps) {
    const t = Date.now();
    build();
    console.log(`${what}: ready after ${Math.round((Date.now() - t) / 1000)} s`);
}
console.log(`all Go tools ready after ${Math.round((Date.now() - start) / 1000)} s`);
