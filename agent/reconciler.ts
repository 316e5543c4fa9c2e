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
import { deriveConditions } from "./conditions";
import { errorText, PermanentError, RunTimeoutError, SourceUnavailableError } from "./errors";
import { fromPersisted } from "./persisted-status";
import { AgentEvent, AgentStatus, capText, driftRecord, MAX_NAME, Reason, ReasonName, RunRecord, Trigger } from "./status";

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

    /** `initial`: the persisted status, of any shape (it is validated, see readPersisted (./persisted-status.ts)). */
    constructor(private readonly deps: ReconcilerDeps, initial?: unknown) {
        this.current = fromPersisted(initial ?? {}, deps.clock());
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
        return Number.isFinite(at) ? Math.min(at, this.deps.clock() + this.deps.settings.backoffCapMs) : 0;
    }

    /** Whether a run is going or waiting: a pull request's preview does not start then (agent/preview-loop.ts). */
    get busy(): boolean {
        return this.running !== undefined || this.pending !== undefined || this.pendingDrift !== undefined;
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
        this.current = deriveConditions({ ...this.current, ...facts, history }, this.deps.clock());
        if (!event && !run && JSON.stringify({ ...this.current, lastCheckedAt: undefined }) === before) return;
        // Reported one after another, in the order of the changes: an election error or a suspension
        // is recorded outside the run chain, and its slow write (an apiserver under load) landing
        // after a newer one would leave the stored status without the newer facts (an apply).
        const status = this.current;
        const report = this.reports.then(() => this.deps.onChange?.(status, event, run));
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
        if (!this.deps.isLeader()) return { action: "not-leader" };
        if (this.current.suspended) return { action: "suspended" };
        if (this.current.stalledReason === Reason.HostKeyMismatch && trigger !== "manual" && !this.recheckHostKey) return { action: "stalled", reason: Reason.HostKeyMismatch };
        this.recheckHostKey = false;
        const checkedAt = new Date(this.deps.clock()).toISOString();
        let head: string;
        try {
            head = await this.deps.source.head(hint);
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
        const artifact = this.deps.source.artifact?.();
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
            else if (failures > 0 && this.deps.clock() < this.retryAt) decision = { action: "waiting", revision: head, retryAt: this.retryAt };
            if (decision) {
                await this.record(facts);
                return decision;
            }
        }
        this.current = { ...this.current, ...facts };
        return this.apply(head, trigger);
    }

    private async apply(revision: string, trigger: Trigger): Promise<Decision> {
        const started = this.deps.clock();
        const log = this.deps.log ?? (() => undefined);
        await this.record({ lastAttemptedRevision: revision, running: { revision, trigger } }, { type: "Normal", reason: Reason.Progressing, message: `applying ${revision} (${trigger})` });
        const controller = this.startRun();
        try {
            const dir = await this.deps.source.checkout(revision);
            await this.deps.source.verify(revision);
            await this.deps.prepare?.(dir, log, controller.signal);
            const result = await this.deps.engine.up({ dir, revision, signal: controller.signal, log });
            this.retryAt = 0;
            const run = { revision, kind: "apply" as const, result: "succeeded" as const, startedAt: new Date(started).toISOString(), durationMs: this.deps.clock() - started };
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
            const runBase = { revision, kind: "apply" as const, startedAt: new Date(started).toISOString(), durationMs: this.deps.clock() - started, message: stored };
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
            const stalledReason = e instanceof PermanentError ? e.reason : failures >= this.deps.settings.stalledAfter ? Reason.RetriesExhausted : undefined;
            this.retryAt = this.deps.clock() + backoffDelay(failures, this.deps.settings.backoffBaseMs, this.deps.settings.backoffCapMs);
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
        const ms = this.deps.settings.runTimeoutMs;
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
     * Runs `fn` on a checkout of the applied revision, in turn with the runs, so no apply replaces
     * the checkout meanwhile. Pull-request previews read the state and the branch's config there
     * (agent/preview-inputs.ts), with the passphrase: only a revision that was verified and applied
     * is trusted so, never a head the agent refused (an unsigned commit under signature checks could
     * name any secrets provider). A checkout is on the work volume only once this process made one:
     * a new pod whose revision was applied by its predecessor has none until this makes it.
     */
    withCheckout<T>(fn: (dir: string) => Promise<T>): Promise<T> {
        return this.serial(async () => {
            const revision = this.current.lastAppliedRevision;
            if (!revision) throw new Error("no revision of the branch is applied yet: previews start after the first apply");
            return fn(await this.deps.source.checkout(revision));
        });
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
            if (!this.deps.isLeader()) return { action: "not-leader" } as const;
            if (this.current.suspended) return { action: "suspended" } as const;
            const revision = this.current.lastAppliedRevision;
            if (!revision) return { action: "drift-skipped", reason: "no revision applied yet" } as const;
            const log = this.deps.log ?? (() => undefined);
            const started = this.deps.clock();
            const controller = this.startRun();
            try {
                const dir = await this.deps.source.checkout(revision);
                await this.deps.prepare?.(dir, log, controller.signal);
                const found = await this.deps.engine.detectDrift({ dir, revision, signal: controller.signal, log });
                const at = new Date(started).toISOString();
                if (!hasChanges(found)) {
                    await this.record({ drift: driftRecord(revision, [], false) }, undefined, { revision, kind: "drift-check", result: "no-drift", startedAt: at, durationMs: this.deps.clock() - started });
                    return { action: "no-drift" } as const;
                }
                const resources = [...found.changed];
                await this.record(
                    { drift: driftRecord(revision, resources, false) },
                    { type: "Warning", reason: Reason.DriftDetected, message: `drift from ${revision}: ${resources.join(", ")}` },
                    { revision, kind: "drift-check", result: "drift", startedAt: at, durationMs: this.deps.clock() - started, message: capText(resources.join(", ")) },
                );
                if (this.deps.settings.driftMode === "report") return { action: "drift-reported", resources } as const;
                const correctStart = this.deps.clock();
                await this.deps.engine.correctDrift({ dir, revision, signal: controller.signal, log });
                await this.record(
                    { drift: driftRecord(revision, resources, true) },
                    { type: "Normal", reason: Reason.DriftCorrected, message: `re-applied ${revision}: ${resources.join(", ")}` },
                    { revision, kind: "drift-correct", result: "succeeded", startedAt: new Date(correctStart).toISOString(), durationMs: this.deps.clock() - correctStart },
                );
                return { action: "drift-corrected", resources } as const;
            } catch (e) {
                const timedOut = controller.signal.reason instanceof RunTimeoutError;
                const cancelled = controller.signal.aborted && !timedOut;
                const error = timedOut ? (controller.signal.reason as Error).message : cancelled ? `drift check cancelled: ${(controller.signal.reason as Error).message}` : errorText(e);
                await this.record(
                    { drift: driftRecord(revision, [], false, capText(error)) },
                    { type: "Warning", reason: Reason.DriftCheckFailed, message: error },
                    { revision, kind: "drift-check", result: cancelled ? "cancelled" : "failed", startedAt: new Date(started).toISOString(), durationMs: this.deps.clock() - started, message: capText(error) },
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
     * (readPersisted (./persisted-status.ts)); suspension is decided as at start ({@link desiredSuspension}), and a
     * HostKeyMismatch stall is checked once again, as at start.
     */
    adoptLeaderStatus(load: () => Promise<unknown>): Promise<void> {
        return this.serial(async () => {
            const persisted = await load();
            if (persisted === undefined) {
                // Nothing stored yet: this replica's facts are the leader's now. Written at once,
                // since a replica that did not lead wrote nothing (not even a suspension at start).
                await this.deps.onChange?.(this.current, this.current.suspended ? suspensionEvent(this.current) : undefined);
                return;
            }
            const p = fromPersisted(persisted, this.deps.clock());
            this.retryAt = this.storedRetryAt(p.nextRetryAt);
            this.recheckHostKey = true;
            const suspension = desiredSuspension(this.deps.settings.suspend === true, p);
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
        await this.switchSuspension(desiredSuspension(this.deps.settings.suspend === true, this.current));
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
