/**
 * `npm test`'s runner: every test file under test/ and policies/test/, three at a time, with the
 * spec reporter, like `node --test`, but the real-engine and control-plane files first. `node --test`
 * takes files in name order, which started the four stack lifecycles (three to five minutes each)
 * last, so the run ended with them alone on the machine; started first, the short files fill the
 * slots around them. A file missing from SLOW_FIRST only runs later; the order never changes what a
 * test proves. Arguments, if any, are the files to run instead of all of them.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { run } from "node:test";
import { spec } from "node:test/reporters";

const ROOT = path.resolve(__dirname, "..");

/** The longest files, longest first (a fresh-clone CI run's durations). */
const SLOW_FIRST = [
    "test/engine-prod.test.ts",
    "test/engine-staging.test.ts",
    "test/engine-pro.test.ts",
    "test/engine-dev.test.ts",
    "test/agent-pulumi-engine.test.ts",
    "test/agent-e2e.test.ts",
    "test/controlplane.test.ts",
    "test/engine.test.ts",
];

const all = [...fs.globSync("test/**/*.test.ts", { cwd: ROOT }), ...fs.globSync("policies/test/**/*.test.ts", { cwd: ROOT })].sort();
const chosen = process.argv.length > 2 ? process.argv.slice(2).map((f) => path.relative(ROOT, path.resolve(f))) : all;
const files = [...SLOW_FIRST.filter((f) => chosen.includes(f)), ...chosen.filter((f) => !SLOW_FIRST.includes(f))];

run({ files: files.map((f) => path.join(ROOT, f)), concurrency: 3, execArgv: ["--import", "tsx"] })
    .on("test:fail", () => {
        process.exitCode = 1;
    })
    .compose(spec)
    .pipe(process.stdout);
