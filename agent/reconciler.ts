/**
 * The reconcile loop's decisions: which revision to apply and when, backoff and Stalled, drift
 * report or correction, one run at a time, and a graceful stop. Time comes from an injected clock
 * and every call returns its decision, so the tests assert decisions rather than wall-clock time.
 *
 * The loop records facts only (what was applied, what failed and why, what the source said); the
 * conditions are derived from those facts in one pure function, {@link deriveConditions}, as the
 * Pulumi Kubernetes Operator does, so no path can leave a stale condition behind.
 */
import Ajv from "ajv";
import { redactUrls } from "../model/git";
import { Engine, hasChanges, RunResult } from "./engine";

/** What started a sync: a timer, a push webhook, a person, or a change seen on a Kubernetes watch (Flux source). */
export type Trigger = "poll" | "webhook" | "manual" | "watch";
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
    /** Derived from the facts above by {@link deriveConditions}; never set directly. */
    conditions: Record<ConditionType, Condition>;
    /** The last 10 runs, newest first. */
    history: RunRecord[];
}

export type Decision =
    | { readonly action: "applied"; readonly revision: string; readonly result: RunResult }
    | { readonly action: "failed"; readonly revision: string; readonly error: string; readonly retryAt: number; readonly stalled: boolean }
    | { readonly action: "cancelled"; readonly revision: string; readonly reason: string }
    | { readonly action: "up-to-date"; readonly revision: string }
    | { readonly action: "waiting"; readonly revision: string; readonly retryAt: number }
    | { readonly action: "stalled"; readonly reason: ReasonName }
    | { readonly action: "source-error"; readonly error: string; readonly stalled: boolean }
    | { readonly action: "suspended" }
    | { readonly action: "not-leader" }
    | { readonly action: "stopping" }
    | { readonly action: "no-drift" }
    | { readonly action: "drift-reported"; readonly resources: readonly string[] }
    | { readonly action: "drift-corrected"; readonly resources: readonly string[] }
    | { readonly action: "drift-skipped"; readonly reason: string };

export interface AgentEvent {
    readonly type: "Normal" | "Warning";
    readonly reason: string;
    readonly message: string;
}

export interface Source {
    /**
     * The branch head. With `hint` (a push payload's `after`), the source may confirm that revision
     * is on the branch instead of asking the remote for the head separately.
     */
    head(hint?: string): Promise<string>;
    checkout(revision: string): Promise<string>;
    verify(revision: string): Promise<void>;
    /**
     * The digest of the artifact behind the revision `head()` last returned, for a source that
     * publishes artifacts (Flux): a `DigestMismatch` stall holds for one artifact, not its revision.
     */
    artifact?(): string | undefined;
}

export interface ReconcilerDeps {
    readonly source: Source;
    readonly engine: Engine;
    /** Milliseconds since the epoch. */
    readonly clock: () => number;
    readonly isLeader: () => boolean;
    /** Runs before the engine in a fresh checkout (installs dependencies); the signal is the run's (its deadline, a leadership loss, shutdown), so an install that hangs is stopped with the run. */
    readonly prepare?: (dir: string, log: (line: string) => void, signal?: AbortSignal) => Promise<void>;
    /** Called after every status change, with the event to record, if any. */
    readonly onChange?: (status: AgentStatus, event?: AgentEvent, run?: RunRecord) => void | Promise<void>;
    readonly log?: (line: string) => void;
    readonly settings: {
        readonly backoffBaseMs: number;
        readonly backoffCapMs: number;
        readonly stalledAfter: number;
        readonly driftMode: "correct" | "report";
        /** agent.suspend: desired state, applied at start ({@link Reconciler.applySuspendSetting}) and when this replica becomes leader. */
        readonly suspend?: boolean;
        /** The longest one run (checkout, install, engine) may take before it is stopped as a failure; unset: no limit. */
        readonly runTimeoutMs?: number;
    };
}

/** Pure: the wait before retrying after `failures` consecutive failures (exponential, capped). */
export function backoffDelay(failures: number, baseMs: number, capMs: number): number {
    return Math.min(capMs, baseMs * 2 ** Math.max(0, failures - 1));
}

/** Pure: `ms` spread by up to 10% either way (`random` in [0, 1)), as Flux jitters its requeues. */
export function jittered(ms: number, random: () => number = Math.random): number {
    return Math.round(ms * (0.9 + 0.2 * random()));
}

/** A revision for messages: its hash cut to 12 digits, a Flux revision keeping its ref (`main@sha1:0123456789ab`). */
export const short = (r?: string) => (r ?? "").replace(/([0-9a-f]{12})[0-9a-f]+$/, "$1");

type Verdict = readonly [ConditionStatus, ReasonName, string];

