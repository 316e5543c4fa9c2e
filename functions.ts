/**
 * Reads `functions/stack.yml` (faas-cli's format) and the per-stack `functions` overrides into
 * validated function definitions. Pure: text in, definitions or one error listing every problem out.
 */
import * as yaml from "js-yaml";
import { DNS_LABEL, DNS_SUBDOMAIN, LABEL_KEY, LABEL_VALUE } from "./names";

/** OpenFaaS Community Edition limits, enforced by faas-netes itself (see README "Functions"). */
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
    /** Five-field cron expression or a macro such as @hourly. */
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
    /** faas-cli constraints, `key=value` node selectors. */
    readonly constraints: readonly string[];
    /** Fixed replica count (`com.openfaas.scale.min`, or a per-stack override); undefined with autoscaling. */
    readonly replicas?: number;
    readonly autoscaling?: Autoscaling;
    readonly schedules: readonly Schedule[];
}

/** One problem: where it is (`<file> functions.<name>.<field>` or a config key) and what is expected. */
export interface FunctionProblem {
    readonly where: string;
    readonly what: string;
}

const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;
/** Kubernetes quantity: decimal number with an optional binary/decimal suffix or exponent. */
const QUANTITY = /^(\d+(\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][-+]?\d+)?$/;
const SUFFIX: Record<string, number> = {
    "": 1, n: 1e-9, u: 1e-6, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
    Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

/** Pure: a quantity's value, or undefined when it is not a Kubernetes quantity. */
export function parseQuantity(q: string): number | undefined {
    const m = QUANTITY.exec(q);
    if (!m) return undefined;
    const suffix = m[3] ?? "";
    if (/^[eE]/.test(suffix)) return Number(m[1] + suffix);
    return Number(m[1]) * SUFFIX[suffix]!;
}

const CRON_FIELD = /^(\*|\d+(-\d+)?)(\/\d+)?(,(\*|\d+(-\d+)?)(\/\d+)?)*$/;
const CRON_RANGES: [number, number][] = [[0, 59], [0, 23], [1, 31], [1, 12], [0, 7]];
const CRON_MACROS = ["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"];

/** Pure: undefined when `expr` is a schedule the CronJob controller accepts, else what is wrong. */
export function cronProblem(expr: string): string | undefined {
    if (CRON_MACROS.includes(expr)) return undefined;
    const fields = expr.trim().split(/\s+/);
    if (fields.length !== 5) return `expected 5 fields (minute hour day-of-month month day-of-week) or one of ${CRON_MACROS.join(", ")}, got ${fields.length}`;
    const names = ["minute", "hour", "day-of-month", "month", "day-of-week"];
    for (let i = 0; i < 5; i++) {
        const f = fields[i]!;
        if (!CRON_FIELD.test(f)) return `${names[i]} field "${f}" is not a number, range, list or step`;
        const [lo, hi] = CRON_RANGES[i]!;
        for (const n of f.match(/\d+/g) ?? []) {
            const step = f.includes(`/${n}`);
            if (!step && (Number(n) < lo || Number(n) > hi)) return `${names[i]} value ${n} is outside ${lo}-${hi}`;
        }
    }
    return undefined;
}

const FUNCTION_FIELDS = new Set([
    "image", "environment", "labels", "annotations", "limits", "requests", "secrets",
    "readonly_root_filesystem", "readOnlyRootFilesystem", "constraints",
    // faas-cli build-time fields: accepted so the same file still builds with faas-cli, unused here.
    "lang", "handler", "build_args", "build_options", "skip_build", "platforms",
    // Extensions of this project; faas-cli ignores them.
    "autoscaling", "schedules",
]);
const TOP_FIELDS = new Set(["version", "provider", "functions", "configuration"]);

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

/** Collects problems, each under a location. */
class Problems {
    readonly list: FunctionProblem[] = [];
    constructor(private readonly prefix = "") {}
    add(where: string, what: string): void {
        this.list.push({ where: this.prefix + where, what });
    }
}

function stringMap(p: Problems, where: string, v: unknown, check?: (k: string, v: string) => string | undefined): Record<string, string> {
    if (v === undefined || v === null) return {};
    if (!isObj(v)) {
        p.add(where, "expected a map of names to values");
        return {};
    }
    const out: Record<string, string> = {};
    for (const [k, raw] of Object.entries(v)) {
        if (isObj(raw) || Array.isArray(raw) || raw === null) {
            p.add(`${where}.${k}`, "expected a string, number or boolean");
            continue;
        }
        const s = String(raw);
        const err = check?.(k, s);
        if (err) p.add(`${where}.${k}`, err);
        out[k] = s;
    }
    return out;
}

function resources(p: Problems, where: string, v: unknown): Resources {
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
        const s = String(raw);
        if (parseQuantity(s) === undefined) p.add(`${where}.${k}`, `"${s}" is not a Kubernetes quantity (e.g. ${k === "cpu" ? "100m or 0.5" : "128Mi or 1Gi"})`);
        out[k] = s;
    }
    return out;
}

