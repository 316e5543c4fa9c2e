/**
 * Reads `functions/stack.yml` (faas-cli's format) into function definitions. Pure: text in,
 * definitions and every problem out. The per-stack overrides are applied by config/functions.ts.
 */
import * as path from "node:path";
import { checkScaleLabels, FunctionDef } from "../../model/function";
import { DNS_LABEL, DNS_SUBDOMAIN, ENV_NAME, LABEL_KEY, LABEL_VALUE } from "../../model/names";
import { DEFAULT_NAMESPACES, RESERVED_NAMESPACES } from "../../model/platform";
import { Problem, Problems } from "../../model/problem";
import { parseQuantity } from "../../model/quantity";
import { loadYaml, textSizeProblem } from "../../model/yaml";
import { imageReferenceProblem } from "../../policies/shared/image";
import { substitute } from "./envsubst";
import { AS_WRITTEN_SCHEMA, nodeSelectorOf, yamlBool } from "./faas-cli";
import { unreadableReason } from "../files";
import { schemaProblems, Schema } from "../schema";
import { isObj, readAutoscaling, readImagePolicy, readResources, readSchedules, stringList, stringMap } from "./fields";

const FUNCTION_FIELDS = [
    "image", "environment", "environment_file", "labels", "annotations", "limits", "requests", "secrets",
    "readonly_root_filesystem", "readOnlyRootFilesystem", "constraints", "fprocess", "namespace",
    // faas-cli build-time fields: accepted so the same file still builds with faas-cli, unused here.
    "lang", "handler", "build_args", "build_options", "build_secrets", "skip_build", "platforms",
    // Extensions of this project; faas-cli ignores them.
    "autoscaling", "schedules", "imagePolicy",
];
const TOP_FIELDS = ["version", "provider", "functions", "configuration"];

/**
 * The shape of a stack file: which fields exist where. Each field's value is read (as faas-cli reads
 * it, from the document as written) by the code below; the extensions have schemas of their own in fields.ts.
 */
export const STACK_YML_SCHEMA: Schema = {
    type: "object",
    unknown: `unknown top-level field; expected ${TOP_FIELDS.join(", ")} or an x- extension key`,
    properties: {
        ...Object.fromEntries(TOP_FIELDS.map((f) => [f, {}])),
        // A functions value that is no map is reported by the code, which stops there.
        functions: {
            type: ["object", "null"],
            additionalProperties: {
                type: "object",
                expected: "expected a map with at least `image`",
                unknown: `unknown field; expected one of faas-cli's (${FUNCTION_FIELDS.filter((f) => !["autoscaling", "schedules", "imagePolicy"].includes(f)).join(", ")}) or this project's autoscaling, schedules, imagePolicy`,
                additionalProperties: false,
                properties: Object.fromEntries(FUNCTION_FIELDS.map((f) => [f, {}])),
            },
        },
    },
    // Top-level keys faas-cli ignores, used as holders of YAML anchors (as in docker-compose).
    patternProperties: { "^x-": {} },
    additionalProperties: false,
};
/** The only stack file version faas-cli accepts (go-sdk stack.ValidSchemaVersions). */
const STACK_VERSION = "1.0";

/** What {@link parseStackYml} needs besides the text. */
export interface StackYmlContext {
    /** Values for `${VAR}` substitution (the `functionsEnv` config). @default {} */
    readonly env?: Readonly<Record<string, string>>;
    /** Reads a project file by its project-relative path (for `environment_file`). @default none: any environment_file is a problem */
    readonly readFile?: (relativePath: string) => string;
}

/** Parses YAML twice: typed (for this project's numeric and boolean extensions) and as written (for faas-cli's string fields). */
function loadBoth(text: string, file: string): { typed: unknown; written: unknown } | { error: string } {
    const typed = loadYaml(text, { file });
    if ("error" in typed) return typed;
    const written = loadYaml(text, { file, schema: AS_WRITTEN_SCHEMA });
    if ("error" in written) return written;
    return { typed: typed.docs[0], written: written.docs[0] };
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
            p.add(at, `${rel}: cannot read it (${unreadableReason(e)})`);
            return;
        }
        const loaded = loadYaml(text, { file: rel, schema: AS_WRITTEN_SCHEMA });
        if ("error" in loaded) {
            p.add(at, `${rel}: ${loaded.error}`);
            return;
        }
        const doc = loaded.docs[0];
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