function ready(s: AgentStatus): Verdict {
    if (s.leaderElectionError) return ["False", Reason.LeaderElectionFailed, s.leaderElectionError];
    if (s.running) return ["Unknown", Reason.Progressing, `applying ${short(s.running.revision)} (${s.running.trigger})`];
    if (s.sourceError) return ["False", s.sourceError.reason, s.sourceError.message];
    if (s.failures > 0 && s.applyError) return ["False", s.stalledReason ?? Reason.ApplyFailed, s.applyError];
    if (s.lastAppliedRevision) {
        const suspended = s.suspended ? "; reconciliation is suspended" : "";
        return ["True", Reason.Applied, `revision ${short(s.lastAppliedRevision)} is applied${suspended}`];
    }
    return ["Unknown", s.suspended ? Reason.Suspended : Reason.Starting, s.suspended ? "reconciliation is suspended" : "no revision applied yet"];
}

function stalled(s: AgentStatus): Verdict {
    switch (s.stalledReason) {
        case undefined:
            return ["False", Reason.NotStalled, ""];
        case Reason.HostKeyMismatch:
            return ["True", s.stalledReason, "the git server's host key is not the pinned one; polls and webhooks stop asking it. Fix known_hosts (agent.knownHosts), then sync manually or restart the agent: the first check after a start asks the server again"];
        case Reason.VerificationFailed:
            return ["True", s.stalledReason, `revision ${short(s.lastAttemptedRevision)} does not verify; waiting for a new revision`];
        case Reason.DigestMismatch:
            return ["True", s.stalledReason, `the artifact of ${short(s.lastAttemptedRevision)} does not have the digest Flux advertised; nothing of it was applied; waiting for a new artifact`];
        default:
            return ["True", s.stalledReason, `revision ${short(s.lastAttemptedRevision)} failed ${s.failures} time(s); waiting for a new revision or a manual sync`];
    }
}

function reconciling(s: AgentStatus): Verdict {
    if (s.running) return ["True", Reason.Progressing, `applying ${short(s.running.revision)} (${s.running.trigger})`];
    if (s.suspended) return ["False", Reason.Suspended, "reconciliation is suspended"];
    return ["False", Reason.Idle, ""];
}

function drifted(s: AgentStatus): Verdict {
    const d = s.drift;
    if (!d || d.revision !== s.lastAppliedRevision) return ["Unknown", Reason.NotChecked, s.lastAppliedRevision ? `not checked since ${short(s.lastAppliedRevision)} was applied` : ""];
    if (d.error) return ["Unknown", Reason.DriftCheckFailed, d.error];
    const listed = `${d.resources.join(", ")}${d.unlisted ? ` and ${d.unlisted} more` : ""}`;
    if (d.corrected) return ["False", Reason.Corrected, `drift corrected by re-applying ${short(d.revision)}: ${listed}`];
    if (d.resources.length > 0) return ["True", Reason.Drifted, `${d.resources.length + (d.unlisted ?? 0)} resource(s) differ from ${short(d.revision)}: ${listed}`];
    return ["False", Reason.InSync, `the cluster matches ${short(d.revision)}`];
}

const DERIVE: Record<ConditionType, (s: AgentStatus) => Verdict> = { Ready: ready, Reconciling: reconciling, Stalled: stalled, DriftDetected: drifted };

/**
 * Pure: the status with its derived parts (conditions, lastError, driftedResources) computed from
 * its facts. A condition keeps its lastTransitionTime while its status stays the same.
 */
export function deriveConditions(s: AgentStatus, now: number): AgentStatus {
    const at = new Date(now).toISOString();
    const conditions = Object.fromEntries(
        CONDITIONS.map((type) => {
            const [status, reason, message] = DERIVE[type](s);
            const prev = s.conditions?.[type];
            return [type, { status, reason, message, lastTransitionTime: prev?.status === status ? prev.lastTransitionTime : at }];
        }),
    ) as Record<ConditionType, Condition>;
    const lastError = s.leaderElectionError ?? s.sourceError?.message ?? (s.failures > 0 ? s.applyError : undefined) ?? s.drift?.error;
    const driftedResources = s.drift && !s.drift.corrected && !s.drift.error ? [...s.drift.resources] : [];
    return { ...s, conditions, lastError, driftedResources };
}

export function emptyStatus(now: number): AgentStatus {
    return deriveConditions({ failures: 0, suspended: false, driftedResources: [], history: [], conditions: undefined as never }, now);
}

/** The most characters of one error or run message the status keeps; the log has the whole text. */
export const MAX_TEXT = 4096;
/** Drifted resources the status lists by name; the rest are counted (`drift.unlisted`). */
export const MAX_LISTED_RESOURCES = 100;
/** The most characters of a revision or a resource name the status keeps. */
const MAX_NAME = 512;

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

const capName = (name: string) => (name.length > MAX_NAME ? `${name.slice(0, MAX_NAME - 3)}...` : name);

