/**
 * Reads `functions/stack.yml` (faas-cli's format) and the per-stack `functions` overrides into
 * validated function definitions. Pure: text in, definitions or one error listing every problem out.
 */
import * as path from "node:path";
import * as yaml from "js-yaml";
import { DEFAULT_NAMESPACES } from "./components/namespaces";
import { cronProblem } from "./cron";
import { substitute } from "./envsubst";
import { AS_WRITTEN_SCHEMA, nodeSelectorOf, yamlBool } from "./faas-cli";
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
    /** A CronJob schedule: five fields, or a descriptor such as @hourly or @every 5m (see cron.ts). */
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

/** One problem: where it is (`<file> functions.<name>.<field>` or a config key) and what is expected. */
export interface FunctionProblem {
    readonly where: string;
    readonly what: string;
}

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

/** Namespaces a function may not use: the platform's own and Kubernetes'. */
const RESERVED_NAMESPACES = new Set([DEFAULT_NAMESPACES.core, DEFAULT_NAMESPACES.contour, DEFAULT_NAMESPACES.certManager, DEFAULT_NAMESPACES.sealedSecrets, "kube-system", "kube-public", "kube-node-lease"]);

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

const FUNCTION_FIELDS = new Set([
    "image", "environment", "environment_file", "labels", "annotations", "limits", "requests", "secrets",
    "readonly_root_filesystem", "readOnlyRootFilesystem", "constraints", "fprocess", "namespace",
    // faas-cli build-time fields: accepted so the same file still builds with faas-cli, unused here.
    "lang", "handler", "build_args", "build_options", "build_secrets", "skip_build", "platforms",
    // Extensions of this project; faas-cli ignores them.
    "autoscaling", "schedules", "imagePolicy",
]);
const TOP_FIELDS = new Set(["version", "provider", "functions", "configuration"]);
/** Top-level keys faas-cli ignores, used as holders of YAML anchors (as in docker-compose). */
const EXTENSION_KEY = /^x-/;
/** The only stack file version faas-cli accepts (go-sdk stack.ValidSchemaVersions). */
const STACK_VERSION = "1.0";

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
        if (raw === null || raw === "") continue;
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

const IMAGE_POLICY_FIELDS = new Set(["semver", "pattern", "extract", "order"]);

