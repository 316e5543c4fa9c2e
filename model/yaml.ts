/**
 * YAML reading with a bound on what aliases can make of a small file. js-yaml resolves an alias to the
 * same object as its anchor, so loading is cheap, but every reader after it (schema checks, String(),
 * error messages) walks the tree expanded: a 500-byte "billion laughs" file becomes gigabytes of
 * walking and text. An anchor can also hold an alias to itself, a cycle no reader expects. So the
 * document's expanded size is measured once, in time linear in the file, before anyone walks it.
 */
import * as yaml from "js-yaml";

/**
 * Most a YAML document may weigh, as text before loading and expanded after: a character of a scalar
 * or key counts 1, every node 1 more. A stack.yml of OpenFaaS Community Edition's 15 functions is a
 * few KB; a Kubernetes object is at most 1.5 MB.
 */
export const MAX_YAML_SIZE = 1024 * 1024;

const CAP = `${MAX_YAML_SIZE / 1024 / 1024} MiB`;

/** Pure: why a text is too long to be read as YAML, or undefined (also checked before `${VAR}` substitution, which can only add). */
export function textSizeProblem(text: string): string | undefined {
    return text.length > MAX_YAML_SIZE ? `is ${text.length} characters long; at most ${CAP} is read` : undefined;
}

/** Pure: the document's size with every alias expanded, stopping once past `max`; "cycle" when a node contains itself. */
export function expandedSize(doc: unknown, max = MAX_YAML_SIZE): number | "cycle" {
    const sizes = new Map<object, number>();
    const open = new Set<object>();
    let cycle = false;
    const size = (v: unknown): number => {
        if (typeof v === "string") return 1 + v.length;
        if (v === null || typeof v !== "object") return 1;
        const known = sizes.get(v);
        if (known !== undefined) return known;
        if (open.has(v)) {
            cycle = true;
            return Infinity;
        }
        open.add(v);
        let total = 1;
        const entries: [string, unknown][] = Array.isArray(v) ? v.map((c) => ["", c]) : Object.entries(v);
        for (const [k, c] of entries) {
            total += k.length + size(c);
            if (total > max) break; // past the cap: the exact figure does not matter
        }
        open.delete(v);
        sizes.set(v, total);
        return total;
    };
    const total = size(doc);
    return cycle ? "cycle" : total;
}

/**
 * Pure: the documents of a YAML text (one unless `all`), or why they are refused: not YAML, larger
 * than {@link MAX_YAML_SIZE} as written or with aliases expanded, or an alias inside its own anchor.
 */
export function loadYaml(text: string, opts: { file: string; schema?: yaml.Schema; all?: boolean }): { docs: unknown[] } | { error: string } {
    const tooLong = textSizeProblem(text);
    if (tooLong) return { error: tooLong };
    let docs: unknown[];
    try {
        const options = { filename: opts.file, ...(opts.schema ? { schema: opts.schema } : {}) };
        docs = opts.all ? yaml.loadAll(text, undefined, options) : [yaml.load(text, options)];
    } catch (e) {
        return { error: `not valid YAML: ${(e as Error).message.split("\n")[0]}` };
    }
    const size = expandedSize(docs);
    if (size === "cycle") return { error: "an alias (*name) is used inside its own anchor (&name), which makes an endless document; refer to a node only after it is complete" };
    if (size > MAX_YAML_SIZE) return { error: `with its aliases (*name) expanded it is larger than ${CAP} (a YAML alias bomb?); write the repeated parts out or use fewer levels of aliases` };
    return { docs };
}
