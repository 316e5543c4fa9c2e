/**
 * Leader election on a coordination.k8s.io/v1 Lease, ported from client-go's
 * tools/leaderelection (leaderelection.go, resourcelock/leaselock.go): the same three durations
 * and their checks, the same attempt (an optimistic renewal on the cached Lease, else read, create
 * or take over), expiry judged on this replica's own clock from when it last saw the Lease change,
 * and the same release. Only the holder starts updates; a holder that cannot renew stops leading
 * (aborting its run) at its renew deadline, before any other replica may take the Lease, and the
 * state backend's lock refuses an update that would still overlap.
 *
 * Where this differs from client-go, on purpose:
 * - After losing the Lease it becomes a candidate again (client-go's Run returns, and controllers
 *   exit): the agent's process keeps its HTTP server, metrics and dependency cache.
 * - A candidate's attempt is bounded by the renew deadline too (client-go bounds only the
 *   holder's), so a hanging apiserver call never holds up stop().
 * - A Lease's leaseDurationSeconds is honoured up to {@link MAX_HONOURED_LEASE_SECONDS}: anyone who
 *   may write the Lease could otherwise keep every replica waiting for years.
 * - Failed attempts are reported (the status's leaderElectionError), not only logged.
 * - isLeader() says whether the renewal cycle still holds, which is when client-go's renew loop
 *   would return; client-go's IsLeader compares only the holder's name.
 */
import { apiErrorText, apiStatus, KubeApi, microTime } from "../kube/api";

interface LeaseSpec {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
}

interface Lease {
    metadata?: { name?: string; namespace?: string; resourceVersion?: string; [field: string]: unknown };
    spec?: LeaseSpec;
}

/** client-go's JitterFactor: a candidate waits the retry period plus up to 1.2 times it again. */
export const JITTER_FACTOR = 1.2;

/**
 * The agent's durations (kube-controller-manager's are 15, 10 and 2). A crashed leader's Lease
 * changes hands 12 to 16.4 s after another replica last saw it renewed (that replica tries every 2
 * to 4.4 s); a leader that cannot renew stops 10 s after its last renewal (a retry period, then the
 * renew deadline, counted from when that renewal began), at least 2 s before anyone may take over.
 */
export const LEASE_TIMING = { leaseDurationSeconds: 12, renewDeadlineSeconds: 8, retryPeriodSeconds: 2 } as const;

/** The longest lease duration honoured from a Lease someone else wrote (see the module comment). */
export const MAX_HONOURED_LEASE_SECONDS = 300;

export interface LeaseOptions {
    readonly namespace: string;
    readonly name: string;
    readonly identity: string;
    /** How long a Lease holds after it last changed, for the other candidates. @default 12 */
    readonly leaseDurationSeconds?: number;
    /** How long the holder keeps trying to renew before it stops leading. @default 8 */
    readonly renewDeadlineSeconds?: number;
    /** Between attempts: the holder's renewals, and (jittered) a candidate's tries. @default 2 */
    readonly retryPeriodSeconds?: number;
    /**
     * Milliseconds for the timestamps written and every duration; a test's fake clock. By default
     * durations are measured on a monotonic clock, as client-go's (a wall-clock step must not
     * stretch or cut a leadership), and the Lease's timestamps are wall-clock time.
     */
    readonly clock?: () => number;
    /** [0, 1), for the candidates' jitter. */
    readonly random?: () => number;
}

export interface ElectionEvents {
    /** Leadership gained (true) or lost (false). */
    readonly leader?: (leads: boolean) => void;
    /** An attempt failed (the message), or works again after failing (undefined). */
    readonly error?: (message: string | undefined) => void;
}

/**
 * Pure: the durations, checked as client-go's NewLeaderElector checks them: the lease outlasts the
 * renew deadline, which outlasts a jittered retry period. Throws naming the bad one.
 */