// What a status ConfigMap may hold, field by field (written by this agent, an older one, or a
// person with kubectl): each field that does not fit is dropped, the rest kept.
const TIME = { type: "string", pattern: "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?Z$" };
const REVISION = { type: "string", minLength: 1, maxLength: MAX_NAME };
const TEXT = { type: "string" };
const REASON = { enum: Object.values(Reason) };
const CONDITION = {
    type: "object",
    required: ["status"],
    // Booleans: the format of agents before conditions were True/False/Unknown.
    properties: { status: { enum: ["True", "False", "Unknown", true, false] }, reason: TEXT, message: TEXT, lastTransitionTime: TIME },
};
const RUN = {
    type: "object",
    required: ["revision", "kind", "result", "startedAt", "durationMs"],
    additionalProperties: false,
    properties: {
        revision: REVISION,
        kind: { enum: ["apply", "drift-check", "drift-correct"] },
        result: { enum: ["succeeded", "failed", "cancelled", "drift", "no-drift"] },
        startedAt: TIME,
        durationMs: { type: "number", minimum: 0 },
        message: TEXT,
    },
};
const PERSISTED_STATUS = {
    type: "object",
    additionalProperties: false,
    properties: {
        headRevision: REVISION,
        lastAppliedRevision: REVISION,
        lastAttemptedRevision: REVISION,
        failures: { type: "integer", minimum: 0 },
        nextRetryAt: TIME,
        applyError: TEXT,
        stalledReason: REASON,
        stalledArtifact: { type: "string", maxLength: 128 },
        sourceError: { type: "object", required: ["reason", "message"], additionalProperties: false, properties: { reason: REASON, message: TEXT } },
        leaderElectionError: TEXT,
        drift: {
            type: "object",
            required: ["revision", "resources", "corrected"],
            additionalProperties: false,
            properties: { revision: REVISION, resources: { type: "array", items: TEXT }, unlisted: { type: "integer", minimum: 0 }, corrected: { type: "boolean" }, error: TEXT },
        },
        suspended: { type: "boolean" },
        suspendedBy: { enum: ["setting", "request"] },
        lastCheckedAt: TIME,
        conditions: { type: "object", properties: Object.fromEntries(CONDITIONS.map((c) => [c, CONDITION])) },
        history: { type: "array", items: RUN },
        // Derived, so not read back (lastError only from the boolean format); a run is never resumed.
        lastError: TEXT,
        driftedResources: {},
        running: {},
    },
};
const validatePersisted = new Ajv({ allErrors: true, strict: true }).compile(PERSISTED_STATUS);
const fits = (fields: object): boolean => validatePersisted(fields);

/**
 * Pure: the fields of `raw` that fit {@link PERSISTED_STATUS}, and the names of those that did not
 * (`history[3]` for one run record; never a value: a status may hold anything).
 */
function validFields(raw: unknown): { fields: Record<string, unknown>; dropped: string[] } {
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return { fields: {}, dropped: raw === undefined ? [] : [`the whole status (a JSON ${raw === null ? "null" : Array.isArray(raw) ? "array" : typeof raw}, not an object)`] };
    const fields: Record<string, unknown> = { ...raw };
    const dropped: string[] = [];
    // Dropping a field or a run never makes another invalid; a second pass only confirms.
    for (let pass = 0; pass < 2 && !fits(fields); pass++) {
        const runs = new Set<number>();
        for (const e of validatePersisted.errors ?? []) {
            const [field, index] = e.instancePath.split("/").slice(1);
            if (field === "history" && index !== undefined) runs.add(Number(index));
            else if (field !== undefined) delete fields[field];
            else if (e.keyword === "additionalProperties") delete fields[(e.params as { additionalProperty: string }).additionalProperty];
            else continue;
            dropped.push(field === "history" && index !== undefined ? `history[${index}]` : (field ?? (e.params as { additionalProperty: string }).additionalProperty));
        }
        if (runs.size > 0) fields.history = (fields.history as unknown[]).filter((_, i) => !runs.has(i));
    }
    if (!fits(fields)) return { fields: {}, dropped: ["the whole status"] };
    // A name is not a value, but the log line stays short whatever the ConfigMap holds.
    const names = [...new Set(dropped)].map((d) => capName(d).slice(0, 64));
    return { fields, dropped: names.length > 20 ? [...names.slice(0, 20), `and ${names.length - 20} more`] : names };
}

/** What was read from a status ConfigMap: a usable status, and the fields that had to be dropped. */
export interface PersistedStatus {
    readonly status: AgentStatus;
    readonly dropped: readonly string[];
}

/**
 * Pure, and never throws: a persisted status as the agent can use it, whatever `raw` is. Each field
 * is checked against the schema, kept if it fits, dropped (and named in `dropped`) if not, so a
 * damaged or hand-edited ConfigMap costs only its bad fields. A status written by an agent before
 * conditions were True/False/Unknown (booleans, no stalledReason, lastError as the only error) keeps
 * its facts, so an upgraded agent neither re-applies nor forgets a stalled revision. Texts are capped
 * as when recorded (an older agent stored them whole), and the conditions are derived afresh.
 */
