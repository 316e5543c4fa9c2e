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

    constructor(kc: KubeConfig, private readonly o: LeaseOptions, private readonly onChange?: (leader: boolean) => void) {
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
        const leads = await this.round().catch(() => false);
        const now = this.clock();
        this.leaderUntil = leads ? now + this.duration * 1000 : 0;
        if (was !== leads) this.onChange?.(leads);
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
                return true;
            } catch (ce) {
                if (status(ce) === 409) return false; // another candidate created it first
                throw ce;
            }
        }
        const holder = lease.spec?.holderIdentity;
        const renewed = lease.spec?.renewTime ? new Date(lease.spec.renewTime).getTime() : 0;
        const expired = !holder || renewed + (lease.spec?.leaseDurationSeconds ?? this.duration) * 1000 < now;
        if (holder !== this.o.identity && !expired) return false;
        try {
            await this.api.replaceNamespacedLease({
                name,
                namespace,
                body: { metadata: { name, namespace, resourceVersion: lease.metadata?.resourceVersion }, spec: this.spec(now, holder !== this.o.identity, lease) },
            });
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
        this.onChange?.(false);
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

    /** Records a Kubernetes Event on the status ConfigMap (`kubectl describe configmap` shows them). */
    async event(e: AgentEvent, now = new Date()): Promise<void> {
        await this.core.createNamespacedEvent({
            namespace: this.namespace,
            body: {
                metadata: { name: `${this.name}.${crypto.randomBytes(6).toString("hex")}`, namespace: this.namespace },
                involvedObject: { apiVersion: "v1", kind: "ConfigMap", name: this.name, namespace: this.namespace },
                type: e.type,
                reason: e.reason,
                message: e.message.slice(0, 1024),
                source: { component: this.component },
                firstTimestamp: now,
                lastTimestamp: now,
                count: 1,
            },
        });
    }
}
