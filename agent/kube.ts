/**
 * The agent's Kubernetes side: leader election on a coordination.k8s.io/v1 Lease (two replicas
 * never run updates at once), the status ConfigMap, and Events.
 *
 * Status lives in a ConfigMap rather than a CRD: it needs no cluster-scoped install before the
 * agent can report (the agent may be what installs everything else), every kubectl and dashboard
 * reads it, and RBAC for it is one namespaced Role.
 */
import * as crypto from "node:crypto";
import { CoordinationV1Api, CoreV1Api, KubeConfig, V1Lease, V1MicroTime } from "@kubernetes/client-node";
import { AgentEvent, AgentStatus } from "./reconciler";

/** The client's HTTP error: `code` is the HTTP status. */
function status(e: unknown): number | undefined {
    return (e as { code?: number }).code;
}

/** An API error with the server's own message (e.g. which verb RBAC forbids), not just "HTTP 403". */
function describe(e: unknown): string {
    const body = (e as { body?: unknown }).body;
    try {
        const parsed = typeof body === "string" ? (JSON.parse(body) as { message?: string }) : (body as { message?: string } | undefined);
        if (parsed?.message) return `HTTP ${status(e)}: ${parsed.message}`;
    } catch {
        // not JSON: fall back to the error's own message
    }
    return (e as Error).message;
}

export function kubeConfig(file?: string): KubeConfig {
    const kc = new KubeConfig();
    if (file) kc.loadFromFile(file);
    else kc.loadFromDefault();
    return kc;
}

export interface LeaseOptions {
    readonly namespace: string;
    readonly name: string;
    readonly identity: string;
    /** How long a holder stays leader without renewing. @default 15 */
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
 * Lease-based leader election. The holder renews every third of the lease duration; another
 * candidate takes over only after the lease expired, and every write carries the resourceVersion
 * it read, so two candidates can never both succeed.
 */
export class LeaseElector {
    private leaderUntil = 0;
    private timer?: NodeJS.Timeout;
    private readonly duration: number;
    private readonly clock: () => number;
    private readonly api: CoordinationV1Api;
    /** The holder seen in the last round. */
    leader?: string;
    /** Why the last round failed, if it did. */
    error?: string;

    constructor(kc: KubeConfig, private readonly o: LeaseOptions, private readonly events: ElectionEvents = {}) {
        this.api = kc.makeApiClient(CoordinationV1Api);
        this.duration = o.leaseDurationSeconds ?? 15;
        this.clock = o.clock ?? Date.now;
    }

    /** Leader now: renewed within the lease duration. */
    isLeader(): boolean {
        return this.clock() < this.leaderUntil;
    }

    /** One election round: acquires, renews or observes. Resolves whether this candidate leads. */
    async tryAcquireOrRenew(): Promise<boolean> {
        const was = this.isLeader();
        let error: string | undefined;
        const leads = await this.round().catch((e: unknown) => {
            // A failed round cannot prove leadership: this replica stops leading (and aborts a run).
            error = `leader election on Lease ${this.o.namespace}/${this.o.name} failed: ${describe(e)}`;
            return false;
        });
        const now = this.clock();
        this.leaderUntil = leads ? now + this.duration * 1000 : 0;
        if (error !== this.error) {
            this.error = error;
            this.events.error?.(error);
        }
        if (was !== leads) this.events.leader?.(leads);
        return leads;
    }

    private spec(now: number, acquire: boolean, prev?: V1Lease) {
        return {
            holderIdentity: this.o.identity,
            leaseDurationSeconds: this.duration,
            acquireTime: acquire ? new V1MicroTime(now) : prev?.spec?.acquireTime,
            renewTime: new V1MicroTime(now),
            leaseTransitions: (prev?.spec?.leaseTransitions ?? 0) + (acquire && prev ? 1 : 0),
        };
    }

