/**
 * The reconcile loop's decisions: which revision to apply and when, backoff and Stalled, drift
 * report or correction, one run at a time, and a graceful stop. Time comes from an injected clock
 * and every call returns its decision, so the tests assert decisions rather than wall-clock time.
 *
 * The loop records facts only (what was applied, what failed and why, what the source said); the
 * conditions are derived from those facts in one pure function, {@link deriveConditions}, as the
 * Pulumi Kubernetes Operator does, so no path can leave a stale condition behind.
 */
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
    /** The source's current problem; cleared by the next successful check. */
    sourceError?: { readonly reason: ReasonName; readonly message: string };
    /** Why this replica cannot take part in leader election, if it cannot. */
    leaderElectionError?: string;
    /** The run in progress, if any. */
    running?: { readonly revision: string; readonly trigger: Trigger };
    /** The last drift check: its revision, what differed, whether it was corrected, or its error. */
    drift?: { readonly revision: string; readonly resources: readonly string[]; readonly corrected: boolean; readonly error?: string };
    suspended: boolean;
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
}

export interface ReconcilerDeps {
    readonly source: Source;
    readonly engine: Engine;
    /** Milliseconds since the epoch. */
    readonly clock: () => number;
    readonly isLeader: () => boolean;
    /** Runs before the engine in a fresh checkout (installs dependencies). */
    readonly prepare?: (dir: string, log: (line: string) => void) => Promise<void>;
    /** Called after every status change, with the event to record, if any. */
    readonly onChange?: (status: AgentStatus, event?: AgentEvent, run?: RunRecord) => void | Promise<void>;
    readonly log?: (line: string) => void;
    readonly settings: { readonly backoffBaseMs: number; readonly backoffCapMs: number; readonly stalledAfter: number; readonly driftMode: "correct" | "report" };
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
            return ["True", s.stalledReason, "the git server's host key is not the pinned one; retrying cannot fix that. Fix known_hosts, then sync manually or restart the agent"];
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
    if (d.corrected) return ["False", Reason.Corrected, `drift corrected by re-applying ${short(d.revision)}: ${d.resources.join(", ")}`];
    if (d.resources.length > 0) return ["True", Reason.Drifted, `${d.resources.length} resource(s) differ from ${short(d.revision)}: ${d.resources.join(", ")}`];
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

/**
 * Pure: a persisted status, including one written by an agent before conditions were
 * True/False/Unknown (booleans, no stalledReason, lastError as the only error): its facts are kept,
 * so an upgraded agent neither re-applies nor forgets a stalled revision, and its conditions are
 * derived afresh.
 */
export function fromPersisted(raw: object, now: number): AgentStatus {
    const old = raw as Partial<AgentStatus> & { conditions?: Record<string, { status?: unknown }> };
    const s: AgentStatus = { ...emptyStatus(now), ...old, running: undefined, suspended: old.suspended === true } as AgentStatus;
    if (typeof old.conditions?.Stalled?.status === "boolean") {
        // The boolean format: Stalled=true meant out of retries (or a bad signature), lastError the apply error.
        if (old.conditions.Stalled.status && !old.stalledReason) s.stalledReason = Reason.RetriesExhausted;
        if (!old.applyError && (old.failures ?? 0) > 0) s.applyError = old.lastError;
        s.conditions = emptyStatus(now).conditions;
    }
    return deriveConditions(s, now);
}

/** A failure that retrying cannot fix (a bad signature, an unpinned host key): it stalls at once. */
export class PermanentError extends Error {
    constructor(message: string, readonly reason: ReasonName = Reason.VerificationFailed) {
        super(message);
    }
}

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
    private stopping = false;
    /** The one sync that waits behind the running one; later triggers merge into it. */
    private pending?: { trigger: Trigger; hint?: string; readonly done: Promise<Decision> };