export function readPersisted(raw: unknown, now: number): PersistedStatus {
    const { fields, dropped } = validFields(raw);
    const old = fields as Partial<AgentStatus> & { conditions?: Record<string, { status?: unknown }> };
    const cap = (t?: string) => (t === undefined ? undefined : capText(t));
    const s: AgentStatus = {
        ...emptyStatus(now),
        ...old,
        running: undefined,
        suspended: old.suspended === true,
        applyError: cap(old.applyError),
        leaderElectionError: cap(old.leaderElectionError),
        sourceError: old.sourceError && { reason: old.sourceError.reason, message: capText(old.sourceError.message) },
        drift: old.drift && driftRecord(old.drift.revision, old.drift.resources, old.drift.corrected, cap(old.drift.error), old.drift.unlisted),
        history: (old.history ?? []).slice(0, 10).map((r) => (r.message === undefined ? r : { ...r, message: capText(r.message) })),
    } as AgentStatus;
    // A suspension from before its cause was recorded is taken as the setting's: re-read at start.
    if (s.suspended && !s.suspendedBy) s.suspendedBy = "setting";
    if (!s.suspended) s.suspendedBy = undefined;
    if (typeof old.conditions?.Stalled?.status === "boolean") {
        // The boolean format: Stalled=true meant out of retries (or a bad signature), lastError the apply error.
        if (old.conditions.Stalled.status && !old.stalledReason) s.stalledReason = Reason.RetriesExhausted;
        if (!old.applyError && (old.failures ?? 0) > 0) s.applyError = cap(old.lastError);
        s.conditions = emptyStatus(now).conditions;
    }
    return { status: deriveConditions(s, now), dropped };
}

/** Pure, and never throws: {@link readPersisted}'s status alone. */
export function fromPersisted(raw: unknown, now: number): AgentStatus {
    return readPersisted(raw, now).status;
}

/** Pure, and never throws: the text of a status ConfigMap's `status.json` (which may not be JSON at all). */
export function parsePersisted(text: string, now: number): PersistedStatus {
    let raw: unknown;
    try {
        raw = JSON.parse(text);
    } catch {
        return { status: emptyStatus(now), dropped: ["the whole status (not JSON)"] };
    }
    return readPersisted(raw, now);
}

/**
 * Pure: the status as the ConfigMap stores it: its facts, each text once. What is derived from them
 * (`lastError`, `driftedResources`, the conditions' messages) is left out and derived again when
 * read (the conditions keep status, reason and transition time, which cannot be); a run's message
 * that the status already holds (the current error, a newer run's) is left out of that run.
 */
export function toPersisted(s: AgentStatus): object {
    const { lastError: _error, driftedResources: _drifted, conditions, history, ...facts } = s;
    const stored = new Set([s.applyError, s.sourceError?.message, s.leaderElectionError, s.drift?.error].filter((t) => t !== undefined));
    return {
        ...facts,
        conditions: Object.fromEntries(CONDITIONS.map((c) => [c, { status: conditions[c].status, reason: conditions[c].reason, lastTransitionTime: conditions[c].lastTransitionTime }])),
        history: history.map((r) => {
            if (r.message === undefined || !stored.has(r.message)) {
                if (r.message !== undefined) stored.add(r.message);
                return r;
            }
            const { message: _message, ...rest } = r;
            return rest;
        }),
    };
}

/** Pure: a drift record as the status keeps it: at most {@link MAX_LISTED_RESOURCES} names, the rest counted. */
function driftRecord(revision: string, resources: readonly string[], corrected: boolean, error?: string, unlisted = 0): NonNullable<AgentStatus["drift"]> {
    const listed = resources.slice(0, MAX_LISTED_RESOURCES).map(capName);
    const more = unlisted + resources.length - listed.length;
    return { revision, resources: listed, ...(more > 0 ? { unlisted: more } : {}), corrected, ...(error !== undefined ? { error } : {}) };
}

/**
 * Pure: an error's text as the agent records it. The engine's and git's output can hold any URL the
 * program or a tool printed (a state backend's, a registry's): a credential in one is redacted before
 * the text reaches the status, an Event or the log.
 */
export function errorText(e: unknown): string {
    return redactUrls(e instanceof Error ? e.message : String(e));
}

/**
 * A failure that retrying cannot fix (a bad signature, an unpinned host key): it stalls at once.
 * `artifact` (a digest) keys the stall on that artifact rather than on the revision.
 */
export class PermanentError extends Error {
    constructor(message: string, readonly reason: ReasonName = Reason.VerificationFailed, readonly artifact?: string) {
        super(message);
    }
}

/** Why a run was stopped at its deadline (AGENT_RUN_TIMEOUT): a failure of the revision, not a cancellation. */
class RunTimeoutError extends Error {}

/**
 * The source cannot be reached right now (e.g. source-controller's artifact server is down): not a
 * failure of the revision, so no backoff or Stalled; the source is reported unavailable and the next
 * check tries again.
 */