function imagePolicy(p: Problems, where: string, v: unknown): ImagePolicyDef | undefined {
    const expected = "expected a map with semver (a range, e.g. \">=1.0.0 <2.0.0\") or pattern (a tag regex), optionally extract (e.g. $ts) and order (numerical | alphabetical)";
    if (!isObj(v)) {
        p.add(where, expected);
        return undefined;
    }
    for (const k of Object.keys(v)) if (!IMAGE_POLICY_FIELDS.has(k)) p.add(`${where}.${k}`, `unknown field; expected ${[...IMAGE_POLICY_FIELDS].join(", ")}`);
    if ((v.semver === undefined) === (v.pattern === undefined)) {
        p.add(where, `${expected}: exactly one of semver and pattern`);
        return undefined;
    }
    if (v.semver !== undefined) {
        if (typeof v.semver !== "string" || v.semver.trim() === "") p.add(`${where}.semver`, "expected a semver range string, e.g. \">=1.0.0 <2.0.0\" or \"1.x\"");
        if (v.extract !== undefined || v.order !== undefined) p.add(where, "extract and order go with pattern, not semver");
        return typeof v.semver === "string" ? { semver: v.semver } : undefined;
    }
    const pattern = typeof v.pattern === "string" ? v.pattern : "";
    try {
        // Flux takes Go regexps; JS spells named groups (?<n>) where Go also accepts (?P<n>).
        new RegExp(pattern.replace(/\(\?P</g, "(?<"));
    } catch (e) {
        p.add(`${where}.pattern`, `not a regular expression (${(e as Error).message})`);
    }
    if (pattern === "") p.add(`${where}.pattern`, "expected a regular expression matching the tags to consider");
    if (v.extract !== undefined && typeof v.extract !== "string") p.add(`${where}.extract`, "expected a string such as $ts naming a capture group");
    const order = v.order ?? "numerical";
    if (order !== "numerical" && order !== "alphabetical") p.add(`${where}.order`, `expected numerical | alphabetical, got ${JSON.stringify(v.order)}`);
    return { pattern, extract: typeof v.extract === "string" ? v.extract : undefined, order: order === "alphabetical" ? "alphabetical" : "numerical" };
}

/** The file holding the cron jobs' invoke image, where Flux's setters can rewrite it; its ImagePolicy's name. */
export const INVOKER_FILE = "functions/invoker.yml";
export const INVOKER_IMAGE_POLICY = "cron-invoker";

/** The image scheduled invocations run, and how Flux may update it. */
export interface Invoker {
    readonly image: string;
    readonly imagePolicy: ImagePolicyDef;
}

/** Pure: the invoker file (`image:` and `imagePolicy:`), or what is wrong with it. */
export function parseInvokerYml(text: string, file: string): { invoker?: Invoker; problems: FunctionProblem[] } {
    const p = new Problems(`${file} `);
    let doc: unknown;
    try {
        doc = yaml.load(text);
    } catch (e) {
        p.add("", `not valid YAML: ${(e as Error).message.split("\n")[0]}`);
        return { problems: p.list };
    }
    if (!isObj(doc)) {
        p.add("", "expected a map with image and imagePolicy");
        return { problems: p.list };
    }
    for (const k of Object.keys(doc)) if (k !== "image" && k !== "imagePolicy") p.add(k, "unknown field; expected image, imagePolicy");
    const image = typeof doc.image === "string" ? doc.image : "";
    if (!/:[^:/]+$|@sha256:/.test(image) || /:latest$/.test(image)) p.add("image", `expected a pinned image reference (a version tag or digest, not latest), got ${JSON.stringify(doc.image)}`);
    const policy = imagePolicy(p, "imagePolicy", doc.imagePolicy);
    return { invoker: policy && p.list.length === 0 ? { image, imagePolicy: policy } : undefined, problems: p.list };
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

/** What {@link parseStackYml} needs besides the text. */
export interface StackYmlContext {
    /** Values for `${VAR}` substitution (the `functionsEnv` config). @default {} */
    readonly env?: Readonly<Record<string, string>>;
    /** Reads a project file by its project-relative path (for `environment_file`). @default none: any environment_file is a problem */
    readonly readFile?: (relativePath: string) => string;
}

/** Parses YAML twice: typed (for this project's numeric and boolean extensions) and as written (for faas-cli's string fields). */
function loadBoth(text: string, file: string): { typed: unknown; written: unknown } | { error: string } {
    try {
        return { typed: yaml.load(text, { filename: file }), written: yaml.load(text, { filename: file, schema: AS_WRITTEN_SCHEMA }) };
    } catch (e) {
        return { error: `not valid YAML: ${(e as Error).message.split("\n")[0]}` };
    }
}

/**
 * The environment of faas-cli's `environment_file` list: YAML files with an `environment` map, read
 * in order, later files overriding earlier ones (faas-cli commands/deploy.go readFiles). Paths are
 * relative to the stack file's directory, where faas-cli is run from, and must stay in the project:
 * the agent has nothing else.
 */
function environmentFiles(p: Problems, where: string, list: unknown, stackFile: string, ctx: StackYmlContext): Record<string, string> {
    const out: Record<string, string> = {};
    stringList(p, where, list, () => undefined).forEach((entry, i) => {
        const at = `${where}[${i}]`;
        const rel = path.posix.normalize(path.posix.join(path.posix.dirname(stackFile), entry));
        if (path.posix.isAbsolute(entry) || rel.startsWith("../") || rel === "..") {
            p.add(at, `"${entry}" is outside the project; give a path relative to ${path.posix.dirname(stackFile)}/ inside the repository (the agent only has the repository)`);
            return;
        }
        if (!ctx.readFile) {
            p.add(at, `${rel}: no project files to read it from`);
            return;
        }
        let text: string;
        try {
            text = ctx.readFile(rel);
        } catch (e) {
            p.add(at, `${rel}: cannot read it (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
            return;
        }
        let doc: unknown;
        try {
            doc = yaml.load(text, { filename: rel, schema: AS_WRITTEN_SCHEMA });
        } catch (e) {
            p.add(at, `${rel}: not valid YAML: ${(e as Error).message.split("\n")[0]}`);
            return;
        }
        if (doc === null || doc === undefined) return;
        if (!isObj(doc)) {
            p.add(at, `${rel}: expected a map with an environment map, e.g. "environment: {KEY: value}"`);
            return;
        }
        for (const k of Object.keys(doc)) if (k !== "environment") p.add(at, `${rel}: unknown field "${k}"; an environment file holds only environment`);
        Object.assign(out, stringMap(p, `${at} (${rel}) environment`, doc.environment, (k) => (ENV_NAME.test(k) ? undefined : "not a valid environment variable name")));
    });
    return out;
}

/** Node selectors of the constraints, as `key=value`, with Swarm-style ones translated. */
function constraintsOf(p: Problems, where: string, v: unknown): string[] {
    const keys = new Map<string, string>();
    return stringList(p, where, v, () => undefined).flatMap((c, i) => {
        const r = nodeSelectorOf(c);
        if ("problem" in r) {
            p.add(`${where}[${i}]`, r.problem);
            return [];
        }
        const [k, val] = r.selector;
        if (!LABEL_KEY.test(k) || !LABEL_VALUE.test(val)) {
            p.add(`${where}[${i}]`, `"${c}": "${k}=${val}" is not a valid node label key and value`);
            return [];
        }
        if (keys.has(k) && keys.get(k) !== val) p.add(`${where}[${i}]`, `"${c}" contradicts an earlier constraint on ${k}=${keys.get(k)}; a node has one value per label`);
        keys.set(k, val);
        return [`${k}=${val}`];
    });
}

/** Checks the scaling labels' syntax; which ones an edition honours is checked in {@link applyOverrides}. */
function checkScaleLabels(p: Problems, at: string, labels: Readonly<Record<string, string>>): void {
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
 * Pure: the functions of a stack.yml text, and every problem found in it. `file` (project-relative)
 * prefixes each location. Reads it as faas-cli 0.18.12 does: `${VAR}` substitution first, string
 * fields as written, `environment_file` merged over `environment`, `fprocess` as the watchdog's
 * `fprocess` variable.
 */
export function parseStackYml(text: string, file: string, ctx: StackYmlContext = {}): { functions: FunctionDef[]; problems: FunctionProblem[] } {
    const p = new Problems(`${file} `);
    const subst = substitute(text, ctx.env ?? {});
    if (subst.problems.length > 0) return { functions: [], problems: subst.problems.map((s) => ({ where: `${file} line ${s.line}`, what: s.what })) };
    const loaded = loadBoth(subst.text, file);
    if ("error" in loaded) return { functions: [], problems: [{ where: file, what: loaded.error }] };
    const { typed: doc, written } = loaded;
    if (!isObj(doc) || !isObj(written)) return { functions: [], problems: [{ where: file, what: "expected a map with `provider` and `functions`" }] };
    for (const k of Object.keys(doc)) {
        if (!TOP_FIELDS.has(k) && !EXTENSION_KEY.test(k)) p.add(k, `unknown top-level field; expected ${[...TOP_FIELDS].join(", ")} or an x- extension key`);
    }
    if (written.version !== undefined && written.version !== STACK_VERSION) p.add("version", `"${written.version}": faas-cli accepts only version ${STACK_VERSION}`);
    if (doc.provider !== undefined && (!isObj(doc.provider) || doc.provider.name !== "openfaas")) p.add("provider.name", 'expected "openfaas"');
    const fns = doc.functions;
    if (fns === undefined || fns === null) return { functions: [], problems: p.list };
    if (!isObj(fns) || !isObj(written.functions)) return { functions: [], problems: [{ where: `${file} functions`, what: "expected a map of function names to definitions" }] };
    const writtenFns = written.functions;

    const out: FunctionDef[] = [];
    for (const [name, def] of Object.entries(fns)) {
        const at = `functions.${name}`;
        if (!DNS_LABEL.test(name)) p.add(at, `function name "${name}" must be a DNS-1123 label: lower case letters, digits and '-', at most 63 characters`);
        const w = writtenFns[name];
        if (!isObj(def) || !isObj(w)) {
            p.add(at, "expected a map with at least `image`");
            continue;
        }
        for (const k of Object.keys(def)) if (!FUNCTION_FIELDS.has(k)) p.add(`${at}.${k}`, "unknown field");
        if (typeof w.image !== "string" || w.image.trim() === "") p.add(`${at}.image`, "required: the container image, e.g. ghcr.io/org/fn:1.0.0");
        if (w.readonly_root_filesystem !== undefined && w.readOnlyRootFilesystem !== undefined) {
            p.add(`${at}.readOnlyRootFilesystem`, "set either readonly_root_filesystem (faas-cli's spelling) or readOnlyRootFilesystem, not both");
        }
        const roField = w.readOnlyRootFilesystem !== undefined ? "readOnlyRootFilesystem" : "readonly_root_filesystem";
        const ro = yamlBool(w[roField]);
        if (ro === undefined) p.add(`${at}.${roField}`, `${JSON.stringify(w[roField])}: expected true or false (or yes/no, on/off, as faas-cli's YAML reader takes them)`);

        const labels = stringMap(p, `${at}.labels`, w.labels, (k, v) =>
            !LABEL_KEY.test(k) ? "not a valid label key" : !LABEL_VALUE.test(v) ? `"${v}" is not a valid label value (63 characters of A-Z a-z 0-9 - _ .)` : undefined,
        );
        checkScaleLabels(p, at, labels);
        const annotations = stringMap(p, `${at}.annotations`, w.annotations, (k) => (LABEL_KEY.test(k) ? undefined : "not a valid annotation key"));
        const environment = {
            ...stringMap(p, `${at}.environment`, w.environment, (k) => (ENV_NAME.test(k) ? undefined : "not a valid environment variable name")),
            ...environmentFiles(p, `${at}.environment_file`, w.environment_file, file, ctx),
        };
        if (w.fprocess !== undefined && w.fprocess !== null) {
            const fprocess = String(w.fprocess);
            // faas-netes hands fprocess to the watchdog as the `fprocess` variable; a second, different one would be ambiguous.
            if (environment.fprocess !== undefined && environment.fprocess !== fprocess) p.add(`${at}.fprocess`, `"${fprocess}" differs from environment.fprocess "${environment.fprocess}"; the watchdog reads one fprocess variable, keep one of them`);
            environment.fprocess = fprocess;
        }
        const limits = resources(p, `${at}.limits`, w.limits);
        const requests = resources(p, `${at}.requests`, w.requests);
        for (const r of ["cpu", "memory"] as const) {
            const req = requests[r] && parseQuantity(requests[r]!);
            const lim = limits[r] && parseQuantity(limits[r]!);
            if (req !== undefined && lim !== undefined && req > lim) p.add(`${at}.requests.${r}`, `${requests[r]} exceeds limits.${r} ${limits[r]}; Kubernetes rejects a request above its limit`);
        }
        const secrets = stringList(p, `${at}.secrets`, w.secrets, (s) => (DNS_SUBDOMAIN.test(s) ? undefined : `"${s}" is not a valid Secret name`));
        const constraints = constraintsOf(p, `${at}.constraints`, w.constraints);
        let namespace: string | undefined;
        if (w.namespace !== undefined && w.namespace !== null && w.namespace !== "") {
            namespace = String(w.namespace);
            if (!DNS_LABEL.test(namespace)) p.add(`${at}.namespace`, `"${namespace}" is not a DNS-1123 label`);
            else if (RESERVED_NAMESPACES.has(namespace) || namespace.startsWith("kube-")) p.add(`${at}.namespace`, `"${namespace}" belongs to the platform or to Kubernetes; functions run in ${DEFAULT_NAMESPACES.functions} or a namespace of their own`);
            // The platform's function namespace is the default: keep one spelling of it.
            if (namespace === DEFAULT_NAMESPACES.functions) namespace = undefined;
        }
        const scaling = def.autoscaling === undefined ? undefined : autoscaling(p, `${at}.autoscaling`, def.autoscaling);

        out.push({
            name,
            image: typeof w.image === "string" ? w.image : "",
            environment,
            labels,
            annotations,
            limits,
            requests,
            secrets,
            readOnlyRootFilesystem: ro === true,
            constraints,
            namespace,
            autoscaling: scaling,
            schedules: schedules(p, `${at}.schedules`, def.schedules),
            ...(def.imagePolicy === undefined ? {} : { imagePolicy: imagePolicy(p, `${at}.imagePolicy`, def.imagePolicy) }),
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
        for (const f of out) ceProblems(p, `${opts.file} functions.${f.name}`, f);
    }
    return { functions: out, problems: p.list };
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
