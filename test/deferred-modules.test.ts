/**
 * The modules an engine run defers (agent/deferred-modules.ts): a stand-in answers exactly as the
 * real module would through TypeScript's CommonJS interop, loads it on first use and never before;
 * and in a fresh process with the checkout's `@pulumi/pulumi`, the SDK loads without arborist and
 * TypeScript, and its function serializer and code-path computation still work (they load them).
 */
import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { deferModules } from "../agent/deferred-modules";
import { ROOT } from "./helpers";
import { tempDir } from "./support/tmp";

/** TypeScript's CommonJS interop helpers (what `import * as` and default imports compile to), as tsc emits them. */
const importStar = (mod: any): any => {
    if (mod && mod.__esModule) return mod;
    const result: any = {};
    for (const k in mod) if (k !== "default" && Object.prototype.hasOwnProperty.call(mod, k)) Object.defineProperty(result, k, { enumerable: true, get: () => mod[k] });
    result.default = mod;
    return result;
};
const importDefault = (mod: any): any => (mod && mod.__esModule ? mod : { default: mod });

const KEY = fc.string({ minLength: 1, maxLength: 8 }).filter((k) => /^[A-Za-z_$][\w$]*$/.test(k) && !["__esModule", "default", "__proto__"].includes(k));

describe("deferred modules", () => {
    it("a stand-in reads as the real module through both interop helpers, loads it on first read, and a later require gets the real one", () => {
        const dir = tempDir("ofg-deferred-");
        let n = 0;
        fc.assert(
            fc.property(fc.dictionary(KEY, fc.oneof(fc.integer(), fc.string())), fc.boolean(), (exports, esModule) => {
                const file = path.join(dir, `m${n++}.js`);
                // The module records that it ran, so loading is observable.
                fs.writeFileSync(file, `globalThis.__ran = (globalThis.__ran ?? 0) + 1;\n${esModule ? 'Object.defineProperty(exports, "__esModule", { value: true });\n' : ""}${Object.entries(exports).map(([k, v]) => `exports.${k} = ${JSON.stringify(v)};`).join("\n")}\nexports.default = ${esModule ? '"the default"' : "undefined"};\n`);
                const from = createRequire(file);
                (globalThis as any).__ran = 0;
                assert.deepEqual(deferModules(from, [file]), [file]);
                const standIn = from(file);
                assert.equal((globalThis as any).__ran, 0, "loaded before anything read from it");
                const star = importStar(standIn);
                const dflt = importDefault(standIn);
                assert.equal((globalThis as any).__ran, 0, "the interop helpers loaded it");
                for (const [k, v] of Object.entries(exports)) {
                    assert.equal(star[k], v);
                    assert.ok(k in standIn);
                }
                assert.equal((globalThis as any).__ran, Object.keys(exports).length > 0 ? 1 : 0);
                const starDefault = star.default;
                const real = from(file);
                assert.equal((globalThis as any).__ran, 1, "loaded twice, or never");
                assert.notEqual(real, standIn);
                // The defaults the helpers give for the real module.
                assert.equal(starDefault === real ? "module" : starDefault, importStar(real).default === real ? "module" : importStar(real).default);
                assert.equal(dflt.default === real ? "module" : dflt.default, importDefault(real).default === real ? "module" : importDefault(real).default);
                assert.deepEqual(deferModules(from, [file]), [], "deferred a module already loaded");
            }),
            { numRuns: 40 },
        );
    });

    it("a module that does not resolve is left alone", () => {
        assert.deepEqual(deferModules(createRequire(path.join(ROOT, "package.json")), ["no-such-module-anywhere"]), []);
    });

    it("with the checkout's @pulumi/pulumi: the SDK loads without arborist and TypeScript, and serializing a function and computing code paths still work", () => {
        const script = `
            require("tsx/cjs");
            const { createRequire } = require("node:module");
            const fromProject = createRequire(${JSON.stringify(path.join(ROOT, "package.json"))});
            const deferred = require(${JSON.stringify(path.join(ROOT, "agent", "deferred-modules.ts"))}).deferUnusedModules(fromProject);
            const pulumi = fromProject("@pulumi/pulumi");
            fromProject("@pulumi/pulumi/automation");
            fromProject("@pulumi/kubernetes");
            const standIns = deferred.map((f) => require.cache[f].exports);
            const loaded = (pkg) => Object.entries(require.cache).some(([f, m]) => f.includes("/node_modules/" + pkg + "/") && !standIns.includes(m.exports));
            const before = { arborist: loaded("@npmcli/arborist"), typescript: loaded("typescript") };
            (async () => {
                const fn = await pulumi.runtime.serializeFunction(() => 40 + 2);
                const paths = await pulumi.runtime.computeCodePaths({ extraIncludePackages: ["js-yaml"] });
                console.log(JSON.stringify({ deferred: deferred.length, before, text: fn.text.includes("40 + 2"), yaml: [...paths.keys()].some((p) => p.includes("js-yaml")), after: { arborist: loaded("@npmcli/arborist"), typescript: loaded("typescript") } }));
            })();`;
        const out = JSON.parse(execFileSync(process.execPath, ["-e", script], { cwd: ROOT, encoding: "utf8" }));
        assert.deepEqual(out, { deferred: 2, before: { arborist: false, typescript: false }, text: true, yaml: true, after: { arborist: true, typescript: true } });
    });
});