export class SourceUnavailableError extends Error {}

export class Reconciler {
    private current: AgentStatus;
    private retryAt = 0;
    private chain: Promise<unknown> = Promise.resolve();
    private running?: AbortController;
    /** The deadline of the running run (one at a time). */
    private runTimer?: NodeJS.Timeout;
    private stopping = false;
    /** The one sync that waits behind the running one; later triggers merge into it. */
    private pending?: { trigger: Trigger; hint?: string; readonly done: Promise<Decision> };
    /** The drift check that waits behind the running work; further ticks share it. */
    private pendingDrift?: Promise<Decision>;
    /**
     * A start (or a new leader) asks the source once even under a HostKeyMismatch stall: the
     * documented remedy is to fix known_hosts and restart, and a restart must then try again.
     */
    private recheckHostKey = true;

    /** `initial`: the persisted status, of any shape (it is validated, see {@link readPersisted}). */
    constructor(private readonly d: ReconcilerDeps, initial?: unknown) {
        this.current = fromPersisted(initial ?? {}, d.clock());
        // A restart keeps the last applied revision (no re-apply) and the backoff of a failing one.
        this.retryAt = this.storedRetryAt(this.current.nextRetryAt);
    }

    /**
     * The next retry a stored status names, at most the backoff cap away: no backoff is longer, and
     * an edited or future-dated status (9999-...) would otherwise keep the failing revision from
     * ever being retried without saying Stalled.
     */
    private storedRetryAt(nextRetryAt: string | undefined): number {
        const at = nextRetryAt ? Date.parse(nextRetryAt) : 0;
        return Number.isFinite(at) ? Math.min(at, this.d.clock() + this.d.settings.backoffCapMs) : 0;
    }

    get status(): AgentStatus {
        return this.current;
    }

    /**
     * Records facts, derives the conditions and reports the change. A check that changed nothing
     * but its time is not reported: an unchanged poll does not write the status ConfigMap.
     */
    private async record(facts: Partial<AgentStatus>, event?: AgentEvent, run?: RunRecord): Promise<void> {
        const history = run ? [run, ...this.current.history].slice(0, 10) : (facts.history ?? this.current.history);
        const before = JSON.stringify({ ...this.current, lastCheckedAt: undefined });
        this.current = deriveConditions({ ...this.current, ...facts, history }, this.d.clock());
        if (!event && !run && JSON.stringify({ ...this.current, lastCheckedAt: undefined }) === before) return;
        // Reported one after another, in the order of the changes: an election error or a suspension
        // is recorded outside the run chain, and its slow write (an apiserver under load) landing
        // after a newer one would leave the stored status without the newer facts (an apply).
        const status = this.current;
        const report = this.reports.then(() => this.d.onChange?.(status, event, run));
        this.reports = report.catch(() => undefined);
        await report;
    }

    /** The status reports in flight, in order ({@link record}). */
    private reports: Promise<unknown> = Promise.resolve();

    /** Runs `fn` after every earlier run: one update at a time. */
    private serial<T>(fn: () => Promise<T>): Promise<T> {
        const next = this.chain.then(fn, fn);
        this.chain = next.catch(() => undefined);
        return next;
    }

    /**
     * Checks the branch and applies its head when needed. While a sync waits behind a running one,
     * further triggers merge into it (a manual trigger upgrades it, a newer hint replaces the old),
     * so a webhook flood queues one sync, not one per delivery.
     */
    sync(trigger: Trigger, hint?: string): Promise<Decision> {
        if (this.stopping) return Promise.resolve({ action: "stopping" });
        if (this.pending) {
            if (trigger === "manual") this.pending.trigger = "manual";
            if (hint) this.pending.hint = hint;
            return this.pending.done;
        }
        const pending: { trigger: Trigger; hint?: string; done: Promise<Decision> } = { trigger, hint, done: undefined as never };
        pending.done = this.serial(() => {
            this.pending = undefined;
            return this.check(pending.trigger, pending.hint);
        });
        this.pending = pending;
        return pending.done;
    }

