/**
 * The function model: what a function is (as the components consume it), and the rules of OpenFaaS
 * about functions (scaling labels, Community Edition limits). Pure; imports only other model modules.
 */
import { MAX_CRONJOB_NAME } from "./names";
import { DEFAULT_NAMESPACES } from "./platform";
import { Problems } from "./problem";

/** OpenFaaS Community Edition limits, enforced by faas-netes itself (see docs/functions.md). */
export const CE_LIMITS = { maxFunctions: 15, minReplicas: 1, maxReplicas: 5 } as const;

export interface Resources {
    readonly cpu?: string;
    readonly memory?: string;
}

/** Horizontal Pod Autoscaler settings of one function. */
export interface Autoscaling {
    readonly minReplicas: number;
    readonly maxReplicas: number;
    /** Target average CPU utilisation, percent of the request. */
    readonly cpuUtilization?: number;
    /** Target average memory per pod, a quantity such as 400Mi. */
    readonly memoryAverage?: string;
}

/** A scheduled invocation through the gateway. */
export interface Schedule {
    /** Unique within the function; names the CronJob `<function>-<name>`. */
    readonly name: string;
    /** A CronJob schedule: five fields, or a descriptor such as @hourly or @every 5m (see policies/shared/cron.ts). */
    readonly cron: string;
    /** Request body. @default "" */
    readonly payload: string;
    /** Invoke through the queue (/async-function) instead of waiting for the result. @default false */
    readonly async: boolean;
}

/** One function, as the components consume it. */
export interface FunctionDef {
    readonly name: string;
    readonly image: string;
    readonly environment: Readonly<Record<string, string>>;
    readonly labels: Readonly<Record<string, string>>;
    readonly annotations: Readonly<Record<string, string>>;
    readonly limits: Resources;
    readonly requests: Resources;
    readonly secrets: readonly string[];
    readonly readOnlyRootFilesystem: boolean;
    /** Node selectors `key=value`, from faas-cli constraints (Swarm-style ones translated). */
    readonly constraints: readonly string[];
    /** The function's own namespace (faas-cli `namespace`, OpenFaaS Pro); undefined: the platform's function namespace. */
    readonly namespace?: string;
    /** Fixed replica count from the per-stack override; undefined otherwise (the scale labels then apply). */
    readonly replicas?: number;
    readonly autoscaling?: Autoscaling;
    readonly schedules: readonly Schedule[];
    /** Which new tags Flux image automation may commit for this function; undefined: the image is not automated. */
    readonly imagePolicy?: ImagePolicyDef;
}

/** The `imagePolicy` extension: a semver range, or a tag pattern whose (extracted) value orders the tags. */
export type ImagePolicyDef =
    | { readonly semver: string }
    | { readonly pattern: string; readonly extract?: string; readonly order: "numerical" | "alphabetical" };


/** OpenFaaS scaling labels (faas-netes and the Pro autoscaler read them from the function's labels). */
export const SCALE = { min: "com.openfaas.scale.min", max: "com.openfaas.scale.max", zero: "com.openfaas.scale.zero" } as const;
/** Scaling labels only OpenFaaS Pro honours; faas-netes CE refuses them on deploy. */
const PRO_ONLY_SCALE_LABELS = [SCALE.zero, "com.openfaas.scale.zero-duration", "com.openfaas.scale.target", "com.openfaas.scale.type"];

/** Pure: a whole-number scaling label, or undefined when absent (validated by {@link parseStackYml}). */
export function scaleLabel(fn: Pick<FunctionDef, "labels">, which: "min" | "max"): number | undefined {
    const v = fn.labels[SCALE[which]];
    return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
}

/** Pure: the replica count of a CE Deployment without an HPA, as faas-netes sets it: the override, else `scale.min` if positive, else 1. */
export function fixedReplicas(fn: FunctionDef): number {
    const min = scaleLabel(fn, "min");
    return fn.replicas ?? (min !== undefined && min > 0 ? min : 1);
}

/** Pure: the CronJob name of a function's schedule. */
export function scheduleJobName(fn: string, schedule: string): string {
    return `${fn}-${schedule}`;
}

/** Pure: why a schedule's CronJob name is too long for Kubernetes, or undefined. */
export function scheduleNameProblem(fn: string, schedule: string): string | undefined {
    const name = scheduleJobName(fn, schedule);
    return name.length > MAX_CRONJOB_NAME ? `CronJob name "${name}" is longer than Kubernetes' ${MAX_CRONJOB_NAME} characters; shorten the function or schedule name` : undefined;
}

