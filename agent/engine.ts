/**
 * The narrow interface between the agent and whatever applies a revision: up, a drift check and a
 * drift correction of one checked-out revision for one stack. The loop is tested against a double of it; the
 * Pulumi implementation (pulumi-engine.ts) stays thin.
 */

export interface RunResult {
    /** Resource operations by kind (create, update, delete, replace, same...). */
    readonly changes: Readonly<Record<string, number>>;
    /** Resources that differ (URNs or names), for drift reports and previews. */
    readonly changed: readonly string[];
}

export interface RunContext {
    /** The working tree of the revision. */
    readonly dir: string;
    readonly revision: string;
    readonly signal: AbortSignal;
    /** One line of engine output, streamed to the log. */
    readonly log: (line: string) => void;
}

export interface Engine {
    up(ctx: RunContext): Promise<RunResult>;
    /** What an apply of the revision would change in the cluster as it is now; changes nothing. */
    detectDrift(ctx: RunContext): Promise<RunResult>;
    /** Applies the revision against the cluster as it is now, taking back every field the program sets. */
    correctDrift(ctx: RunContext): Promise<RunResult>;
}

/** Whether a result has any change other than "same". */
export function hasChanges(r: RunResult): boolean {
    return Object.entries(r.changes).some(([op, n]) => op !== "same" && n > 0);
}