    private async check(trigger: Trigger, hint?: string): Promise<Decision> {
        if (this.stopping) return { action: "stopping" };
        if (!this.d.isLeader()) return { action: "not-leader" };
        if (this.current.suspended) return { action: "suspended" };
        if (this.current.stalledReason === Reason.HostKeyMismatch && trigger !== "manual" && !this.recheckHostKey) return { action: "stalled", reason: Reason.HostKeyMismatch };
        this.recheckHostKey = false;
        const checkedAt = new Date(this.d.clock()).toISOString();
        let head: string;
        try {
            head = await this.d.source.head(hint);
            // Every revision is stored several times (status, history): a bounded status needs a bounded revision.
            if (head.length > MAX_NAME) throw new Error(`the source gave a revision of ${head.length} characters (${JSON.stringify(head.slice(0, 64))}...); a revision has at most ${MAX_NAME}`);
        } catch (e) {
            const error = errorText(e);
            const reason = e instanceof PermanentError ? e.reason : Reason.SourceUnavailable;
            const stalled = e instanceof PermanentError;
            await this.record({ sourceError: { reason, message: capText(error) }, stalledReason: stalled ? reason : this.current.stalledReason, lastCheckedAt: checkedAt }, { type: "Warning", reason, message: error });
            return { action: "source-error", error, stalled };
        }
        const facts: Partial<AgentStatus> = { headRevision: head, sourceError: undefined, lastCheckedAt: checkedAt };
        if (this.current.stalledReason === Reason.HostKeyMismatch) facts.stalledReason = undefined;
        const artifact = this.d.source.artifact?.();
        const republished = this.current.stalledReason === Reason.DigestMismatch && artifact !== undefined && artifact !== this.current.stalledArtifact;
        if (head !== this.current.lastAttemptedRevision || republished) {
            // A new revision (or a new artifact of a revision whose artifact did not match its digest) starts with a clean slate: no backoff, not stalled.
            Object.assign(facts, { failures: 0, stalledReason: undefined, stalledArtifact: undefined, nextRetryAt: undefined, applyError: undefined });
            this.retryAt = 0;
        }
        if (trigger !== "manual") {
            const stalledReason = "stalledReason" in facts ? facts.stalledReason : this.current.stalledReason;
            const failures = facts.failures ?? this.current.failures;
            let decision: Decision | undefined;
            if (head === this.current.lastAppliedRevision && failures === 0) decision = { action: "up-to-date", revision: head };
            else if (stalledReason) decision = { action: "stalled", reason: stalledReason };
            else if (failures > 0 && this.d.clock() < this.retryAt) decision = { action: "waiting", revision: head, retryAt: this.retryAt };
            if (decision) {
                await this.record(facts);
                return decision;
            }
        }
        this.current = { ...this.current, ...facts };
        return this.apply(head, trigger);
    }

    private async apply(revision: string, trigger: Trigger): Promise<Decision> {
        const started = this.d.clock();
        const log = this.d.log ?? (() => undefined);
        await this.record({ lastAttemptedRevision: revision, running: { revision, trigger } }, { type: "Normal", reason: Reason.Progressing, message: `applying ${revision} (${trigger})` });
        const controller = this.startRun();
        try {
            const dir = await this.d.source.checkout(revision);
            await this.d.source.verify(revision);
            await this.d.prepare?.(dir, log, controller.signal);
            const result = await this.d.engine.up({ dir, revision, signal: controller.signal, log });
            this.retryAt = 0;
            const run = { revision, kind: "apply" as const, result: "succeeded" as const, startedAt: new Date(started).toISOString(), durationMs: this.d.clock() - started };
            await this.record(
                { running: undefined, lastAppliedRevision: revision, failures: 0, applyError: undefined, nextRetryAt: undefined, stalledReason: undefined, stalledArtifact: undefined },
                { type: "Normal", reason: Reason.Applied, message: `applied ${revision}: ${summary(result)}` },
                run,
            );
            return { action: "applied", revision, result };
        } catch (e) {
            // The status keeps the error capped (every record of it the same text); Events and the log get it whole.
            const timedOut = controller.signal.reason instanceof RunTimeoutError;
            const error = timedOut ? (controller.signal.reason as Error).message : errorText(e);
            const stored = capText(error);
            const runBase = { revision, kind: "apply" as const, startedAt: new Date(started).toISOString(), durationMs: this.d.clock() - started, message: stored };
            if (e instanceof SourceUnavailableError) {
                await this.record({ running: undefined, sourceError: { reason: Reason.SourceUnavailable, message: stored } }, { type: "Warning", reason: Reason.SourceUnavailable, message: error });
                return { action: "source-error", error, stalled: false };
            }
            if (controller.signal.aborted && !timedOut) {
                const why = (controller.signal.reason as Error).message;
                await this.record({ running: undefined }, { type: "Warning", reason: Reason.Cancelled, message: `update of ${revision} cancelled: ${why}; it is retried by the next leader` }, { ...runBase, message: capText(why), result: "cancelled" });
                return { action: "cancelled", revision, reason: why };
            }
            const failures = this.current.failures + 1;
            const stalledReason = e instanceof PermanentError ? e.reason : failures >= this.d.settings.stalledAfter ? Reason.RetriesExhausted : undefined;
            this.retryAt = this.d.clock() + backoffDelay(failures, this.d.settings.backoffBaseMs, this.d.settings.backoffCapMs);
            const stalledArtifact = e instanceof PermanentError ? e.artifact : undefined;
            await this.record(
                { running: undefined, failures, applyError: stored, stalledReason, stalledArtifact, nextRetryAt: stalledReason ? undefined : new Date(this.retryAt).toISOString() },
                { type: "Warning", reason: stalledReason ?? Reason.ApplyFailed, message: `${revision}: ${error}` },
                { ...runBase, result: "failed" },
            );
            return { action: "failed", revision, error, retryAt: this.retryAt, stalled: stalledReason !== undefined };
        } finally {
            this.endRun();
        }
    }