export function leaseTiming(o: Pick<LeaseOptions, "leaseDurationSeconds" | "renewDeadlineSeconds" | "retryPeriodSeconds">): { leaseMs: number; renewDeadlineMs: number; retryMs: number } {
    const lease = o.leaseDurationSeconds ?? LEASE_TIMING.leaseDurationSeconds;
    const renewDeadline = o.renewDeadlineSeconds ?? LEASE_TIMING.renewDeadlineSeconds;
    const retry = o.retryPeriodSeconds ?? LEASE_TIMING.retryPeriodSeconds;
    if (!(retry > 0)) throw new Error(`retryPeriodSeconds must be greater than zero (got ${retry})`);
    if (!(lease > renewDeadline)) throw new Error(`leaseDurationSeconds (${lease}) must be greater than renewDeadlineSeconds (${renewDeadline})`);
    if (!(renewDeadline > JITTER_FACTOR * retry)) throw new Error(`renewDeadlineSeconds (${renewDeadline}) must be greater than ${JITTER_FACTOR} x retryPeriodSeconds (${retry})`);
    return { leaseMs: lease * 1000, renewDeadlineMs: renewDeadline * 1000, retryMs: retry * 1000 };
}

/** Pure: the count after a takeover; an int32 that cannot grow (someone wrote its maximum) starts again, or the apiserver would refuse every takeover. */
export function nextTransitions(previous: number | undefined): number {
    return previous !== undefined && Number.isSafeInteger(previous) && previous >= 0 && previous < 2 ** 31 - 1 ? previous + 1 : 1;
}

export class LeaseElector {
    private readonly timing: ReturnType<typeof leaseTiming>;
    private readonly clock: () => number;
    private readonly wallClock: () => number;
    private readonly random: () => number;
    /** client-go's observedRecord and observedTime: the Lease as last seen, and when (this replica's clock) it was seen to change. */
    private observed?: LeaseSpec;
    private observedRaw?: string;
    private observedAt = 0;
    /** The Lease object as the apiserver last returned it: a renewal writes over its resourceVersion without reading first. */
    private cached?: Lease;
    /** Leading: from a successful acquisition until a renewal cycle ends without success (or stop). */
    private leading = false;
    /** When leadership ends unless renewed: the end of the renewal cycle after the last success. */
    private leadingUntil = 0;
    private timer?: NodeJS.Timeout;
    /** Fires at the renew deadline, so leadership ends then even while an attempt waits on the apiserver. */
    private deadline?: NodeJS.Timeout;
    private stopped = false;
    /** Leadership as last reported to the events. */
    private reported = false;
    /** The attempt in flight, which stop() lets finish before it releases (its write would make the release's stale). */
    private inflight?: Promise<boolean>;

    /** Why the last attempt failed, if it did. */
    error?: string;

    constructor(private readonly api: KubeApi, private readonly options: LeaseOptions, private readonly events: ElectionEvents = {}) {
        this.timing = leaseTiming(options);
        this.clock = options.clock ?? (() => performance.now());
        this.wallClock = options.clock ?? Date.now;
        this.random = options.random ?? Math.random;
    }

    /** The holder as last seen while its Lease holds (client-go's GetLeader, without an expired holder). */
    get leader(): string | undefined {
        const holder = this.observed?.holderIdentity;
        return holder && (holder === this.options.identity ? this.isLeader() : this.leaseValid(this.clock())) ? holder : undefined;
    }

    /** Leader now: acquired, and renewed within the current renewal cycle. */
    isLeader(): boolean {
        return this.leading && this.clock() < this.leadingUntil;
    }

    /** client-go's isLeaseValid: the observed Lease holds until its duration after it was seen to change. */
    private leaseValid(now: number): boolean {
        const seconds = Math.min(this.observed?.leaseDurationSeconds ?? 0, MAX_HONOURED_LEASE_SECONDS);
        return this.observedAt + seconds * 1000 > now;
    }

    private observedHolderIsSelf(): boolean {
        return this.observed?.holderIdentity === this.options.identity;
    }

    private observe(spec: LeaseSpec, raw: string, at: number): void {
        this.observed = spec;
        this.observedRaw = raw;
        this.observedAt = at;
    }

