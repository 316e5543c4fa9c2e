/**
 * The one shape of a validation problem, used by every reader (stack config, functions file, stack.yml,
 * SealedSecret manifests) so they are collected and printed alike, never re-parsed from strings.
 */

/** One thing wrong: where it is, the value found there, and what was expected (with the fix). */
export interface Problem {
    /** A config key (`openfaas-gitops:gatewayReplicas`), or a place in a file (`functions/stack.yml functions.f.image`). */
    readonly key: string;
    /** The offending value as given (secrets shown as `[secret]`); undefined when missing or already in `expected`. */
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
        this.list.push(...problems);
    }
}

/** Pure: a problem as one line, `key = "value": expected`. */
export function formatProblem(p: Problem): string {
    return `${p.key}${p.value === undefined ? "" : ` = ${JSON.stringify(p.value)}`}: ${p.expected}`;
}