    /**
     * The abort controller of a run, armed with the run deadline: a program or an install that never
     * finishes would otherwise hold every later sync (one run at a time) until someone restarts the agent.
     */
    private startRun(): AbortController {
        const controller = new AbortController();
        this.running = controller;
        const ms = this.d.settings.runTimeoutMs;
        if (ms !== undefined) {
            this.runTimer = setTimeout(() => controller.abort(new RunTimeoutError(`the run took longer than AGENT_RUN_TIMEOUT (${Math.round(ms / 1000)} s) and was stopped; it counts as a failure. If updates really take that long, raise AGENT_RUN_TIMEOUT`)), ms);
            this.runTimer.unref();
        }
        return controller;
    }

    private endRun(): void {
        clearTimeout(this.runTimer);
        this.runTimer = undefined;
        this.running = undefined;
    }

    /**
     * Compares the cluster with the applied revision; corrects drift unless the mode is report.
     * A check that is already waiting its turn is shared: the drift timer fires whatever runs, and
     * each tick queued a full refresh behind a long update, which every later sync waited for.
     */
    checkDrift(): Promise<Decision> {
        if (this.stopping) return Promise.resolve({ action: "stopping" });
        if (this.pendingDrift) return this.pendingDrift;
        const done = this.serial(async () => {
            this.pendingDrift = undefined;
            if (!this.d.isLeader()) return { action: "not-leader" } as const;
            if (this.current.suspended) return { action: "suspended" } as const;
            const revision = this.current.lastAppliedRevision;
            if (!revision) return { action: "drift-skipped", reason: "no revision applied yet" } as const;
            const log = this.d.log ?? (() => undefined);
            const started = this.d.clock();
            const controller = this.startRun();
            try {
                const dir = await this.d.source.checkout(revision);
                await this.d.prepare?.(dir, log, controller.signal);
                const found = await this.d.engine.detectDrift({ dir, revision, signal: controller.signal, log });
                const at = new Date(started).toISOString();
                if (!hasChanges(found)) {
                    await this.record({ drift: driftRecord(revision, [], false) }, undefined, { revision, kind: "drift-check", result: "no-drift", startedAt: at, durationMs: this.d.clock() - started });
                    return { action: "no-drift" } as const;
                }
                const resources = [...found.changed];
                await this.record(
                    { drift: driftRecord(revision, resources, false) },
                    { type: "Warning", reason: Reason.DriftDetected, message: `drift from ${revision}: ${resources.join(", ")}` },
                    { revision, kind: "drift-check", result: "drift", startedAt: at, durationMs: this.d.clock() - started, message: capText(resources.join(", ")) },
                );
                if (this.d.settings.driftMode === "report") return { action: "drift-reported", resources } as const;
                const correctStart = this.d.clock();
                await this.d.engine.correctDrift({ dir, revision, signal: controller.signal, log });
                await this.record(
                    { drift: driftRecord(revision, resources, true) },
                    { type: "Normal", reason: Reason.DriftCorrected, message: `re-applied ${revision}: ${resources.join(", ")}` },
                    { revision, kind: "drift-correct", result: "succeeded", startedAt: new Date(correctStart).toISOString(), durationMs: this.d.clock() - correctStart },
                );
                return { action: "drift-corrected", resources } as const;
            } catch (e) {
                const timedOut = controller.signal.reason instanceof RunTimeoutError;
                const cancelled = controller.signal.aborted && !timedOut;
                const error = timedOut ? (controller.signal.reason as Error).message : cancelled ? `drift check cancelled: ${(controller.signal.reason as Error).message}` : errorText(e);
                await this.record(
                    { drift: driftRecord(revision, [], false, capText(error)) },
                    { type: "Warning", reason: Reason.DriftCheckFailed, message: error },
                    { revision, kind: "drift-check", result: cancelled ? "cancelled" : "failed", startedAt: new Date(started).toISOString(), durationMs: this.d.clock() - started, message: capText(error) },
                );
                return { action: "drift-skipped", reason: error } as const;
            } finally {
                this.endRun();
            }
        });
        this.pendingDrift = done;
        return done;
    }

    /**
     * The Lease was lost (not renewed in time, or taken): another replica may start updating, so a
     * running update is aborted at once rather than racing it.
     */
    leadershipLost(): void {
        this.running?.abort(new Error("leadership was lost"));
    }

