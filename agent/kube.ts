/**
 * The agent's Kubernetes side: leader election on a coordination.k8s.io/v1 Lease (only the holder
 * starts updates; a holder that loses it aborts its run at the renew deadline, before another
 * replica may take the Lease, and the state backend's lock refuses an update that would still
 * overlap), the status ConfigMap, and Events.
 *
 * Status lives in a ConfigMap rather than a CRD: it needs no cluster-scoped install before the
 * agent can report (the agent may be what installs everything else), every kubectl and dashboard
 * reads it, and RBAC for it is one namespaced Role.
 */
import * as crypto from "node:crypto";
import { KubeApi, KubeApiError, kubeConnection, microTime } from "./kube-api";
import { AgentEvent, AgentStatus, deriveConditions, parsePersisted, PersistedStatus, toPersisted } from "./reconciler";
import { AGENT_DEFAULTS } from "./contract";

interface Lease {
    metadata?: { name?: string; namespace?: string; resourceVersion?: string };
    spec?: { holderIdentity?: string; leaseDurationSeconds?: number; acquireTime?: string; renewTime?: string; leaseTransitions?: number };
}

interface KubeEvent {
    metadata?: { name?: string; namespace?: string; resourceVersion?: string };
    count?: number;
    [field: string]: unknown;
}

/** The HTTP status of an API error, if it is one. */
function status(e: unknown): number | undefined {
    return e instanceof KubeApiError ? e.code : undefined;
}

/** An API error with the server's own message (e.g. which verb RBAC forbids), not just "HTTP 403". */
function describe(e: unknown): string {
    const message = e instanceof KubeApiError ? (e.body as { message?: string } | undefined)?.message : undefined;
    return message ? `HTTP ${status(e)}: ${message}` : (e as Error).message;
}

/** The API client from a kubeconfig file, else the pod's service account (agent/kube-api.ts). */
export function kubeConfig(file?: string): KubeApi {
    return new KubeApi(kubeConnection(file));
}

export interface LeaseOptions {
    readonly namespace: string;
    readonly name: string;
    readonly identity: string;
    /** How long a holder stays leader without renewing. @default 12 */
    readonly leaseDurationSeconds?: number;
    readonly clock?: () => number;
}

export interface ElectionEvents {
    /** Leadership gained (true) or lost (false). */
    readonly leader?: (leads: boolean) => void;
    /** An election round failed (the message), or works again after failing (undefined). */
    readonly error?: (message: string | undefined) => void;
}

/**
 * Lease-based leader election, timed as client-go's: the holder renews every third of the lease
 * duration and gives up leading after two thirds without a successful renewal (the renew deadline),
 * before anyone else may take the Lease; a follower retries every 2 s, so after a leader's crash the
 * Lease changes hands at most 2 s after it expired (12 s lease: 8 to 14 s after the crash). Another
 * candidate takes over only after the lease expired, and every write carries the resourceVersion
 * it read, so two candidates can never both succeed.
 */
export class LeaseElector {
    private leaderUntil = 0;
    private timer?: NodeJS.Timeout;
    /** Fires at the renew deadline, so leadership ends then even while a round waits on the apiserver. */
    private deadline?: NodeJS.Timeout;
    private stopped = false;
    /** Leadership as last reported to the events. */
    private reported = false;
    private readonly duration: number;
    private readonly clock: () => number;

    /** The holder seen in the last round. */
    leader?: string;
    /** Why the last round failed, if it did. */
    error?: string;

    constructor(private readonly api: KubeApi, private readonly o: LeaseOptions, private readonly events: ElectionEvents = {}) {
        this.duration = o.leaseDurationSeconds ?? 12;
        this.clock = o.clock ?? Date.now;
    }

    /** Leader now: renewed within the renew deadline. */
    isLeader(): boolean {
        return this.clock() < this.leaderUntil;
    }

    /** Two thirds of the lease duration, as client-go's default RenewDeadline to LeaseDuration. */
    private get renewDeadlineMs(): number {
        return (this.duration * 1000 * 2) / 3;
    }

    /**
     * One election round: acquires, renews or observes. Resolves whether this candidate leads.
     * Bounded by the renew deadline, as client-go bounds each renewal (context.WithTimeout): a
     * hanging apiserver call is aborted then, not after the request's own 30 s.
     */
    tryAcquireOrRenew(): Promise<boolean> {
        const round = this.electionRound();
        this.inflight = round;
        return round;
    }

    /** The round in flight, which stop() lets finish before it releases (its write would make the release's stale). */
    private inflight?: Promise<boolean>;