    /**
     * One attempt, as client-go's tryAcquireOrRenew: resolves whether this replica holds the Lease
     * now (never rejects; a failure is recorded in {@link error}). Bounded by the renew deadline: a
     * hanging call is aborted then, not after the request's own 30 s. Leadership itself is decided
     * by the loop ({@link start}): a failed renewal keeps it until the renew deadline.
     */
    tryAcquireOrRenew(): Promise<boolean> {
        const attempt = this.attempt();
        this.inflight = attempt;
        return attempt;
    }

    private async attempt(): Promise<boolean> {
        // Leadership is counted from before the write: the other replicas count the lease from when
        // it was committed, which may be long before its answer arrives.
        const started = this.clock();
        const seconds = Math.round(this.timing.renewDeadlineMs / 100) / 10;
        const abort = new AbortController();
        const bound = setTimeout(() => abort.abort(new Error(`no answer from the apiserver within the renew deadline (${seconds} s)`)), this.timing.renewDeadlineMs);
        let error: string | undefined;
        const held = await this.acquireOrRenew(abort.signal)
            .catch((e: unknown) => {
                error = `leader election on Lease ${this.options.namespace}/${this.options.name} failed: ${apiErrorText(e)}`;
                return false;
            })
            .finally(() => clearTimeout(bound));
        if (held && !this.stopped) {
            this.leading = true;
            // The next renewal cycle starts a retry period after this one and lasts the renew deadline.
            this.leadingUntil = started + this.timing.retryMs + this.timing.renewDeadlineMs;
        }
        if (error !== this.error) {
            this.error = error;
            this.events.error?.(error);
        }
        this.report();
        this.armDeadline();
        return held;
    }

    /**
     * Reports the loss of leadership at the end of the renewal cycle, even while an attempt waits.
     * A timer may fire a little before the clock reaches its time: then it is armed again for the rest.
     */
    private armDeadline(): void {
        clearTimeout(this.deadline);
        if (!this.isLeader() || this.stopped) return;
        this.deadline = setTimeout(() => {
            if (!this.report()) return;
            this.armDeadline();
        }, Math.max(1, this.leadingUntil - this.clock())).unref();
    }

    /** Someone else holds the Lease now (seen, or it created it first): this replica leads no longer, as client-go's IsLeader says at once. */
    private lost(): false {
        this.leading = false;
        return false;
    }

    /** The attempt's steps, numbered as client-go's. */
    private async acquireOrRenew(signal: AbortSignal): Promise<boolean> {
        const { namespace, name, identity } = this.options;
        const now = this.clock();
        const stamp = microTime(this.wallClock());
        const record: LeaseSpec = { holderIdentity: identity, leaseDurationSeconds: this.timing.leaseMs / 1000, acquireTime: stamp, renewTime: stamp };
        // 1. The holder renews optimistically over the Lease it last wrote; on any error it reads.
        if (this.observedHolderIsSelf() && this.leaseValid(now) && this.cached) {
            const renewal = { ...record, acquireTime: this.observed!.acquireTime, leaseTransitions: this.observed!.leaseTransitions };
            const written = await this.update(renewal, signal).catch(() => undefined);
            if (written) return true;
        }
        // 2. Read the Lease, or create it.
        let lease: Lease;
        try {
            lease = await this.api.get<Lease>("leases", namespace, name, signal);
        } catch (e) {
            if (apiStatus(e) !== 404) throw e;
            let created: Lease;
            try {
                created = await this.api.create<Lease>("leases", namespace, { metadata: { name, namespace }, spec: { ...record, leaseTransitions: 0 } }, signal);
            } catch (ce) {
                if (apiStatus(ce) === 409) return this.lost(); // another candidate created it first
                throw ce;
            }
            this.cached = created;
            this.observe(created.spec ?? record, JSON.stringify(created.spec ?? record), this.clock());
            return true;
        }
        this.cached = lease;
        // 3. A Lease seen to change starts its duration again, on this replica's clock: a holder's
        // clock, or a renewTime someone edited, never decides when it expires.
        const spec = lease.spec ?? {};
        const raw = JSON.stringify(spec);
        if (raw !== this.observedRaw) this.observe(spec, raw, this.clock());
        if (spec.holderIdentity && this.leaseValid(now) && !this.observedHolderIsSelf()) return this.lost();
        // 4. Take it over (or renew it after a failed optimistic write).
        const self = this.observedHolderIsSelf();
        const next = self
            ? { ...record, acquireTime: spec.acquireTime, leaseTransitions: spec.leaseTransitions }
            : { ...record, leaseTransitions: nextTransitions(spec.leaseTransitions) };
        return (await this.update(next, signal)) !== undefined;
    }

