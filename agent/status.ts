/**
 * What the agent reports, as facts: the status model (persisted in the status ConfigMap, rendered
 * on the status page, sent as Events), the reasons it can carry, and how long a text or a name may
 * be in it. The conditions are derived from these facts (./conditions.ts); the stored form is read
 * and written by ./persisted-status.ts; the reconcile loop (./reconciler.ts) records them.
 */

/** What started a sync: a timer, a push webhook, a person, a change seen on a Kubernetes watch (Flux source), or this replica becoming leader. */
export type Trigger = "poll" | "webhook" | "manual" | "watch" | "elected";
export type RunKind = "apply" | "drift-check" | "drift-correct";
export type RunOutcome = "succeeded" | "failed" | "cancelled" | "drift" | "no-drift";

export interface RunRecord {
    readonly revision: string;
    readonly kind: RunKind;
    readonly result: RunOutcome;
    readonly startedAt: string;
    readonly durationMs: number;
    readonly message?: string;
}

/** Kubernetes condition status: Unknown while it cannot be told (e.g. during a run). */
export type ConditionStatus = "True" | "False" | "Unknown";

export interface Condition {
    readonly status: ConditionStatus;
    readonly reason: string;
    readonly message: string;
    readonly lastTransitionTime: string;
}

export const CONDITIONS = ["Ready", "Reconciling", "Stalled", "DriftDetected"] as const;
export type ConditionType = (typeof CONDITIONS)[number];

/** Every reason a condition or Event can carry, written once. */
export const Reason = {
    Starting: "Starting",
    Progressing: "Progressing",
    Applied: "Applied",
    ApplyFailed: "ApplyFailed",
    Cancelled: "Cancelled",
    RetriesExhausted: "RetriesExhausted",
    VerificationFailed: "VerificationFailed",
    DigestMismatch: "DigestMismatch",
    HostKeyMismatch: "HostKeyMismatch",
    SourceUnavailable: "SourceUnavailable",
    LeaderElectionFailed: "LeaderElectionFailed",
    Suspended: "Suspended",
    Resumed: "Resumed",
    Idle: "Idle",
    NotStalled: "NotStalled",
    NotChecked: "NotChecked",
    InSync: "InSync",
    Drifted: "Drifted",
    DriftDetected: "DriftDetected",
    Corrected: "Corrected",
    DriftCorrected: "DriftCorrected",
    DriftCheckFailed: "DriftCheckFailed",
} as const;
export type ReasonName = (typeof Reason)[keyof typeof Reason];

/** Everything the agent reports: persisted in the status ConfigMap, rendered on the status page. */
export interface AgentStatus {
    headRevision?: string;
    lastAppliedRevision?: string;
    lastAttemptedRevision?: string;
    /** Consecutive failures of lastAttemptedRevision. */
    failures: number;
    nextRetryAt?: string;
    /** The error of the last failed apply of lastAttemptedRevision; cleared by a success. */
    applyError?: string;
    /** Set while retrying cannot help: a revision out of retries, a bad signature, a host key. */
    stalledReason?: ReasonName;
    /**
     * The digest of the artifact a `DigestMismatch` stall refers to: the stall holds for that
     * artifact only, so the same revision republished (a new digest) is tried again.
     */
    stalledArtifact?: string;
    /** The source's current problem; cleared by the next successful check. */
    sourceError?: { readonly reason: ReasonName; readonly message: string };
    /** Why this replica cannot take part in leader election, if it cannot. */
    leaderElectionError?: string;
    /** The run in progress, if any. */
    running?: { readonly revision: string; readonly trigger: Trigger };
    /**
     * The last drift check: its revision, what differed (the first {@link MAX_LISTED_RESOURCES};
     * `unlisted` counts the rest), whether it was corrected, or its error.
     */
    drift?: { readonly revision: string; readonly resources: readonly string[]; readonly unlisted?: number; readonly corrected: boolean; readonly error?: string };
    suspended: boolean;
    /**
     * Why it is suspended: `setting` (agent.suspend, desired state, read again at every start and
     * leadership change) or `request` (POST /suspend, kept until POST /resume).
     */
    suspendedBy?: "setting" | "request";
    /** When the branch was last checked (successfully or not). */
    lastCheckedAt?: string;
    /** Derived from the facts above: the current error, if any. */
    lastError?: string;
    driftedResources: string[];
    /** Derived from the facts above by deriveConditions (./conditions.ts); never set directly. */
    conditions: Record<ConditionType, Condition>;
    /** The last 10 runs, newest first. */
    history: RunRecord[];
}

export interface AgentEvent {
    readonly type: "Normal" | "Warning";
    readonly reason: string;
    readonly message: string;
}

/** A revision for messages: its hash cut to 12 digits, a Flux revision keeping its ref (`main@sha1:0123456789ab`). */
export const shortRevision = (r?: string) => (r ?? "").replace(/([0-9a-f]{12})[0-9a-f]+$/, "$1");

/** The most characters of one error or run message the status keeps; the log has the whole text. */
export const MAX_TEXT = 4096;
/** Drifted resources the status lists by name; the rest are counted (`drift.unlisted`). */
export const MAX_LISTED_RESOURCES = 100;
/** The most characters of a revision or a resource name the status keeps. */
export const MAX_NAME = 512;

const CUT_NOTE = (n: number) => `\n[... ${n} characters cut; the agent's log has the whole text ...]\n`;

/**
 * Pure: `text` as the status keeps it: terminal colour codes and other control characters (but
 * newlines and tabs) removed, and at most {@link MAX_TEXT} characters: the first quarter and the
 * last three quarters, with what was cut in between. The head says what failed (`npm ci failed in
 * ...`, the engine's operation); the tail says why, since the Pulumi CLI and npm print their
 * diagnostics and the error last. Lone surrogates become U+FFFD, so no character takes more than
 * 3 bytes in the stored JSON.
 */
export function capText(text: string): string {
    // eslint-disable-next-line no-control-regex
    let t = text.replace(/\x1b\[[0-9;?]*[ -/]*[@-~]/g, "").replace(/[\x00-\x08\x0b-\x1f\x7f]/g, "");
    if (t.length > MAX_TEXT) {
        const room = MAX_TEXT - CUT_NOTE(t.length).length;
        const head = Math.floor(room / 4);
        t = t.slice(0, head) + CUT_NOTE(t.length - room) + t.slice(t.length - (room - head));
    }
    return Buffer.from(t, "utf8").toString("utf8");
}

/** A revision or resource name as the status keeps it: at most {@link MAX_NAME} characters. */
export const capName = (name: string) => (name.length > MAX_NAME ? `${name.slice(0, MAX_NAME - 3)}...` : name);

/** Pure: a drift record as the status keeps it: at most {@link MAX_LISTED_RESOURCES} names, the rest counted. */
export function driftRecord(revision: string, resources: readonly string[], corrected: boolean, error?: string, unlisted = 0): NonNullable<AgentStatus["drift"]> {
    const listed = resources.slice(0, MAX_LISTED_RESOURCES).map(capName);
    const more = unlisted + resources.length - listed.length;
    return { revision, resources: listed, ...(more > 0 ? { unlisted: more } : {}), corrected, ...(error !== undefined ? { error } : {}) };
}