    constructor(private readonly d: ReconcilerDeps, initial?: AgentStatus) {
        this.current = fromPersisted(initial ?? {}, d.clock());
        // A restart keeps the last applied revision (no re-apply) and the backoff of a failing one.
        this.retryAt = this.current.nextRetryAt ? Date.parse(this.current.nextRetryAt) : 0;
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
        await this.d.onChange?.(this.current, event, run);
    }

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
        if (this.current.stalledReason === Reason.HostKeyMismatch && trigger !== "manual") return { action: "stalled", reason: Reason.HostKeyMismatch };
        const checkedAt = new Date(this.d.clock()).toISOString();
        let head: string;
        try {
            head = await this.d.source.head(hint);
        } catch (e) {
            const error = (e as Error).message;
            const reason = e instanceof PermanentError ? e.reason : Reason.SourceUnavailable;
            const stalled = e instanceof PermanentError;
            await this.record({ sourceError: { reason, message: error }, stalledReason: stalled ? reason : this.current.stalledReason, lastCheckedAt: checkedAt }, { type: "Warning", reason, message: error });
            return { action: "source-error", error, stalled };
        }
        const facts: Partial<AgentStatus> = { headRevision: head, sourceError: undefined, lastCheckedAt: checkedAt };
        if (this.current.stalledReason === Reason.HostKeyMismatch) facts.stalledReason = undefined;
        if (head !== this.current.lastAttemptedRevision) {
            // A new revision starts with a clean slate: no backoff, not stalled.
            Object.assign(facts, { failures: 0, stalledReason: undefined, nextRetryAt: undefined, applyError: undefined });
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
        const controller = new AbortController();
        this.running = controller;
        try {
            const dir = await this.d.source.checkout(revision);
            await this.d.source.verify(revision);
            await this.d.prepare?.(dir, log);
            const result = await this.d.engine.up({ dir, revision, signal: controller.signal, log });
            this.retryAt = 0;
            const run = { revision, kind: "apply" as const, result: "succeeded" as const, startedAt: new Date(started).toISOString(), durationMs: this.d.clock() - started };
            await this.record(
                { running: undefined, lastAppliedRevision: revision, failures: 0, applyError: undefined, nextRetryAt: undefined, stalledReason: undefined },
                { type: "Normal", reason: Reason.Applied, message: `applied ${revision}: ${summary(result)}` },
                run,
            );
            return { action: "applied", revision, result };
        } catch (e) {
            const error = (e as Error).message;
            const runBase = { revision, kind: "apply" as const, startedAt: new Date(started).toISOString(), durationMs: this.d.clock() - started, message: error };
            if (e instanceof SourceUnavailableError) {
                await this.record({ running: undefined, sourceError: { reason: Reason.SourceUnavailable, message: error } }, { type: "Warning", reason: Reason.SourceUnavailable, message: error });
                return { action: "source-error", error, stalled: false };
            }
            if (controller.signal.aborted) {
                const why = (controller.signal.reason as Error).message;
                await this.record({ running: undefined }, { type: "Warning", reason: Reason.Cancelled, message: `update of ${revision} cancelled: ${why}; it is retried by the next leader` }, { ...runBase, message: why, result: "cancelled" });
                return { action: "cancelled", revision, reason: why };
            }
            const failures = this.current.failures + 1;
            const stalledReason = e instanceof PermanentError ? e.reason : failures >= this.d.settings.stalledAfter ? Reason.RetriesExhausted : undefined;
            this.retryAt = this.d.clock() + backoffDelay(failures, this.d.settings.backoffBaseMs, this.d.settings.backoffCapMs);
            await this.record(
                { running: undefined, failures, applyError: error, stalledReason, nextRetryAt: stalledReason ? undefined : new Date(this.retryAt).toISOString() },
                { type: "Warning", reason: stalledReason ?? Reason.ApplyFailed, message: `${revision}: ${error}` },
                { ...runBase, result: "failed" },
            );
            return { action: "failed", revision, error, retryAt: this.retryAt, stalled: stalledReason !== undefined };
        } finally {
            this.running = undefined;
        }
    }

