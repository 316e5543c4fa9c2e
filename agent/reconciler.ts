/**
 * The reconcile loop's decisions: which revision to apply and when, backoff and Stalled, drift
 * report or correction, one run at a time, and a graceful stop. Time comes from an injected clock
 * and every call returns its decision, so the tests assert decisions rather than wall-clock time.
 */
import { Engine, hasChanges, RunResult } from "./engine";

export type Trigger = "poll" | "webhook" | "manual";
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

export interface Condition {
    readonly status: boolean;
    readonly reason: string;
    readonly message: string;
    readonly lastTransitionTime: string;
}

export const CONDITIONS = ["Ready", "Reconciling", "Stalled", "DriftDetected"] as const;
export type ConditionType = (typeof CONDITIONS)[number];

/** Everything the agent reports: persisted in the status ConfigMap, rendered on the status page. */
export interface AgentStatus {
    headRevision?: string;
    lastAppliedRevision?: string;
    lastAttemptedRevision?: string;
    /** Consecutive failures of lastAttemptedRevision. */
    failures: number;
    nextRetryAt?: string;
    lastError?: string;
    driftedResources: string[];
    conditions: Record<ConditionType, Condition>;
    /** The last 10 runs, newest first. */
    history: RunRecord[];
}

export type Decision =
    | { readonly action: "applied"; readonly revision: string; readonly result: RunResult }
    | { readonly action: "failed"; readonly revision: string; readonly error: string; readonly retryAt: number; readonly stalled: boolean }
    | { readonly action: "cancelled"; readonly revision: string }
    | { readonly action: "up-to-date"; readonly revision: string }
    | { readonly action: "waiting"; readonly revision: string; readonly retryAt: number }
    | { readonly action: "stalled"; readonly revision: string }
    | { readonly action: "source-error"; readonly error: string }
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
    head(): Promise<string>;
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

export function emptyStatus(now: number): AgentStatus {
    const t = new Date(now).toISOString();
    const c = (reason: string, message: string): Condition => ({ status: false, reason, message, lastTransitionTime: t });
    return {
        failures: 0,
        driftedResources: [],
        history: [],
        conditions: {
            Ready: c("Starting", "no revision applied yet"),
            Reconciling: c("Idle", ""),
            Stalled: c("Healthy", ""),
            DriftDetected: c("NotChecked", ""),
        },
    };
}

/** A failure that retrying the same revision cannot fix (e.g. a bad signature). */
export class PermanentError extends Error {}

export class Reconciler {
    readonly status: AgentStatus;
    private stalled = false;
    private retryAt = 0;
    private chain: Promise<unknown> = Promise.resolve();
    private running?: AbortController;
    private stopping = false;

    constructor(private readonly d: ReconcilerDeps, initial?: AgentStatus) {
        this.status = initial ?? emptyStatus(d.clock());
        // A restart keeps the last applied revision (no re-apply) and the backoff of a failing one.
        this.stalled = this.status.conditions.Stalled.status;
        this.retryAt = this.status.nextRetryAt ? Date.parse(this.status.nextRetryAt) : 0;
    }

    private set(type: ConditionType, status: boolean, reason: string, message: string): void {
        const prev = this.status.conditions[type];
        const changed = prev.status !== status;
        this.status.conditions[type] = {
            status,
            reason,
            message,
            lastTransitionTime: changed ? new Date(this.d.clock()).toISOString() : prev.lastTransitionTime,
        };
    }

    private async changed(event?: AgentEvent, run?: RunRecord): Promise<void> {
        if (run) this.status.history = [run, ...this.status.history].slice(0, 10);
        await this.d.onChange?.(this.status, event, run);
    }

    /** Runs `fn` after every earlier run: one update at a time. */
    private serial<T>(fn: () => Promise<T>): Promise<T> {
        const next = this.chain.then(fn, fn);
        this.chain = next.catch(() => undefined);
        return next;
    }

    /** Checks the branch and applies its head when needed. */
    sync(trigger: Trigger): Promise<Decision> {
        if (this.stopping) return Promise.resolve({ action: "stopping" });
        return this.serial(async () => {
            if (this.stopping) return { action: "stopping" } as const;
            if (!this.d.isLeader()) return { action: "not-leader" } as const;
            let head: string;
            try {
                head = await this.d.source.head();
            } catch (e) {
                const error = (e as Error).message;
                this.status.lastError = error;
                this.set("Ready", false, "SourceUnavailable", error);
                await this.changed({ type: "Warning", reason: "SourceUnavailable", message: error });
                return { action: "source-error", error } as const;
            }
            this.status.headRevision = head;
            if (head !== this.status.lastAttemptedRevision) {
                // A new revision starts with a clean slate: no backoff, not stalled.
                this.status.failures = 0;
                this.stalled = false;
                this.retryAt = 0;
                this.status.nextRetryAt = undefined;
            }
            if (trigger !== "manual") {
                if (head === this.status.lastAppliedRevision) return { action: "up-to-date", revision: head } as const;
                if (this.stalled) return { action: "stalled", revision: head } as const;
                if (this.status.failures > 0 && this.d.clock() < this.retryAt) return { action: "waiting", revision: head, retryAt: this.retryAt } as const;
            }
            return this.apply(head, trigger);
        });
    }