/** Checks the scaling labels' syntax; which ones an edition honours is checked by {@link checkCommunityEdition}. */
export function checkScaleLabels(p: Problems, at: string, labels: Readonly<Record<string, string>>): void {
    for (const which of ["min", "max"] as const) {
        const v = labels[SCALE[which]];
        if (v !== undefined && !/^\d+$/.test(v)) p.add(`${at}.labels.${SCALE[which]}`, `"${v}" must be a whole number`);
    }
    const min = scaleLabel({ labels }, "min");
    const max = scaleLabel({ labels }, "max");
    if (max !== undefined && max < 1) p.add(`${at}.labels.${SCALE.max}`, `"${max}" must be at least 1`);
    if (min !== undefined && max !== undefined && min > max) p.add(`${at}.labels.${SCALE.min}`, `"${min}" is greater than ${SCALE.max} "${max}"`);
    const zero = labels[SCALE.zero];
    if (zero !== undefined && zero !== "true" && zero !== "false") p.add(`${at}.labels.${SCALE.zero}`, `"${zero}" must be true or false`);
}

/**
 * What OpenFaaS Community Edition (faas-netes 0.18.x) cannot run as declared: more than
 * {@link CE_LIMITS}.maxFunctions functions, replica counts outside its range, Pro-only labels, own
 * namespaces. Each message names the Pro alternative. `file` locates the problems.
 */
export function checkCommunityEdition(p: Problems, file: string, fns: readonly FunctionDef[]): void {
    if (fns.length > CE_LIMITS.maxFunctions) {
        p.add(file, `${fns.length} functions, but OpenFaaS Community Edition allows at most ${CE_LIMITS.maxFunctions} (with more present at startup it disables ALL invocations); remove some, or set proLicense for OpenFaaS Pro`);
    }
    for (const f of fns) ceProblems(p, `${file} functions.${f.name}`, f);
}

/** What OpenFaaS Community Edition (faas-netes 0.18.x) cannot run as declared; each message names the Pro alternative. */
function ceProblems(p: Problems, where: string, f: FunctionDef): void {
    const pro = "or set proLicense for OpenFaaS Pro";
    if (!f.autoscaling && fixedReplicas(f) > CE_LIMITS.maxReplicas) {
        p.add(where, `replicas ${fixedReplicas(f)}: OpenFaaS Community Edition runs 1 to ${CE_LIMITS.maxReplicas} replicas and faas-netes rewrites any other count, which would fight every apply; use at most ${CE_LIMITS.maxReplicas}, ${pro}`);
    }
    if (scaleLabel(f, "min") === 0) p.add(`${where}.labels.${SCALE.min}`, `"0": scale to zero is an OpenFaaS Pro feature; Community Edition runs at least 1 replica (faas-netes sets 0 back to 1); use 1, ${pro}`);
    const max = scaleLabel(f, "max");
    if (max !== undefined && max > CE_LIMITS.maxReplicas) p.add(`${where}.labels.${SCALE.max}`, `"${max}": OpenFaaS Community Edition caps functions at ${CE_LIMITS.maxReplicas} replicas (faas-netes refuses a higher ${SCALE.max}); use at most ${CE_LIMITS.maxReplicas}, ${pro}`);
    for (const label of PRO_ONLY_SCALE_LABELS) {
        if (f.labels[label] !== undefined && !(label === SCALE.zero && f.labels[label] === "false")) {
            p.add(`${where}.labels.${label}`, `only OpenFaaS Pro's autoscaler reads it (faas-netes CE refuses it); remove it, ${pro}`);
        }
    }
    if (f.autoscaling && f.autoscaling.maxReplicas > CE_LIMITS.maxReplicas) {
        p.add(where, `autoscaling.maxReplicas ${f.autoscaling.maxReplicas}: OpenFaaS Community Edition caps functions at ${CE_LIMITS.maxReplicas} replicas (faas-netes scales anything above back down, fighting the HPA); use at most ${CE_LIMITS.maxReplicas}, ${pro}`);
    }
    if (f.namespace !== undefined) {
        p.add(`${where}.namespace`, `"${f.namespace}": OpenFaaS Community Edition serves functions from ${DEFAULT_NAMESPACES.functions} only (faas-netes refuses any other namespace); remove namespace, ${pro}`);
    }
}