    /**
     * This replica has just become the leader: what the previous leader persisted (`load`, the status
     * ConfigMap) replaces what this replica knew of applies, retries, drift and suspension, which it
     * read only at its start. Without it a new leader would apply again a revision already applied,
     * and write back failures and history that are no longer true. Queued like a run, so a sync
     * triggered meanwhile decides on the adopted facts; a status that cannot be read leaves this
     * replica's own. What is loaded goes through the same validation as at start
     * ({@link readPersisted}); suspension is decided as at start ({@link desiredSuspension}), and a
     * HostKeyMismatch stall is checked once again, as at start.
     */
    adoptLeaderStatus(load: () => Promise<unknown>): Promise<void> {
        return this.serial(async () => {
            const persisted = await load();
            if (persisted === undefined) {
                // Nothing stored yet: this replica's facts are the leader's now. Written at once,
                // since a replica that did not lead wrote nothing (not even a suspension at start).
                await this.d.onChange?.(this.current, this.current.suspended ? suspensionEvent(this.current) : undefined);
                return;
            }
            const p = fromPersisted(persisted, this.d.clock());
            this.retryAt = this.storedRetryAt(p.nextRetryAt);
            this.recheckHostKey = true;
            const suspension = desiredSuspension(this.d.settings.suspend === true, p);
            await this.record(
                {
                    lastAppliedRevision: p.lastAppliedRevision,
                    lastAttemptedRevision: p.lastAttemptedRevision,
                    failures: p.failures,
                    nextRetryAt: p.nextRetryAt,
                    applyError: p.applyError,
                    stalledReason: p.stalledReason,
                    stalledArtifact: p.stalledArtifact,
                    drift: p.drift,
                    ...suspension,
                    history: p.history,
                },
                suspension.suspended !== p.suspended ? suspensionEvent(suspension) : undefined,
            );
        });
    }

    /** Records whether this replica can take part in leader election (undefined: it can). */
    async leaderElection(error: string | undefined): Promise<void> {
        const stored = error === undefined ? undefined : capText(error);
        if (stored === this.current.leaderElectionError) return;
        await this.record({ leaderElectionError: stored }, error ? { type: "Warning", reason: Reason.LeaderElectionFailed, message: error } : undefined);
    }

    /**
     * POST /suspend and /resume: suspends or resumes reconciliation (polls, webhooks, manual syncs
     * and drift checks). A suspension by request is kept across restarts until resumed by request;
     * a resume lasts until the next start or leadership change, when agent.suspend applies again.
     */
    async suspend(suspended: boolean): Promise<void> {
        await this.switchSuspension(suspended ? { suspended, suspendedBy: "request" } : { suspended, suspendedBy: undefined });
    }

    /** At start: agent.suspend is desired state, whatever the persisted status says, but a suspension by request stays. */
    async applySuspendSetting(): Promise<void> {
        await this.switchSuspension(desiredSuspension(this.d.settings.suspend === true, this.current));
    }

    private async switchSuspension(next: Suspension): Promise<void> {
        if (next.suspended === this.current.suspended && next.suspendedBy === this.current.suspendedBy) return;
        await this.record(next, next.suspended !== this.current.suspended ? suspensionEvent(next) : undefined);
    }

    /**
     * SIGTERM: no new work; a running update gets `graceMs` to finish, then is cancelled through
     * its abort signal, and this resolves once it has stopped.
     */
    async stop(graceMs: number): Promise<"idle" | "finished" | "cancelled"> {
        this.stopping = true;
        const running = this.running;
        if (!running) return "idle";
        const done = this.chain.then(() => true);
        const timer = new Promise<boolean>((r) => setTimeout(() => r(false), graceMs).unref());
        if (await Promise.race([done, timer])) return "finished";
        running.abort(new Error("the shutdown grace period elapsed"));
        await this.chain;
        return "cancelled";
    }
}

type Suspension = Pick<AgentStatus, "suspended" | "suspendedBy">;

/**
 * Pure: the suspension at a start or a leadership change: a suspension by request (POST /suspend)
 * stays until POST /resume; otherwise agent.suspend decides, as Flux reads spec.suspend on every
 * reconcile.
 */
function desiredSuspension(setting: boolean, persisted: Suspension): Suspension {
    if (persisted.suspended && persisted.suspendedBy === "request") return { suspended: true, suspendedBy: "request" };
    return setting ? { suspended: true, suspendedBy: "setting" } : { suspended: false, suspendedBy: undefined };
}

/** Pure: why reconciliation is suspended, as the Event and the status page say it. */
export function suspensionCause(s: Suspension): string {
    return s.suspendedBy === "request" ? "POST /suspend; POST /resume resumes it" : "agent.suspend (AGENT_SUSPEND) is true";
}

function suspensionEvent(s: Suspension): AgentEvent {
    if (!s.suspended) return { type: "Normal", reason: Reason.Resumed, message: "reconciliation resumed" };
    return { type: "Normal", reason: Reason.Suspended, message: `reconciliation suspended: ${suspensionCause(s)}` };
}

function summary(r: RunResult): string {
    const parts = Object.entries(r.changes).filter(([op, n]) => op !== "same" && n > 0).map(([op, n]) => `${n} ${op}`);
    return parts.length > 0 ? parts.join(", ") : "no changes";
}