    private async apply(revision: string, trigger: Trigger): Promise<Decision> {
        const started = this.d.clock();
        const log = this.d.log ?? (() => undefined);
        this.status.lastAttemptedRevision = revision;
        this.set("Reconciling", true, "Applying", `applying ${revision.slice(0, 12)} (${trigger})`);
        await this.changed({ type: "Normal", reason: "Applying", message: `applying ${revision} (${trigger})` });
        const controller = new AbortController();
        this.running = controller;
        try {
            const dir = await this.d.source.checkout(revision);
            await this.d.source.verify(revision);
            await this.d.prepare?.(dir, log);
            const result = await this.d.engine.up({ dir, revision, signal: controller.signal, log });
            this.status.lastAppliedRevision = revision;
            this.status.failures = 0;
            this.status.lastError = undefined;
            this.status.nextRetryAt = undefined;
            this.stalled = false;
            this.set("Ready", true, "Applied", `revision ${revision.slice(0, 12)} is applied`);
            this.set("Stalled", false, "Healthy", "");
            this.set("Reconciling", false, "Idle", "");
            const run = { revision, kind: "apply" as const, result: "succeeded" as const, startedAt: new Date(started).toISOString(), durationMs: this.d.clock() - started };
            await this.changed({ type: "Normal", reason: "Applied", message: `applied ${revision}: ${summary(result)}` }, run);
            return { action: "applied", revision, result };
        } catch (e) {
            const error = (e as Error).message;
            const runBase = { revision, kind: "apply" as const, startedAt: new Date(started).toISOString(), durationMs: this.d.clock() - started, message: error };
            if (controller.signal.aborted) {
                this.set("Reconciling", false, "Cancelled", "the update was cancelled at shutdown; it is retried at the next start");
                await this.changed({ type: "Warning", reason: "Cancelled", message: `update of ${revision} cancelled at shutdown` }, { ...runBase, result: "cancelled" });
                return { action: "cancelled", revision };
            }
            this.status.failures += 1;
            this.status.lastError = error;
            this.stalled = e instanceof PermanentError || this.status.failures >= this.d.settings.stalledAfter;
            this.retryAt = this.d.clock() + backoffDelay(this.status.failures, this.d.settings.backoffBaseMs, this.d.settings.backoffCapMs);
            this.status.nextRetryAt = this.stalled ? undefined : new Date(this.retryAt).toISOString();
            this.set("Ready", false, "ApplyFailed", error);
            this.set("Reconciling", false, "Idle", "");
            if (this.stalled) {
                this.set("Stalled", true, "RetriesExhausted", `revision ${revision.slice(0, 12)} failed ${this.status.failures} time(s); waiting for a new revision or a manual sync. Last error: ${error}`);
            }
            await this.changed({ type: "Warning", reason: this.stalled ? "Stalled" : "ApplyFailed", message: `${revision}: ${error}` }, { ...runBase, result: "failed" });
            return { action: "failed", revision, error, retryAt: this.retryAt, stalled: this.stalled };
        } finally {
            this.running = undefined;
        }
    }

    /** Compares the cluster with the applied revision; corrects drift unless the mode is report. */
    checkDrift(): Promise<Decision> {
        if (this.stopping) return Promise.resolve({ action: "stopping" });
        return this.serial(async () => {
            if (!this.d.isLeader()) return { action: "not-leader" } as const;
            const revision = this.status.lastAppliedRevision;
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
                    this.status.driftedResources = [];
                    this.set("DriftDetected", false, "InSync", `the cluster matches ${revision.slice(0, 12)}`);
                    await this.changed(undefined, { revision, kind: "drift-check", result: "no-drift", startedAt: at, durationMs: this.d.clock() - started });
                    return { action: "no-drift" } as const;
                }
                this.status.driftedResources = [...found.changed];
                this.set("DriftDetected", true, "Drifted", `${found.changed.length} resource(s) differ from ${revision.slice(0, 12)}: ${found.changed.join(", ")}`);
                await this.changed(
                    { type: "Warning", reason: "DriftDetected", message: `drift from ${revision}: ${found.changed.join(", ")}` },
                    { revision, kind: "drift-check", result: "drift", startedAt: at, durationMs: this.d.clock() - started, message: found.changed.join(", ") },
                );
                if (this.d.settings.driftMode === "report") return { action: "drift-reported", resources: found.changed } as const;
                const correctStart = this.d.clock();
                await this.d.engine.correctDrift({ dir, revision, signal: controller.signal, log });
                this.status.driftedResources = [];
                this.set("DriftDetected", false, "Corrected", `drift corrected by re-applying ${revision.slice(0, 12)}`);
                await this.changed(
                    { type: "Normal", reason: "DriftCorrected", message: `re-applied ${revision}: ${found.changed.join(", ")}` },
                    { revision, kind: "drift-correct", result: "succeeded", startedAt: new Date(correctStart).toISOString(), durationMs: this.d.clock() - correctStart },
                );
                return { action: "drift-corrected", resources: found.changed } as const;
            } catch (e) {
                const error = (e as Error).message;
                this.status.lastError = error;
                await this.changed({ type: "Warning", reason: "DriftCheckFailed", message: error }, { revision, kind: "drift-check", result: controller.signal.aborted ? "cancelled" : "failed", startedAt: new Date(started).toISOString(), durationMs: this.d.clock() - started, message: error });
                return { action: "drift-skipped", reason: error } as const;
            } finally {
                this.running = undefined;
            }
        });
    }

    /** Whether a run is in progress. */
    get busy(): boolean {
        return this.running !== undefined;
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
        running.abort(new Error("shutdown grace period elapsed"));
        await this.chain;
        return "cancelled";
    }
}

function summary(r: RunResult): string {
    const parts = Object.entries(r.changes).filter(([op, n]) => op !== "same" && n > 0).map(([op, n]) => `${n} ${op}`);
    return parts.length > 0 ? parts.join(", ") : "no changes";
}
