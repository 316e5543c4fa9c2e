/**
 * The status as the status ConfigMap stores it, and back: validated field by field on the way in (a
 * ConfigMap may have been written by this agent, an older one, or a person with kubectl), each text
 * once on the way out.
 */
import Ajv from "ajv";
import { deriveConditions, emptyStatus } from "./conditions";
import { AgentStatus, capName, capText, CONDITIONS, driftRecord, MAX_NAME, Reason } from "./status";

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