function stringList(p: Problems, where: string, v: unknown, check: (s: string) => string | undefined): string[] {
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

function int(p: Problems, where: string, v: unknown, min: number, max: number): number | undefined {
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
        p.add(where, `expected an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
        return undefined;
    }
    return v;
}

const AUTOSCALING_FIELDS = new Set(["minReplicas", "maxReplicas", "cpuUtilization", "memoryAverage"]);

function autoscaling(p: Problems, where: string, v: unknown, base?: Autoscaling): Autoscaling | undefined {
    if (!isObj(v)) {
        p.add(where, "expected a map with minReplicas, maxReplicas, cpuUtilization and/or memoryAverage");
        return undefined;
    }
    for (const k of Object.keys(v)) if (!AUTOSCALING_FIELDS.has(k)) p.add(`${where}.${k}`, `unknown field; expected ${[...AUTOSCALING_FIELDS].join(", ")}`);
    const min = v.minReplicas !== undefined ? int(p, `${where}.minReplicas`, v.minReplicas, 1, 1000) : (base?.minReplicas ?? 1);
    const max = v.maxReplicas !== undefined ? int(p, `${where}.maxReplicas`, v.maxReplicas, 1, 1000) : base?.maxReplicas;
    const cpu = v.cpuUtilization !== undefined ? int(p, `${where}.cpuUtilization`, v.cpuUtilization, 1, 1000) : base?.cpuUtilization;
    let memory = base?.memoryAverage;
    if (v.memoryAverage !== undefined) {
        memory = String(v.memoryAverage);
        if (parseQuantity(memory) === undefined) p.add(`${where}.memoryAverage`, `"${memory}" is not a Kubernetes quantity (e.g. 400Mi)`);
    }
    if (max === undefined) {
        if (v.maxReplicas === undefined) p.add(`${where}.maxReplicas`, "required");
        return undefined;
    }
    if (min !== undefined && min > max) p.add(where, `minReplicas ${min} is greater than maxReplicas ${max}`);
    if (cpu === undefined && memory === undefined) p.add(where, "needs at least one metric: cpuUtilization or memoryAverage");
    return min === undefined ? undefined : { minReplicas: min, maxReplicas: max, cpuUtilization: cpu, memoryAverage: memory };
}

const SCHEDULE_FIELDS = new Set(["name", "cron", "payload", "async"]);

function schedules(p: Problems, where: string, v: unknown): Schedule[] {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) {
        p.add(where, "expected a list of {name, cron, payload, async}");
        return [];
    }
    const seen = new Set<string>();
    return v.flatMap((s, i): Schedule[] => {
        const at = `${where}[${i}]`;
        if (!isObj(s)) {
            p.add(at, "expected a map with name, cron, payload and async");
            return [];
        }
        for (const k of Object.keys(s)) if (!SCHEDULE_FIELDS.has(k)) p.add(`${at}.${k}`, `unknown field; expected ${[...SCHEDULE_FIELDS].join(", ")}`);
        const name = s.name === undefined ? "cron" : String(s.name);
        if (!DNS_LABEL.test(name) || name.length > 30) p.add(`${at}.name`, `"${name}" must be a DNS-1123 label of at most 30 characters`);
        if (seen.has(name)) p.add(`${at}.name`, `duplicate schedule name "${name}"`);
        seen.add(name);
        if (typeof s.cron !== "string") {
            p.add(`${at}.cron`, "required: a cron expression such as \"*/5 * * * *\"");
            return [];
        }
        const cronErr = cronProblem(s.cron);
        if (cronErr) p.add(`${at}.cron`, `"${s.cron}": ${cronErr}`);
        if (s.async !== undefined && typeof s.async !== "boolean") p.add(`${at}.async`, "expected true or false");
        if (s.payload !== undefined && typeof s.payload !== "string") p.add(`${at}.payload`, "expected a string");
        return [{ name, cron: s.cron, payload: s.payload === undefined ? "" : String(s.payload), async: s.async === true }];
    });
}

/** Pure: the functions of a stack.yml text, and every problem found in it. `file` prefixes each location. */
export function parseStackYml(text: string, file: string): { functions: FunctionDef[]; problems: FunctionProblem[] } {
    const p = new Problems(`${file} `);
    let doc: unknown;
    try {
        doc = yaml.load(text, { filename: file });
    } catch (e) {
        return { functions: [], problems: [{ where: file, what: `not valid YAML: ${(e as Error).message.split("\n")[0]}` }] };
    }
    if (!isObj(doc)) return { functions: [], problems: [{ where: file, what: "expected a map with `provider` and `functions`" }] };
    for (const k of Object.keys(doc)) if (!TOP_FIELDS.has(k)) p.add(k, `unknown top-level field; expected ${[...TOP_FIELDS].join(", ")}`);
    if (doc.provider !== undefined && (!isObj(doc.provider) || doc.provider.name !== "openfaas")) p.add("provider.name", 'expected "openfaas"');
    const fns = doc.functions;
    if (fns === undefined || fns === null) return { functions: [], problems: p.list };
    if (!isObj(fns)) return { functions: [], problems: [{ where: `${file} functions`, what: "expected a map of function names to definitions" }] };

    const out: FunctionDef[] = [];
    for (const [name, def] of Object.entries(fns)) {
        const at = `functions.${name}`;
        if (!DNS_LABEL.test(name)) p.add(at, `function name "${name}" must be a DNS-1123 label: lower case letters, digits and '-', at most 63 characters`);
        if (!isObj(def)) {
            p.add(at, "expected a map with at least `image`");
            continue;
        }
        for (const k of Object.keys(def)) if (!FUNCTION_FIELDS.has(k)) p.add(`${at}.${k}`, "unknown field");
        if (typeof def.image !== "string" || def.image.trim() === "") p.add(`${at}.image`, "required: the container image, e.g. ghcr.io/org/fn:1.0.0");
        if (def.readonly_root_filesystem !== undefined && def.readOnlyRootFilesystem !== undefined) {
            p.add(`${at}.readOnlyRootFilesystem`, "set either readonly_root_filesystem (faas-cli's spelling) or readOnlyRootFilesystem, not both");
        }
        const ro = def.readonly_root_filesystem ?? def.readOnlyRootFilesystem ?? false;
        if (typeof ro !== "boolean") p.add(`${at}.readonly_root_filesystem`, "expected true or false");

        const labels = stringMap(p, `${at}.labels`, def.labels, (k, v) =>
            !LABEL_KEY.test(k) ? "not a valid label key" : !LABEL_VALUE.test(v) ? `"${v}" is not a valid label value (63 characters of A-Z a-z 0-9 - _ .)` : undefined,
        );
        const annotations = stringMap(p, `${at}.annotations`, def.annotations, (k) => (LABEL_KEY.test(k) ? undefined : "not a valid annotation key"));
        const environment = stringMap(p, `${at}.environment`, def.environment, (k) => (ENV_NAME.test(k) ? undefined : "not a valid environment variable name"));
        const limits = resources(p, `${at}.limits`, def.limits);
        const requests = resources(p, `${at}.requests`, def.requests);
        for (const r of ["cpu", "memory"] as const) {
            const req = requests[r] && parseQuantity(requests[r]!);
            const lim = limits[r] && parseQuantity(limits[r]!);
            if (req !== undefined && lim !== undefined && req > lim) p.add(`${at}.requests.${r}`, `${requests[r]} exceeds limits.${r} ${limits[r]}; Kubernetes rejects a request above its limit`);
        }
        const secrets = stringList(p, `${at}.secrets`, def.secrets, (s) => (DNS_SUBDOMAIN.test(s) ? undefined : `"${s}" is not a valid Secret name`));
        const constraints = stringList(p, `${at}.constraints`, def.constraints, (s) => {
            const [k, v, ...rest] = s.split("=");
            return rest.length === 0 && v !== undefined && LABEL_KEY.test(k!.trim()) && LABEL_VALUE.test(v.trim()) ? undefined : `"${s}" must be a node selector "label=value"`;
        });

        let replicas: number | undefined;
        const scaleMin = labels["com.openfaas.scale.min"];
        if (scaleMin !== undefined) {
            replicas = /^\d+$/.test(scaleMin) ? Number(scaleMin) : undefined;
            if (replicas === undefined || replicas < 1) p.add(`${at}.labels.com.openfaas.scale.min`, `"${scaleMin}" must be a whole number of at least 1`);
        }
        const scaling = def.autoscaling === undefined ? undefined : autoscaling(p, `${at}.autoscaling`, def.autoscaling);

        out.push({
            name,
            image: String(def.image ?? ""),
            environment,
            labels,
            annotations,
            limits,
            requests,
            secrets,
            readOnlyRootFilesystem: ro === true,
            constraints,
            replicas: scaling ? undefined : replicas,
            autoscaling: scaling,
            schedules: schedules(p, `${at}.schedules`, def.schedules),
        });
    }
    return { functions: out, problems: p.list };
}

/** Pure: the CronJob name of a function's schedule. */
export function scheduleJobName(fn: string, schedule: string): string {
    return `${fn}-${schedule}`;
}

const OVERRIDE_FIELDS = new Set(["replicas", "autoscaling", "schedules"]);

/**
 * Pure: applies per-stack overrides and the edition's limits. Problems are reported under the
 * config key (`openfaas-gitops:functions.<name>...`) or the file, whichever the fix belongs in.
 */
export function applyOverrides(
    fns: readonly FunctionDef[],
    overrides: Readonly<Record<string, unknown>>,
    opts: { pro: boolean; schedules: boolean; file: string; configKey: string },
): { functions: FunctionDef[]; problems: FunctionProblem[] } {
    const p = new Problems();
    const byName = new Map(fns.map((f) => [f.name, f]));
    for (const name of Object.keys(overrides)) {
        if (!byName.has(name)) p.add(`${opts.configKey}.${name}`, `no function "${name}" in ${opts.file}; known: ${[...byName.keys()].join(", ") || "none"}`);
    }
    const out = fns.map((f): FunctionDef => {
        const at = `${opts.configKey}.${f.name}`;
        const o = overrides[f.name];
        let fn = f;
        if (o !== undefined) {
            if (!isObj(o)) {
                p.add(at, "expected a map with replicas, autoscaling and/or schedules");
            } else {
                for (const k of Object.keys(o)) if (!OVERRIDE_FIELDS.has(k)) p.add(`${at}.${k}`, `unknown field; expected ${[...OVERRIDE_FIELDS].join(", ")}`);
                let scaling: Autoscaling | undefined = f.autoscaling;
                if (o.autoscaling === false) scaling = undefined;
                else if (o.autoscaling !== undefined) scaling = autoscaling(p, `${at}.autoscaling`, o.autoscaling, f.autoscaling);
                let replicas = scaling ? undefined : f.replicas;
                if (o.replicas !== undefined) {
                    replicas = int(p, `${at}.replicas`, o.replicas, 1, 1000);
                    if (scaling) p.add(`${at}.replicas`, "conflicts with autoscaling: the HPA owns the replica count; set autoscaling: false or drop replicas");
                }
                if (o.schedules !== undefined && o.schedules !== false) p.add(`${at}.schedules`, "only false is allowed here (turns this function's schedules off in this stack); define schedules in the stack file");
                fn = { ...f, replicas, autoscaling: scaling, schedules: o.schedules === false ? [] : f.schedules };
            }
        }
        return opts.schedules ? fn : { ...fn, schedules: [] };
    });

    for (const f of out) {
        const where = `${opts.file} functions.${f.name}`;
        if (f.autoscaling?.cpuUtilization !== undefined && !f.requests.cpu) {
            p.add(`${where}.requests.cpu`, "required with autoscaling.cpuUtilization: the HPA measures CPU as a percentage of the request");
        }
        for (const s of f.schedules) {
            if (scheduleJobName(f.name, s.name).length > 52) p.add(`${where}.schedules`, `CronJob name "${scheduleJobName(f.name, s.name)}" is longer than Kubernetes' 52 characters; shorten the function or schedule name`);
        }
    }
    if (!opts.pro) {
        if (out.length > CE_LIMITS.maxFunctions) {
            p.add(opts.file, `${out.length} functions, but OpenFaaS Community Edition allows at most ${CE_LIMITS.maxFunctions} (with more present at startup it disables ALL invocations); remove some, or set proLicense for OpenFaaS Pro`);
        }
        for (const f of out) {
            const where = `${opts.file} functions.${f.name}`;
            if (f.replicas !== undefined && f.replicas > CE_LIMITS.maxReplicas) {
                p.add(where, `replicas ${f.replicas}: OpenFaaS Community Edition runs 1 to ${CE_LIMITS.maxReplicas} replicas and faas-netes rewrites any other count, which would fight every apply; use at most ${CE_LIMITS.maxReplicas}, or set proLicense for OpenFaaS Pro`);
            }
            if (f.autoscaling && f.autoscaling.maxReplicas > CE_LIMITS.maxReplicas) {
                p.add(where, `autoscaling.maxReplicas ${f.autoscaling.maxReplicas}: OpenFaaS Community Edition caps functions at ${CE_LIMITS.maxReplicas} replicas (faas-netes scales anything above back down, fighting the HPA); use at most ${CE_LIMITS.maxReplicas}, or set proLicense for OpenFaaS Pro`);
            }
        }
    }
    return { functions: out, problems: p.list };
}
