/**
 * The conditions (Ready, Reconciling, Stalled, DriftDetected) derived from the status's facts in one
 * pure function, as the Pulumi Kubernetes Operator does, so no path can leave a stale condition
 * behind: the loop records facts only.
 */
import { AgentStatus, Condition, CONDITIONS, ConditionStatus, ConditionType, Reason, ReasonName, shortRevision } from "./status";

/** One condition as derived: its status, reason and message. */
type DerivedCondition = readonly [ConditionStatus, ReasonName, string];

function ready(s: AgentStatus): DerivedCondition {
    if (s.leaderElectionError) return ["False", Reason.LeaderElectionFailed, s.leaderElectionError];
    if (s.running) return ["Unknown", Reason.Progressing, `applying ${shortRevision(s.running.revision)} (${s.running.trigger})`];
    if (s.sourceError) return ["False", s.sourceError.reason, s.sourceError.message];
    if (s.failures > 0 && s.applyError) return ["False", s.stalledReason ?? Reason.ApplyFailed, s.applyError];
    if (s.lastAppliedRevision) {
        const suspended = s.suspended ? "; reconciliation is suspended" : "";
        return ["True", Reason.Applied, `revision ${shortRevision(s.lastAppliedRevision)} is applied${suspended}`];
    }
    return ["Unknown", s.suspended ? Reason.Suspended : Reason.Starting, s.suspended ? "reconciliation is suspended" : "no revision applied yet"];
}

function stalled(s: AgentStatus): DerivedCondition {
    switch (s.stalledReason) {
        case undefined:
            return ["False", Reason.NotStalled, ""];
        case Reason.HostKeyMismatch:
            return ["True", s.stalledReason, "the git server's host key is not the pinned one; polls and webhooks stop asking it. Fix known_hosts (agent.knownHosts), then sync manually or restart the agent: the first check after a start asks the server again"];
        case Reason.VerificationFailed:
            return ["True", s.stalledReason, `revision ${shortRevision(s.lastAttemptedRevision)} does not verify; waiting for a new revision`];
        case Reason.DigestMismatch:
            return ["True", s.stalledReason, `the artifact of ${shortRevision(s.lastAttemptedRevision)} does not have the digest Flux advertised; nothing of it was applied; waiting for a new artifact`];
        default:
            return ["True", s.stalledReason, `revision ${shortRevision(s.lastAttemptedRevision)} failed ${s.failures} time(s); waiting for a new revision or a manual sync`];
    }
}

function reconciling(s: AgentStatus): DerivedCondition {
    if (s.running) return ["True", Reason.Progressing, `applying ${shortRevision(s.running.revision)} (${s.running.trigger})`];
    if (s.suspended) return ["False", Reason.Suspended, "reconciliation is suspended"];
    return ["False", Reason.Idle, ""];
}

function drifted(s: AgentStatus): DerivedCondition {
    const d = s.drift;
    if (!d || d.revision !== s.lastAppliedRevision) return ["Unknown", Reason.NotChecked, s.lastAppliedRevision ? `not checked since ${shortRevision(s.lastAppliedRevision)} was applied` : ""];
    if (d.error) return ["Unknown", Reason.DriftCheckFailed, d.error];
    const listed = `${d.resources.join(", ")}${d.unlisted ? ` and ${d.unlisted} more` : ""}`;
    if (d.corrected) return ["False", Reason.Corrected, `drift corrected by re-applying ${shortRevision(d.revision)}: ${listed}`];
    if (d.resources.length > 0) return ["True", Reason.Drifted, `${d.resources.length + (d.unlisted ?? 0)} resource(s) differ from ${shortRevision(d.revision)}: ${listed}`];
    return ["False", Reason.InSync, `the cluster matches ${shortRevision(d.revision)}`];
}

const DERIVATIONS: Record<ConditionType, (s: AgentStatus) => DerivedCondition> = { Ready: ready, Reconciling: reconciling, Stalled: stalled, DriftDetected: drifted };

/**
 * Pure: the status with its derived parts (conditions, lastError, driftedResources) computed from
 * its facts. A condition keeps its lastTransitionTime while its status stays the same.
 */
export function deriveConditions(s: AgentStatus, now: number): AgentStatus {
    const at = new Date(now).toISOString();
    const conditions = Object.fromEntries(
        CONDITIONS.map((type) => {
            const [status, reason, message] = DERIVATIONS[type](s);
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