    private async round(): Promise<boolean> {
        const { namespace, name } = this.o;
        const now = this.clock();
        let lease: V1Lease;
        try {
            lease = await this.api.readNamespacedLease({ name, namespace });
        } catch (e) {
            if (status(e) !== 404) throw e;
            try {
                await this.api.createNamespacedLease({ namespace, body: { metadata: { name, namespace }, spec: this.spec(now, true) } });
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
            await this.api.replaceNamespacedLease({
                name,
                namespace,
                body: { metadata: { name, namespace, resourceVersion: lease.metadata?.resourceVersion }, spec: this.spec(now, holder !== this.o.identity, lease) },
            });
            this.leader = this.o.identity;
            return true;
        } catch (e) {
            if (status(e) === 409) return false; // someone else wrote in between
            throw e;
        }
    }

    /** Runs election rounds until stopped. */
    start(): void {
        const tick = () => void this.tryAcquireOrRenew();
        tick();
        this.timer = setInterval(tick, (this.duration * 1000) / 3);
        this.timer.unref();
    }

    /** Stops renewing and hands the lease back so another replica takes over at once. */
    async stop(): Promise<void> {
        if (this.timer) clearInterval(this.timer);
        if (!this.isLeader()) return;
        this.leaderUntil = 0;
        const { name, namespace } = this.o;
        try {
            const lease = await this.api.readNamespacedLease({ name, namespace });
            if (lease.spec?.holderIdentity !== this.o.identity) return;
            await this.api.replaceNamespacedLease({
                name,
                namespace,
                body: { metadata: { name, namespace, resourceVersion: lease.metadata?.resourceVersion }, spec: { ...lease.spec, holderIdentity: undefined, renewTime: undefined } },
            });
        } catch {
            // Not releasing only delays the takeover until the lease expires.
        }
        this.leader = undefined;
        this.events.leader?.(false);
    }
}

/** The status ConfigMap and the Events recorded against it. */
export class StatusStore {
    private readonly core: CoreV1Api;

    constructor(kc: KubeConfig, private readonly namespace: string, private readonly name: string, private readonly component = "openfaas-gitops-agent") {
        this.core = kc.makeApiClient(CoreV1Api);
    }

    /** The persisted status, if any (so a restarted agent does not re-apply). */
    async load(): Promise<AgentStatus | undefined> {
        try {
            const cm = await this.core.readNamespacedConfigMap({ name: this.name, namespace: this.namespace });
            const text = cm.data?.["status.json"];
            return text ? (JSON.parse(text) as AgentStatus) : undefined;
        } catch (e) {
            if (status(e) === 404) return undefined;
            throw e;
        }
    }

    /** Writes the status: the full JSON plus flat keys for `kubectl get -o jsonpath`. */
    async save(s: AgentStatus): Promise<void> {
        const data: Record<string, string> = {
            "status.json": JSON.stringify(s, null, 2),
            ready: String(s.conditions.Ready.status),
            stalled: String(s.conditions.Stalled.status),
            driftDetected: String(s.conditions.DriftDetected.status),
            lastAppliedRevision: s.lastAppliedRevision ?? "",
            lastAttemptedRevision: s.lastAttemptedRevision ?? "",
            lastError: s.lastError ?? "",
        };
        const body = { metadata: { name: this.name, namespace: this.namespace, labels: { "app.kubernetes.io/name": this.component } }, data };
        try {
            await this.core.replaceNamespacedConfigMap({ name: this.name, namespace: this.namespace, body });
        } catch (e) {
            if (status(e) !== 404) throw e;
            await this.core.createNamespacedConfigMap({ namespace: this.namespace, body });
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
        let existing;
        try {
            existing = await this.core.readNamespacedEvent({ name, namespace });
        } catch (err) {
            if (status(err) !== 404) throw err;
        }
        if (existing) {
            const count = (existing.count ?? 1) + 1;
            await this.core.replaceNamespacedEvent({ name, namespace, body: { ...existing, count, lastTimestamp: now, series: { count, lastObservedTime: new V1MicroTime(now) } } });
            return;
        }
        await this.core.createNamespacedEvent({
            namespace,
            body: {
                metadata: { name, namespace },
                involvedObject: { apiVersion: "v1", kind: "ConfigMap", name: this.name, namespace },
                type: e.type,
                reason: e.reason,
                message,
                source: { component: this.component },
                firstTimestamp: now,
                lastTimestamp: now,
                count: 1,
            },
        });
    }
}
