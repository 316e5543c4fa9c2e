/**
 * Modules an engine run loads only if something uses them. `@pulumi/pulumi` requires the
 * dependencies of its function serializer when it is imported: npm's arborist (which packages a
 * serialized function needs) and TypeScript (to parse a function's text). Together that is about
 * 0.35 of the 2 CPU-seconds a run's Node process spends on the prod stack, and nothing in a run of
 * this program serializes a function (no dynamic providers, no callbacks shipped elsewhere).
 *
 * Each deferred module is a stand-in in the require cache until something first reads from it; that
 * read loads the real module, which every later `require` gets directly. The stand-in answers as
 * `__importStar` and `__importDefault` (TypeScript's CommonJS interop) would answer for the real one,
 * so a caller sees no difference but the moment of loading.
 */
import Module, { createRequire } from "node:module";

/** The deferred modules, by the package that requires them. */
export const DEFERRED: Readonly<Record<string, readonly string[]>> = {
    "@pulumi/pulumi": ["@npmcli/arborist", "typescript"],
};

/**
 * Puts a stand-in for each of `ids`, as `from` resolves it, in the require cache. A module that
 * does not resolve (a version without that dependency) or is already loaded is left as it is.
 * Returns the files deferred.
 */
export function deferModules(from: NodeJS.Require, ids: readonly string[]): string[] {
    const deferred: string[] = [];
    for (const id of ids) {
        let file: string;
        try {
            file = from.resolve(id);
        } catch {
            continue;
        }
        if (require.cache[file]) continue;
        let real: Record<PropertyKey, unknown> | undefined;
        const load = (): Record<PropertyKey, unknown> => {
            if (!real) {
                delete require.cache[file];
                real = from(file) as Record<PropertyKey, unknown>;
            }
            return real;
        };
        const standIn = new Module(file);
        standIn.filename = file;
        standIn.loaded = true;
        standIn.exports = new Proxy(
            {},
            {
                get: (_, key) => {
                    if (key === "__esModule") return true;
                    const m = load();
                    // A CommonJS module's interop default is the module itself.
                    return key === "default" && !m.__esModule ? m : m[key];
                },
                has: (_, key) => key === "__esModule" || key in load(),
            },
        );
        require.cache[file] = standIn;
        deferred.push(file);
    }
    return deferred;
}

/** Defers {@link DEFERRED}'s modules as the checkout whose `require` is `fromProject` resolves them. */
export function deferUnusedModules(fromProject: NodeJS.Require): string[] {
    return Object.entries(DEFERRED).flatMap(([pkg, ids]) => {
        let entry: string;
        try {
            entry = fromProject.resolve(pkg);
        } catch {
            return [];
        }
        return deferModules(createRequire(entry), ids);
    });
}
