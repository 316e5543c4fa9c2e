/**
 * The status ConfigMap and the Events recorded against it.
 *
 * Status lives in a ConfigMap rather than a CRD: it needs no cluster-scoped install before the
 * agent can report (the agent may be what installs everything else), every kubectl and dashboard
 * reads it, and RBAC for it is one namespaced Role.
 */
import * as crypto from "node:crypto";
import { apiStatus, KubeApi, microTime } from "../kube/api";
import { deriveConditions } from "./conditions";
import { AGENT_DEFAULTS } from "./contract";
import { parsePersisted, PersistedStatus, toPersisted } from "./persisted-status";
import { AgentEvent, AgentStatus } from "./status";

interface KubeEvent {
    metadata?: { name?: string; namespace?: string; resourceVersion?: string };
    count?: number;
    [field: string]: unknown;
}

/**
 * Pure: the status ConfigMap's data: `status.json` (the facts, each text once: {@link toPersisted})
 * and flat keys for `kubectl get -o jsonpath`, `lastError` the one copy of the current error beside
 * status.json. Bounded whatever happened: every text is capped when recorded (status.ts
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
            if (apiStatus(e) === 404) return undefined;
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
            if (apiStatus(e) !== 404) throw e;
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
            if (apiStatus(e) !== 409) throw e;
        }
    }

    /** Writes the status ({@link statusConfigMapData}). */
    async save(s: AgentStatus): Promise<void> {
        const data = statusConfigMapData(s);
        const body = { metadata: { name: this.name, namespace: this.namespace, labels: { "app.kubernetes.io/name": this.component } }, data };
        try {
            await this.api.replace("configmaps", this.namespace, this.name, body);
        } catch (e) {
            if (apiStatus(e) !== 404) throw e;
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
            if (apiStatus(err) !== 404) throw err;
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