    /** LeaseLock.Update: the cached Lease with `spec`, over its resourceVersion; undefined when someone wrote in between. */
    private async update(spec: LeaseSpec, signal: AbortSignal): Promise<Lease | undefined> {
        const { namespace, name } = this.options;
        const base = this.cached!;
        try {
            const written = await this.api.replace<Lease>("leases", namespace, name, { ...base, metadata: { ...base.metadata, name, namespace }, spec }, signal);
            this.cached = written;
            this.observe(written.spec ?? spec, JSON.stringify(written.spec ?? spec), this.clock());
            return written;
        } catch (e) {
            if (apiStatus(e) === 409) return undefined;
            throw e;
        }
    }

    /**
     * Reports leadership to the events when it differs from what was last reported, not from the
     * start of an attempt: the deadline may pass between attempts, or while one is still waiting.
     */
    private report(): boolean {
        const now = this.isLeader();
        if (!now) this.leading = false;
        if (this.reported !== now) {
            this.reported = now;
            this.events.leader?.(now);
        }
        return now;
    }

    /**
     * Runs attempts until stopped, timed as client-go's acquire and renew loops: a candidate tries
     * every retry period plus a jitter of up to {@link JITTER_FACTOR} times it; the holder renews a
     * retry period after each attempt, and stops leading when a renewal cycle (the renew deadline
     * from its start) passes without success.
     */
    start(): void {
        const tick = async () => {
            await this.tryAcquireOrRenew();
            if (this.stopped) return;
            const wait = this.isLeader() ? this.timing.retryMs : this.timing.retryMs * (1 + JITTER_FACTOR * this.random());
            this.timer = setTimeout(() => void tick(), wait);
            this.timer.unref();
        };
        void tick();
    }

    /** Stops the loop and releases the Lease, as client-go's ReleaseOnCancel, so another replica takes over at once. */
    async stop(): Promise<void> {
        this.stopped = true;
        clearTimeout(this.timer);
        clearTimeout(this.deadline);
        // An attempt in flight writes the Lease after the release would: the release's write would
        // then fail on the resourceVersion and the Lease stay held until it expires. It is bounded by
        // the renew deadline, as the release is.
        await this.inflight?.catch(() => undefined);
        const held = this.isLeader();
        this.leading = false;
        // A hanging apiserver must not hold up the shutdown: the release is worth at most a renew
        // deadline. Not releasing only delays the takeover until the lease expires.
        if (held) await this.release(AbortSignal.timeout(this.timing.renewDeadlineMs)).catch(() => undefined);
        this.report();
    }

    /** client-go's release: if the Lease still names this replica, no holder, a 1 s duration, the transitions kept; read again after a conflict. */
    private async release(signal: AbortSignal): Promise<void> {
        const { namespace, name, identity } = this.options;
        for (;;) {
            const lease = await this.api.get<Lease>("leases", namespace, name, signal);
            if (lease.spec?.holderIdentity !== identity) return;
            this.cached = lease;
            const stamp = microTime(this.wallClock());
            const released = { holderIdentity: "", leaseDurationSeconds: 1, acquireTime: stamp, renewTime: stamp, leaseTransitions: lease.spec.leaseTransitions };
            if (await this.update(released, signal)) return;
        }
    }
}