    private async electionRound(): Promise<boolean> {
        const started = this.clock();
        const seconds = Math.round(this.renewDeadlineMs / 100) / 10;
        const abort = new AbortController();
        const bound = setTimeout(() => abort.abort(new Error(`no answer from the apiserver within the renew deadline (${seconds} s)`)), this.renewDeadlineMs);
        let error: string | undefined;
        const leads = await this.round(started, abort.signal)
            .catch((e: unknown) => {
                error = `leader election on Lease ${this.o.namespace}/${this.o.name} failed: ${describe(e)}`;
                return undefined;
            })
            .finally(() => clearTimeout(bound));
        // A failed round changes nothing yet: nobody can take the Lease before it expires, and this
        // replica stops leading (aborting a run) at the renew deadline, before it does. A renewal
        // counts from the renewTime it wrote (its start), which is what the other candidates see.
        if (leads !== undefined) this.leaderUntil = leads ? started + this.renewDeadlineMs : 0;
        if (error !== this.error) {
            this.error = error;
            this.events.error?.(error);
        }
        const now = this.report();
        clearTimeout(this.deadline);
        if (now && !this.stopped) this.deadline = setTimeout(() => this.report(), Math.max(0, this.leaderUntil - this.clock())).unref();
        return now;
    }

    /**
     * Reports leadership to the events when it differs from what was last reported, not from the
     * start of a round: the deadline may pass between rounds, or while one is still waiting.
     */
    private report(): boolean {
        const now = this.isLeader();
        if (this.reported !== now) {
            this.reported = now;
            this.events.leader?.(now);
        }
        return now;
    }

    private spec(now: number, acquire: boolean, prev?: Lease) {
        return {
            holderIdentity: this.o.identity,
            leaseDurationSeconds: this.duration,
            acquireTime: acquire ? microTime(now) : prev?.spec?.acquireTime,
            renewTime: microTime(now),
            leaseTransitions: (prev?.spec?.leaseTransitions ?? 0) + (acquire && prev ? 1 : 0),
        };
    }

    private async round(now: number, signal: AbortSignal): Promise<boolean> {
        const { namespace, name } = this.o;
        let lease: Lease;
        try {
            lease = await this.api.get<Lease>("leases", namespace, name, signal);
        } catch (e) {
            if (status(e) !== 404) throw e;
            try {
                await this.api.create<Lease>("leases", namespace, { metadata: { name, namespace }, spec: this.spec(now, true) }, signal);
                this.leader = this.o.identity;
                return true;
            } catch (ce) {
                if (status(ce) === 409) return false; // another candidate created it first
                throw ce;
            }
        }
        const holder = lease.spec?.holderIdentity;
        const renewed = lease.spec?.renewTime ? new Date(lease.spec.renewTime).getTime() : 0;
        const expired = !holder || renewed + (lease.spec?.leaseDurationSeconds ?? this.duration) * 1000 < now;
        this.leader = expired ? undefined : holder;
        if (holder !== this.o.identity && !expired) return false;
        try {
            await this.api.replace<Lease>(
                "leases",
                namespace,
                name,
                { metadata: { name, namespace, resourceVersion: lease.metadata?.resourceVersion }, spec: this.spec(now, holder !== this.o.identity, lease) },
                signal,
            );
            this.leader = this.o.identity;
            return true;
        } catch (e) {
            if (status(e) === 409) return false; // someone else wrote in between
            throw e;
        }
    }

    /** Runs election rounds until stopped: renewals every third of the duration, attempts every 2 s. */
    start(): void {
        const tick = async () => {
            const leads = await this.tryAcquireOrRenew();
            if (this.stopped) return;
            this.timer = setTimeout(() => void tick(), leads ? (this.duration * 1000) / 3 : 2000);
            this.timer.unref();
        };
        void tick();
    }

    /** Stops renewing and hands the lease back so another replica takes over at once. */
    async stop(): Promise<void> {
        this.stopped = true;
        clearTimeout(this.timer);
        clearTimeout(this.deadline);
        // A renewal in flight writes the Lease after the release read it: the release's write would
        // then fail on the resourceVersion and the Lease stay held until it expires. It is bounded by
        // the renew deadline, as the release is.
        await this.inflight?.catch(() => undefined);
        if (!this.isLeader()) return;
        this.leaderUntil = 0;
        const { name, namespace } = this.o;
        // A hanging apiserver must not hold up the shutdown: the release is worth at most a renew deadline.
        const signal = AbortSignal.timeout(this.renewDeadlineMs);
        try {
            const lease = await this.api.get<Lease>("leases", namespace, name, signal);
            if (lease.spec?.holderIdentity !== this.o.identity) return;
            await this.api.replace<Lease>(
                "leases",
                namespace,
                name,
                { metadata: { name, namespace, resourceVersion: lease.metadata?.resourceVersion }, spec: { ...lease.spec, holderIdentity: undefined, renewTime: undefined } },
                signal,
            );
        } catch {
            // Not releasing only delays the takeover until the lease expires.
        }
        this.leader = undefined;
        this.reported = false;
        this.events.leader?.(false);
    }
}

/**
 * Pure: the status ConfigMap's data: `status.json` (the facts, each text once: {@link toPersisted})
 * and flat keys for `kubectl get -o jsonpath`, `lastError` the one copy of the current error beside
 * status.json. Bounded whatever happened: every text is capped when recorded (reconciler.ts
 * MAX_TEXT, at most 3 bytes a character), history holds 10 runs and drift 100 names.
 */
