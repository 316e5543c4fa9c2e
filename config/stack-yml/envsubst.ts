/**
 * `${VAR}` substitution in a stack.yml, as faas-cli does it by default (`--envsubst`, drone/envsubst
 * over the whole file text before YAML parsing). The values come from the stack's `functionsEnv`
 * config, not from the environment of whoever runs the program: in a GitOps run that is the agent,
 * whose environment says nothing about the functions.
 *
 * Differences from faas-cli, on purpose: an unset variable without a default is an error naming it
 * (faas-cli silently substitutes ""), and drone's bash string functions (`${V^^}`, `${V:1:2}`,
 * `${V/a/b}`, `${#V}`, ...) are refused by name instead of half-supported.
 */

/** A variable reference the stack's values cannot satisfy, or a form this project does not support. */
export interface SubstitutionProblem {
    /** 1-based line of the `${` in the file. */
    readonly line: number;
    readonly what: string;
    /** A reference to a variable with no value (as opposed to bad syntax). */
    readonly unset?: boolean;
}

/** A variable name, matched where a reference starts (sticky: no copy of the rest of the text per reference). */
const NAME = /[A-Za-z0-9_]+/y;
/** drone/envsubst's default operators; all mean "the value unless empty, else the default". */
const DEFAULT_OPS = [":-", ":=", "="] as const;
/** Deepest `${A:-${B:-...}}` nesting read; each level is a stack frame, and no real file comes near it. */
const MAX_DEFAULT_DEPTH = 32;

/**
 * Pure: `text` with every `${...}` replaced from `values`. `$$` is drone's escape for a literal `$`
 * (so `$${X}` stays `${X}`); a `$` not followed by `{` is kept, as drone keeps it. Linear in the text
 * (plus what is substituted): line numbers come from one index of the newlines, and unchanged text is
 * copied in runs.
 */
export function substitute(text: string, values: Readonly<Record<string, string>>): { text: string; problems: SubstitutionProblem[] } {
    const problems: SubstitutionProblem[] = [];
    const newlines: number[] = [];
    for (let n = text.indexOf("\n"); n >= 0; n = text.indexOf("\n", n + 1)) newlines.push(n);
    /** 1-based line of offset `i`: one more than the newlines before it. */
    const lineAt = (i: number) => {
        let lo = 0;
        let hi = newlines.length;
        while (lo < hi) {
            const mid = (lo + hi) >> 1;
            if (newlines[mid]! < i) lo = mid + 1;
            else hi = mid;
        }
        return lo + 1;
    };

    /** Expands from `i` until `stop` (a closing brace of a default) or the end; returns the text and where it stopped. */
    function expand(i: number, stop: string | undefined, depth: number): { out: string; end: number } {
        const parts: string[] = [];
        let run = i; // start of the text not yet copied
        while (i < text.length) {
            const c = text[i]!;
            if (stop !== undefined && c === stop) {
                parts.push(text.slice(run, i));
                return { out: parts.join(""), end: i };
            }
            if (c === "$" && text[i + 1] === "$") {
                parts.push(text.slice(run, i), "$");
                i += 2;
                run = i;
                continue;
            }
            if (c === "$" && text[i + 1] === "{") {
                parts.push(text.slice(run, i));
                const r = reference(i, depth);
                parts.push(r.out);
                i = r.end;
                run = i;
                continue;
            }
            i++;
        }
        parts.push(text.slice(run, i));
        if (stop !== undefined) problems.push({ line: lineAt(i), what: "a ${ is never closed with }" });
        return { out: parts.join(""), end: i };
    }

    /** One `${...}` starting at `start` (the `$`), inside `depth` defaults. */
    function reference(start: number, depth: number): { out: string; end: number } {
        const line = lineAt(start);
        NAME.lastIndex = start + 2;
        const name = NAME.exec(text)?.[0];
        if (!name) {
            const close = text.indexOf("}", start);
            problems.push({ line, what: `"${text.slice(start, close < 0 ? start + 10 : close + 1)}" is not a variable reference; expected \${NAME} or \${NAME:-default} (write $\${ for a literal \${)` });
            return { out: "", end: close < 0 ? text.length : close + 1 };
        }
        const i = start + 2 + name.length;
        if (i >= text.length) {
            problems.push({ line, what: `"\${${name}" is never closed with }` });
            return { out: "", end: i };
        }
        const value = Object.prototype.hasOwnProperty.call(values, name) ? values[name] : undefined;
        if (text[i] === "}") {
            if (value === undefined) problems.push({ line, unset: true, what: `\${${name}} is not set: add ${name} to the functionsEnv config map (pulumi config set --path 'functionsEnv.${name}' <value>), or give a default: \${${name}:-<default>}` });
            return { out: value ?? "", end: i + 1 };
        }
        const op = DEFAULT_OPS.find((o) => text.startsWith(o, i));
        if (!op) {
            const close = text.indexOf("}", i);
            problems.push({ line, what: `"${text.slice(start, close < 0 ? i + 1 : close + 1)}": only \${NAME}, \${NAME:-default}, \${NAME:=default} and \${NAME=default} are supported here, not drone/envsubst's string functions; compute the value into functionsEnv instead` });
            return { out: "", end: close < 0 ? text.length : close + 1 };
        }
        // The default may itself hold references, as in drone: ${A:-${B}}. An unset one only
        // matters when the default is used.
        if (depth >= MAX_DEFAULT_DEPTH) {
            problems.push({ line, what: `defaults are nested more than ${MAX_DEFAULT_DEPTH} deep (\${A:-\${B:-...}}); compute the value into functionsEnv instead` });
            return { out: "", end: text.length };
        }
        const before = problems.length;
        const def = expand(i + op.length, "}", depth + 1);
        const useDefault = value === undefined || value === "";
        if (!useDefault) {
            // Kept one by one, never spread into a call: a default can hold hundreds of thousands of problems.
            const kept = problems.slice(before).filter((p) => !p.unset);
            problems.length = before;
            for (const p of kept) problems.push(p);
        }
        return { out: useDefault ? def.out : value, end: def.end + 1 };
    }

    const { out } = expand(0, undefined, 0);
    return { text: out, problems };
}