    /** Compares the cluster with the applied revision; corrects drift unless the mode is report. */
    checkDrift(): Promise<Decision> {
        if (this.stopping) return Promise.resolve({ action: "stopping" });
        return this.serial(async () => {
            if (!this.d.isLeader()) return { action: "not-leader" } as const;
            if (this.current.suspended) return { action: "suspended" } as const;
            const revision = this.current.lastAppliedRevision;
            if (!revision) return { action: "drift-skipped", reason: "no revision applied yet" } as const;
            const log = this.d.log ?? (() => undefined);
            const started = this.d.clock();
            const controller = new AbortController();
            this.running = controller;
            try {
                const dir = await this.d.source.checkout(revision);
                await this.d.prepare?.(dir, log);
                const found = await this.d.engine.detectDrift({ dir, revision, signal: controller.signal, log });
                const at = new Date(started).toISOString();
                if (!hasChanges(found)) {
                    await this.record({ drift: { revision, resources: [], corrected: false } }, undefined, { revision, kind: "drift-check", result: "no-drift", startedAt: at, durationMs: this.d.clock() - started });
                    return { action: "no-drift" } as const;
                }
                const resources = [...found.changed];
                await this.record(
                    { drift: { revision, resources, corrected: false } },
                    { type: "Warning", reason: Reason.DriftDetected, message: `drift from ${revision}: ${resources.join(", ")}` },
                    { revision, kind: "drift-check", result: "drift", startedAt: at, durationMs: this.d.clock() - started, message: resources.join(", ") },
                );
                if (this.d.settings.driftMode === "report") return { action: "drift-reported", resources } as const;
                const correctStart = this.d.clock();
                await this.d.engine.correctDrift({ dir, revision, signal: controller.signal, log });
                await this.record(
                    { drift: { revision, resources, corrected: true } },
                    { type: "Normal", reason: Reason.DriftCorrected, message: `re-applied ${revision}: ${resources.join(", ")}` },
                    { revision, kind: "drift-correct", result: "succeeded", startedAt: new Date(correctStart).toISOString(), durationMs: this.d.clock() - correctStart },
                );
                return { action: "drift-corrected", resources } as const;
            } catch (e) {
                const error = controller.signal.aborted ? `drift check cancelled: ${(controller.signal.reason as Error).message}` : (e as Error).message;
                await this.record(
                    { drift: { revision, resources: [], corrected: false, error } },
                    { type: "Warning", reason: Reason.DriftCheckFailed, message: error },
                    { revision, kind: "drift-check", result: controller.signal.aborted ? "cancelled" : "failed", startedAt: new Date(started).toISOString(), durationMs: this.d.clock() - started, message: error },
                );
                return { action: "drift-skipped", reason: error } as const;
            } finally {
                this.running = undefined;
            }
        });
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
     * replica's own.
     */
    adoptLeaderStatus(load: () => Promise<AgentStatus | undefined>): Promise<void> {
        return this.serial(async () => {
            const persisted = await load();
            if (!persisted) return;
            const p = fromPersisted(persisted, this.d.clock());
            this.retryAt = p.nextRetryAt ? Date.parse(p.nextRetryAt) : 0;
            await this.record({
                lastAppliedRevision: p.lastAppliedRevision,
                lastAttemptedRevision: p.lastAttemptedRevision,
                failures: p.failures,
                nextRetryAt: p.nextRetryAt,
                applyError: p.applyError,
                stalledReason: p.stalledReason,
                drift: p.drift,
                suspended: p.suspended,
                history: p.history,
            });
        });
    }

    /** Records whether this replica can take part in leader election (undefined: it can). */
    async leaderElection(error: string | undefined): Promise<void> {
        if (error === this.current.leaderElectionError) return;
        await this.record({ leaderElectionError: error }, error ? { type: "Warning", reason: Reason.LeaderElectionFailed, message: error } : undefined);
    }

    /** Suspends or resumes reconciliation (polls, webhooks, manual syncs and drift checks). */
    async suspend(suspended: boolean): Promise<void> {
        if (suspended === this.current.suspended) return;
        await this.record({ suspended }, { type: "Normal", reason: suspended ? Reason.Suspended : Reason.Resumed, message: suspended ? "reconciliation suspended" : "reconciliation resumed" });
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

function summary(r: RunResult): string {
    const parts = Object.entries(r.changes).filter(([op, n]) => op !== "same" && n > 0).map(([op, n]) => `${n} ${op}`);
    return parts.length > 0 ? parts.join(", ") : "no changes";
}