export function statusConfigMapData(s: AgentStatus): Record<string, string> {
    return {
        "status.json": JSON.stringify(toPersisted(s), null, 2),
        ready: String(s.conditions.Ready.status),
        stalled: String(s.conditions.Stalled.status),
        driftDetected: String(s.conditions.DriftDetected.status),
        lastAppliedRevision: s.lastAppliedRevision ?? "",
        lastAttemptedRevision: s.lastAttemptedRevision ?? "",
        lastError: s.lastError ?? "",
    };
}

/** The status ConfigMap and the Events recorded against it. */
export class StatusStore {
    constructor(private readonly api: KubeApi, private readonly namespace: string, private readonly name: string, private readonly component = AGENT_DEFAULTS.name) {}

    /**
     * The persisted status, if any (so a restarted agent does not re-apply), validated: whatever
     * the ConfigMap holds gives a usable status, with the fields that had to be dropped named.
     * Rejects only when the ConfigMap cannot be read.
     */
    async load(now = Date.now()): Promise<PersistedStatus | undefined> {
        let cm: { data?: Record<string, string> };
        try {
            cm = await this.api.get<{ data?: Record<string, string> }>("configmaps", this.namespace, this.name);
        } catch (e) {
            if (status(e) === 404) return undefined;
            throw e;
        }
        const text = cm?.data?.["status.json"];
        return typeof text === "string" && text !== "" ? parsePersisted(text, now) : undefined;
    }

    /**
     * A replica that does not lead reports why it cannot take part in the election: that one fact is
     * merged into the status stored now, never this replica's own facts, which it read at its start
     * and may be older than what a live leader wrote since. (A new pod whose Lease request timed out
     * during a rollout wrote its older facts over the leader's, then adopted them when it led: the
     * upgrade's run was gone from the history, its revision about to be applied again.) Written only
     * over the version it read: if anyone wrote meanwhile, the report is dropped (the writer leads).
     * With nothing stored, `own` is written: there is no leader's status to keep.
     */
    async reportElectionError(error: string | undefined, own: AgentStatus, now = Date.now()): Promise<void> {
        let cm: { metadata?: { resourceVersion?: string }; data?: Record<string, string> } | undefined;
        try {
            cm = await this.api.get("configmaps", this.namespace, this.name);
        } catch (e) {
            if (status(e) !== 404) throw e;
        }
        const text = cm?.data?.["status.json"];
        if (!cm || typeof text !== "string" || text === "") return this.save(own);
        const stored = parsePersisted(text, now).status;
        if (stored.leaderElectionError === error) return;
        const data = statusConfigMapData(deriveConditions({ ...stored, leaderElectionError: error }, now));
        const body = { metadata: { name: this.name, namespace: this.namespace, labels: { "app.kubernetes.io/name": this.component }, resourceVersion: cm.metadata?.resourceVersion }, data };
        try {
            await this.api.replace("configmaps", this.namespace, this.name, body);
        } catch (e) {
            if (status(e) !== 409) throw e;
        }
    }

    /** Writes the status ({@link statusConfigMapData}). */
    async save(s: AgentStatus): Promise<void> {
        const data = statusConfigMapData(s);
        const body = { metadata: { name: this.name, namespace: this.namespace, labels: { "app.kubernetes.io/name": this.component } }, data };
        try {
            await this.api.replace("configmaps", this.namespace, this.name, body);
        } catch (e) {
            if (status(e) !== 404) throw e;
            await this.api.create("configmaps", this.namespace, body);
        }
    }

    /**
     * Records a Kubernetes Event on the status ConfigMap (`kubectl describe configmap` shows them).
     * Repeats are aggregated as Kubernetes' own event recorder does: one Event per (type, reason,
     * message), named from their hash, whose count, series and lastTimestamp grow with each repeat,
     * so an outage polled every minute is one Event, not one per poll.
     */
    async event(e: AgentEvent, now = new Date()): Promise<void> {
        const message = e.message.slice(0, 1024);
        const key = crypto.createHash("sha256").update(`${e.type}\0${e.reason}\0${message}`).digest("hex").slice(0, 16);
        const name = `${this.name}.${key}`;
        const namespace = this.namespace;
        let existing: KubeEvent | undefined;
        try {
            existing = await this.api.get<KubeEvent>("events", namespace, name);
        } catch (err) {
            if (status(err) !== 404) throw err;
        }
        if (existing) {
            const count = (existing.count ?? 1) + 1;
            await this.api.replace<KubeEvent>("events", namespace, name, { ...existing, count, lastTimestamp: now.toISOString(), series: { count, lastObservedTime: microTime(now.getTime()) } });
            return;
        }
        await this.api.create<KubeEvent>("events", namespace, {
            metadata: { name, namespace },
            involvedObject: { apiVersion: "v1", kind: "ConfigMap", name: this.name, namespace },
            type: e.type,
            reason: e.reason,
            message,
            source: { component: this.component },
            firstTimestamp: now.toISOString(),
            lastTimestamp: now.toISOString(),
            count: 1,
        });
    }
}
