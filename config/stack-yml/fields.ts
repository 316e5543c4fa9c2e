/**
 * Readers of the function fields that both the functions file and the per-stack `functions`
 * overrides carry (autoscaling, schedules) or that stack.yml alone has. Each takes the raw YAML value,
 * reports problems under its location and returns the typed value.
 */
import * as semver from "semver";
import { autoscalingProblems } from "../../policies/shared/autoscaling";
import { cronProblem } from "../../policies/shared/cron";
import { Autoscaling, ImagePolicyDef, Resources, Schedule } from "../../model/function";
import { DNS_LABEL } from "../../model/names";
import { Problems } from "../../model/problem";
import { parseQuantity } from "../../model/quantity";
import { schemaProblems, Schema } from "../schema";

export type Obj = Record<string, unknown>;
export const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);


export function stringMap(p: Problems, where: string, v: unknown, check?: (k: string, v: string) => string | undefined): Record<string, string> {
    if (v === undefined || v === null) return {};
    if (!isObj(v)) {
        p.add(where, "expected a map of names to values");
        return {};
    }
    const out: Record<string, string> = {};
    for (const [k, raw] of Object.entries(v)) {
        if (isObj(raw) || Array.isArray(raw)) {
            p.add(`${where}.${k}`, "expected a single value (a string, number or boolean as written), not a map or list");
            continue;
        }
        // As yaml.v3 fills a Go string: the scalar's text, and "" for an empty value or null.
        const s = raw === null ? "" : String(raw);
        const err = check?.(k, s);
        if (err) p.add(`${where}.${k}`, err);
        out[k] = s;
    }
    return out;
}

export function readResources(p: Problems, where: string, v: unknown): Resources {
    if (v === undefined || v === null) return {};
    if (!isObj(v)) {
        p.add(where, "expected a map with cpu and/or memory");
        return {};
    }
    const out: { cpu?: string; memory?: string } = {};
    for (const [k, raw] of Object.entries(v)) {
        if (k !== "cpu" && k !== "memory") {
            p.add(`${where}.${k}`, "unknown field; expected cpu or memory");
            continue;
        }
        if (raw === null || raw === "") continue;
        const s = String(raw);
        if (parseQuantity(s) === undefined) p.add(`${where}.${k}`, `"${s}" is not a Kubernetes quantity (e.g. ${k === "cpu" ? "100m or 0.5" : "128Mi or 1Gi"})`);
        out[k] = s;
    }
    return out;
}

export function stringList(p: Problems, where: string, v: unknown, check: (s: string) => string | undefined): string[] {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) {
        p.add(where, "expected a list");
        return [];
    }
    return v.map((item, i) => {
        const s = String(item);
        const err = typeof item === "string" ? check(s) : "expected a string";
        if (err) p.add(`${where}[${i}]`, err);
        return s;
    });
}

const REPLICAS = { type: "integer", minimum: 1, maximum: 1000 } as const;

/** `autoscaling`, in the functions file and in a stack's override; the range and metric rules are {@link autoscalingProblems}, applied in {@link readAutoscaling}. */
export const AUTOSCALING_SCHEMA: Schema = {
    type: "object",
    expected: "expected a map with minReplicas, maxReplicas, cpuUtilization and/or memoryAverage",
    additionalProperties: false,
    properties: {
        minReplicas: REPLICAS,
        maxReplicas: REPLICAS,
        cpuUtilization: { type: "integer", minimum: 1, maximum: 1000 },
        memoryAverage: { type: ["string", "number"] },
    },
};

export function readAutoscaling(p: Problems, where: string, v: unknown, base?: Autoscaling): Autoscaling | undefined {
    const problems = schemaProblems(AUTOSCALING_SCHEMA, v, where);
    p.addAll(problems);
    // Replica counts and the CPU target must be right before the rules across them mean anything.
    if (!isObj(v) || problems.some((q) => q.key === where || /\.(minReplicas|maxReplicas|cpuUtilization)$/.test(q.key))) return undefined;
    const min = (v.minReplicas as number | undefined) ?? base?.minReplicas ?? 1;
    const max = (v.maxReplicas as number | undefined) ?? base?.maxReplicas;
    const cpu = (v.cpuUtilization as number | undefined) ?? base?.cpuUtilization;
    let memory = base?.memoryAverage;
    if (v.memoryAverage !== undefined && !problems.some((q) => q.key === `${where}.memoryAverage`)) {
        memory = String(v.memoryAverage);
        if (parseQuantity(memory) === undefined) p.add(`${where}.memoryAverage`, `"${memory}" is not a Kubernetes quantity (e.g. 400Mi)`);
    }
    if (max === undefined) {
        p.add(`${where}.maxReplicas`, "required: the most replicas the HPA may run");
        return undefined;
    }
    for (const problem of autoscalingProblems({ minReplicas: min, maxReplicas: max, metrics: [cpu, memory].filter((m) => m !== undefined).length })) p.add(where, problem);
    return { minReplicas: min, maxReplicas: max, cpuUtilization: cpu, memoryAverage: memory };
}

