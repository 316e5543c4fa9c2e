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
    /** The Kubernetes objects the run found the program managing (a drift check's and an update's), for the drift gate. */
    readonly objects?: readonly ObjectRef[];
    /** What the policy pack reported, for a run with one (a preview's comment lists them). */
    readonly violations?: readonly PolicyViolation[];
}

/** One policy result as the engine reports it (an advisory one is the CLI's "warning"). */
export interface PolicyViolation {
    readonly policy: string;
    readonly level: "mandatory" | "advisory";
    readonly message: string;
    /** `type::name` of the resource, when the policy names one. */
    readonly resource?: string;
}

/** A Kubernetes object by its API version, kind, namespace (when namespaced) and name. */
export interface ObjectRef {
    readonly apiVersion: string;
    readonly kind: string;
    readonly namespace?: string;
    readonly name: string;
}

/**
 * Pure: the object a Kubernetes provider resource is, from its Pulumi type
 * (`kubernetes:<group>/<version>:<Kind>`, the core group written `core`) and its ID (`<namespace>/<name>`,
 * or `<name>` for a cluster-scoped object); undefined for anything else (providers, components).
 */
export function objectRef(type: string, id: string | undefined): ObjectRef | undefined {
    const m = /^kubernetes:([a-z0-9.-]+)\/([a-z0-9]+):([A-Za-z0-9]+)$/.exec(type);
    if (!m || !id) return undefined;
    const [, group, version, kind] = m as unknown as [string, string, string, string];
    const parts = id.split("/");
    if (parts.length > 2 || parts.some((p) => p === "")) return undefined;
    const apiVersion = group === "core" ? version : `${group}/${version}`;
    return parts.length === 2 ? { apiVersion, kind, namespace: parts[0], name: parts[1]! } : { apiVersion, kind, name: parts[0]! };
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
