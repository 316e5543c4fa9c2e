/**
 * The one shape of a validation problem, used by every reader (stack config, functions file, stack.yml,
 * SealedSecret manifests) so they are collected and printed alike, never re-parsed from strings.
 */

/** One thing wrong: where it is, the value found there, and what was expected (with the fix). */
export interface Problem {
    /** A config key (`openfaas-gitops:gatewayReplicas`), or a place in a file (`functions/stack.yml functions.f.image`). */
    readonly key: string;
    /** The offending value as given (a secret's redacted: `[secret]`); undefined when missing or already in `expected`. */
    readonly value?: string;
    /** What was expected, and how to fix it. */
    readonly expected: string;
}

/** Collects problems, each located under an optional prefix (a file name). */
export class Problems {
    readonly list: Problem[] = [];
    constructor(private readonly prefix = "") {}

    add(key: string, expected: string, value?: string): void {
        this.list.push({ key: this.prefix + key, expected, ...(value === undefined ? {} : { value }) });
    }

    /** Takes over problems found elsewhere (keys already complete), as they are. */
    addAll(problems: readonly Problem[]): void {
        // One by one, never spread into push(): a file can give more problems than a call takes arguments.
        for (const p of problems) this.list.push(p);
    }
}

/** How much of a value, a location and an explanation a problem keeps: enough to find the place, bounded whatever the input. */
export const PROBLEM_CAPS = { key: 200, value: 100, expected: 1000 } as const;

/**
 * Pure: `text` cut to at most about `max` characters, saying how much was left out. `keepEnd` keeps the
 * last third too: an explanation that echoes a long value still ends with its fix.
 */
export function capText(text: string, max: number, keepEnd = false): string {
    if (text.length <= max) return text;
    const cut = (n: number) => `… [${n} characters left out] …`;
    if (!keepEnd) return `${text.slice(0, max)}${cut(text.length - max)}`;
    const tail = Math.floor(max / 3);
    return `${text.slice(0, max - tail)}${cut(text.length - max)}${text.slice(text.length - tail)}`;
}

/** Pure: the problem with its key, value and explanation capped ({@link PROBLEM_CAPS}); every reader's problems pass through it before they are shown. */
export function capProblem(p: Problem): Problem {
    return {
        key: capText(p.key, PROBLEM_CAPS.key),
        ...(p.value === undefined ? {} : { value: capText(p.value, PROBLEM_CAPS.value) }),
        expected: capText(p.expected, PROBLEM_CAPS.expected, true),
    };
}

/** Pure: a problem as one line, `key = "value": expected`, capped ({@link capProblem}). */
export function formatProblem(problem: Problem): string {
    const p = capProblem(problem);
    return `${p.key}${p.value === undefined ? "" : ` = ${JSON.stringify(p.value)}`}: ${p.expected}`;
}
