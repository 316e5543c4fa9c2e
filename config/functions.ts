/**
 * The functions of a stack: the functions file with this stack's `functions` overrides (replicas,
 * autoscaling, schedules off) and the edition's limits applied.
 */
import { Autoscaling, checkCommunityEdition, FunctionDef, scheduleJobName, scheduleNameProblem } from "../model/function";
import { Problem, Problems } from "../model/problem";
import { projectFiles, projectRelativePath, RawConfig, unreadableReason } from "./files";
import { Reader } from "./reader";
import { schemaProblems, Schema } from "./schema";
import { isObj, readAutoscaling } from "./stack-yml/fields";
import { parseStackYml } from "./stack-yml/parse";

/** One function's entry of the `functions` override map; which function exists and what conflicts is code in {@link applyOverrides}. */
const OVERRIDE_SCHEMA: Schema = {
    type: "object",
    expected: "expected a map with replicas, autoscaling and/or schedules",
    additionalProperties: false,
    properties: {
        replicas: { type: "integer", minimum: 1, maximum: 1000 },
        // false switches the file's autoscaling off; a map changes it (checked by readAutoscaling, which merges it).
        autoscaling: { type: ["boolean", "object"], not: { const: true }, expected: "expected false (off) or a map with minReplicas, maxReplicas, cpuUtilization and/or memoryAverage" },
        schedules: { const: false, expected: "only false is allowed here (turns this function's schedules off in this stack); define schedules in the stack file" },
    },
};

/**
 * Pure: applies per-stack overrides and the edition's limits. Problems are reported under the
 * config key (`openfaas-gitops:functions.<name>...`) or the file, whichever the fix belongs in.
 */
export function applyOverrides(
    fns: readonly FunctionDef[],
    overrides: Readonly<Record<string, unknown>>,
    opts: { pro: boolean; schedules: boolean; file: string; configKey: string },
): { functions: FunctionDef[]; problems: Problem[] } {
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
            const problems = schemaProblems(OVERRIDE_SCHEMA, o, at);
            p.addAll(problems);
            const bad = (field: string) => problems.some((q) => q.key === `${at}.${field}`);
            if (isObj(o) && !problems.some((q) => q.key === at)) {
                let scaling: Autoscaling | undefined = f.autoscaling;
                if (o.autoscaling === false) scaling = undefined;
                else if (isObj(o.autoscaling)) scaling = readAutoscaling(p, `${at}.autoscaling`, o.autoscaling, f.autoscaling);
                let replicas = scaling ? undefined : f.replicas;
                if (o.replicas !== undefined && !bad("replicas")) {
                    replicas = o.replicas as number;
                    if (scaling) p.add(`${at}.replicas`, "conflicts with autoscaling: the HPA owns the replica count; set autoscaling: false or drop replicas");
                }
                fn = { ...f, replicas, autoscaling: scaling, schedules: o.schedules === false ? [] : f.schedules };
            }
        }
        return opts.schedules ? fn : { ...fn, schedules: [] };
    });

    // Every CronJob runs in the gateway's namespace, so `<function>-<schedule>` must be unique across
    // functions: function a's schedule b-c and function a-b's schedule c are both a-b-c.
    const jobs = new Map<string, string>();
    for (const f of out) {
        const where = `${opts.file} functions.${f.name}`;
        if (f.autoscaling?.cpuUtilization !== undefined && !f.requests.cpu) {
            p.add(`${where}.requests.cpu`, "required with autoscaling.cpuUtilization: the HPA measures CPU as a percentage of the request");
        }
        f.schedules.forEach((s, i) => {
            const tooLong = scheduleNameProblem(f.name, s.name);
            if (tooLong) p.add(`${where}.schedules`, tooLong);
            const at = `${where}.schedules[${i}].name`;
            const job = scheduleJobName(f.name, s.name);
            const first = jobs.get(job);
            if (first) p.add(at, `"${s.name}" gives CronJob "${job}", the name ${first} already gives; rename one of the two schedules`);
            else jobs.set(job, at);
        });
    }
    if (!opts.pro) checkCommunityEdition(p, opts.file, out);
    return { functions: out, problems: p.list };
}

/** Reads `functionsFile` and applies the `functions` overrides and the `schedules` switch. */
export function readFunctions(r: Reader, raw: RawConfig, pro: boolean): FunctionDef[] {
    const given = r.string("functionsFile", "functions/stack.yml");
    const overrides = r.object("functions") ?? {};
    const schedules = r.bool("schedules", true);
    const env = readFunctionsEnv(r);
    const rel = projectRelativePath(given);
    if ("problem" in rel) {
        r.problem("functionsFile", rel.problem, given);
        return [];
    }
    const file = rel.path;
    const files = raw.files ?? projectFiles(process.cwd());
    let text: string;
    try {
        text = files.read(file);
    } catch (e) {
        r.problem("functionsFile", `cannot read it (${unreadableReason(e)}); give a path relative to the project root`, given);
        return [];
    }
    const parsed = parseStackYml(text, file, { env, readFile: (rel) => files.read(rel) });
    const applied = applyOverrides(parsed.functions, overrides, { pro, schedules, file, configKey: r.fullKey("functions") });
    r.addAll([...parsed.problems, ...applied.problems]);
    return applied.functions;
}

/** Reads `functionsEnv`, the values of `${VAR}` in the functions file: a map of names to strings. */
function readFunctionsEnv(r: Reader): Record<string, string> {
    const given = r.object("functionsEnv") ?? {};
    const env: Record<string, string> = {};
    for (const [name, value] of Object.entries(given)) {
        if (!/^[A-Za-z0-9_]+$/.test(name)) r.problem(`functionsEnv.${name}`, "expected a variable name of letters, digits and _ (what ${NAME} can refer to)");
        else if (typeof value !== "string") r.problem(`functionsEnv.${name}`, "expected a string; quote numbers and booleans so they are substituted as written", JSON.stringify(value));
        else env[name] = value;
    }
    return env;
}