/**
 * Pure: the functions of a stack.yml text, and every problem found in it. `file` (project-relative)
 * prefixes each location. Reads it as faas-cli 0.18.12 does: `${VAR}` substitution first, string
 * fields as written, `environment_file` merged over `environment`, `fprocess` as the watchdog's
 * `fprocess` variable.
 */
/** Substitution problems listed one by one; the rest are counted. */
const LISTED_SUBSTITUTION_PROBLEMS = 20;

export function parseStackYml(text: string, file: string, ctx: StackYmlContext = {}): { functions: FunctionDef[]; problems: Problem[] } {
    const p = new Problems(`${file} `);
    const tooLong = textSizeProblem(text);
    if (tooLong) return { functions: [], problems: [{ key: file, expected: tooLong }] };
    const subst = substitute(text, ctx.env ?? {});
    if (subst.problems.length > 0) {
        // A file can have a problem on every line (130,000 in 1 MiB): the first ones say what to fix.
        const listed = subst.problems.slice(0, LISTED_SUBSTITUTION_PROBLEMS).map((s): Problem => ({ key: `${file} line ${s.line}`, expected: s.what }));
        const more = subst.problems.length - listed.length;
        if (more > 0) listed.push({ key: file, expected: `and ${more} more problems of \${VAR} substitution` });
        return { functions: [], problems: listed };
    }
    const loaded = loadBoth(subst.text, file);
    if ("error" in loaded) return { functions: [], problems: [{ key: file, expected: loaded.error }] };
    const { typed: doc, written } = loaded;
    if (!isObj(doc) || !isObj(written)) return { functions: [], problems: [{ key: file, expected: "expected a map with `provider` and `functions`" }] };
    if (isObj(doc.functions) || doc.functions === undefined || doc.functions === null) p.addAll(schemaProblems(STACK_YML_SCHEMA, doc, `${file} `));
    if (written.version !== undefined && written.version !== STACK_VERSION) p.add("version", `"${written.version}": faas-cli accepts only version ${STACK_VERSION}`);
    if (doc.provider !== undefined && (!isObj(doc.provider) || doc.provider.name !== "openfaas")) p.add("provider.name", 'expected "openfaas"');
    const fns = doc.functions;
    if (fns === undefined || fns === null) return { functions: [], problems: p.list };
    if (!isObj(fns) || !isObj(written.functions)) return { functions: [], problems: [{ key: `${file} functions`, expected: "expected a map of function names to definitions" }] };
    const writtenFns = written.functions;

    const out: FunctionDef[] = [];
    for (const [name, def] of Object.entries(fns)) {
        const at = `functions.${name}`;
        if (!DNS_LABEL.test(name)) p.add(at, `function name "${name}" must be a DNS-1123 label: lower case letters, digits and '-', at most 63 characters`);
        const w = writtenFns[name];
        if (!isObj(def) || !isObj(w)) continue; // the schema reported it
        if (typeof w.image !== "string" || w.image.trim() === "") p.add(`${at}.image`, "required: the container image, e.g. ghcr.io/org/fn:1.0.0");
        // Whether it is pinned is the policy pack's pinned-images rule (advisory in dev); whether it is an image reference at all is not negotiable.
        else if (imageReferenceProblem(w.image)) p.add(`${at}.image`, `${imageReferenceProblem(w.image)}; e.g. ghcr.io/org/fn:1.0.0`, w.image);
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
        const limits = readResources(p, `${at}.limits`, w.limits);
        const requests = readResources(p, `${at}.requests`, w.requests);
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
        const scaling = def.autoscaling === undefined ? undefined : readAutoscaling(p, `${at}.autoscaling`, def.autoscaling);

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
            schedules: readSchedules(p, `${at}.schedules`, def.schedules),
            ...(def.imagePolicy === undefined ? {} : { imagePolicy: readImagePolicy(p, `${at}.imagePolicy`, def.imagePolicy) }),
        });
    }
    return { functions: out, problems: p.list };
}