const IMAGE_POLICY_SHAPE = "expected a map with semver (a range, e.g. \">=1.0.0 <2.0.0\") or pattern (a tag regex), optionally extract (e.g. $ts) and order (numerical | alphabetical)";

/** The `imagePolicy` extension; which fields go together and the pattern's syntax are code in {@link readImagePolicy}. */
export const IMAGE_POLICY_SCHEMA: Schema = {
    type: "object",
    expected: IMAGE_POLICY_SHAPE,
    additionalProperties: false,
    properties: {
        semver: { type: "string", pattern: "\\S", expected: "expected a semver range string, e.g. \">=1.0.0 <2.0.0\" or \"1.x\"" },
        pattern: { type: "string", minLength: 1, expected: "expected a regular expression matching the tags to consider" },
        extract: { type: "string", expected: "expected a string such as $ts naming a capture group" },
        order: { enum: ["numerical", "alphabetical"], expected: "expected numerical | alphabetical" },
    },
};

/**
 * Pure: whether Flux can read `range` as a semver range. Flux uses Masterminds/semver, which also
 * takes a comma between constraints (AND); npm's semver, which checks it here, takes a space.
 */
function semverRange(range: string): boolean {
    return semver.validRange(range.replace(/,/g, " ")) !== null;
}

export function readImagePolicy(p: Problems, where: string, v: unknown): ImagePolicyDef | undefined {
    const problems = schemaProblems(IMAGE_POLICY_SCHEMA, v, where);
    p.addAll(problems);
    if (!isObj(v) || problems.some((q) => q.key === where)) return undefined;
    if ((v.semver === undefined) === (v.pattern === undefined)) {
        p.add(where, `${IMAGE_POLICY_SHAPE}: exactly one of semver and pattern`);
        return undefined;
    }
    if (v.semver !== undefined) {
        if (v.extract !== undefined || v.order !== undefined) p.add(where, "extract and order go with pattern, not semver");
        if (typeof v.semver !== "string") return undefined;
        if (!semverRange(v.semver)) {
            p.add(`${where}.semver`, "not a semver range; expected e.g. \">=1.0.0 <2.0.0\", \"~1.2\", \"^1.2.3\" or \"1.x\"", v.semver);
            return undefined;
        }
        return { semver: v.semver };
    }
    const pattern = typeof v.pattern === "string" ? v.pattern : "";
    try {
        // Flux takes Go regexps; JS spells named groups (?<n>) where Go also accepts (?P<n>).
        new RegExp(pattern.replace(/\(\?P</g, "(?<"));
    } catch (e) {
        p.add(`${where}.pattern`, `not a regular expression (${(e as Error).message})`);
    }
    return { pattern, extract: typeof v.extract === "string" ? v.extract : undefined, order: v.order === "alphabetical" ? "alphabetical" : "numerical" };
}

/** One entry of `schedules`; the cron dialect and unique names are code in {@link readSchedules}. */
const SCHEDULE_SCHEMA: Schema = {
    type: "object",
    expected: "expected a map with name, cron, payload and async",
    required: ["cron"],
    additionalProperties: false,
    properties: {
        name: { type: ["string", "number"] },
        cron: { type: "string", description: "a cron expression such as \"*/5 * * * *\"", expected: "required: a cron expression such as \"*/5 * * * *\"" },
        payload: { type: "string" },
        async: { type: "boolean" },
    },
};

/** `schedules`: a list of scheduled invocations. */
export const SCHEDULES_SCHEMA: Schema = { type: "array", expected: "expected a list of {name, cron, payload, async}", items: SCHEDULE_SCHEMA };

export function readSchedules(p: Problems, where: string, v: unknown): Schedule[] {
    if (v === undefined || v === null) return [];
    const problems = schemaProblems(SCHEDULES_SCHEMA, v, where);
    p.addAll(problems);
    if (!Array.isArray(v)) return [];
    const seen = new Set<string>();
    return v.flatMap((s, i): Schedule[] => {
        const at = `${where}[${i}]`;
        if (!isObj(s) || typeof s.cron !== "string") return [];
        const name = s.name === undefined ? "cron" : String(s.name);
        if (!DNS_LABEL.test(name) || name.length > 30) p.add(`${at}.name`, `"${name}" must be a DNS-1123 label of at most 30 characters`);
        if (seen.has(name)) p.add(`${at}.name`, `duplicate schedule name "${name}"`);
        seen.add(name);
        const cronErr = cronProblem(s.cron);
        if (cronErr) p.add(`${at}.cron`, `"${s.cron}": ${cronErr}`);
        return [{ name, cron: s.cron, payload: typeof s.payload === "string" ? s.payload : "", async: s.async === true }];
    });
}
