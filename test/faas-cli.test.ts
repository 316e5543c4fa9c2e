/**
 * Fidelity with faas-cli 0.18.12: for stack files faas-cli accepts (test/testdata/faas-cli/), the
 * Function CR this program declares carries what `faas-cli generate` puts in it. faas-cli is not
 * served by the Go module proxy, so the expected fields are written by hand from its behaviour
 * (see the testdata README); they are not produced by the code under test.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { functionCrSpec, functionDeploymentSpec } from "../components/function";
import { parseConfig } from "../config";
import { applyOverrides } from "../config/functions";
import { substitute } from "../config/stack-yml/envsubst";
import { nodeSelectorOf, yamlBool } from "../config/stack-yml/faas-cli";
import { parseStackYml } from "../config/stack-yml/parse";
import { FunctionDef } from "../model/function";
import { DeclaredResource } from "../tools/mock-engine";
import { one, raw, ROOT, runProgram } from "./helpers";

const DATA = "test/testdata/faas-cli";

/** Problems and functions of a test stack file, read as config/ reads it (project files, functionsEnv). */
function parse(file: string, env: Record<string, string> = {}, text?: string) {
    const rel = `${DATA}/${file}`;
    return parseStackYml(text ?? fs.readFileSync(path.join(ROOT, rel), "utf8"), rel, { env, readFile: (p) => fs.readFileSync(path.join(ROOT, p), "utf8") });
}

function fn(file: string, name: string, env?: Record<string, string>): FunctionDef {
    const { functions, problems } = parse(file, env);
    assert.deepEqual(problems, []);
    return functions.find((f) => f.name === name)!;
}

/** The Function CRs of a whole Pro stack that uses `file` as its functions file. */
async function proCrs(file: string, env: Record<string, string> = {}): Promise<{ resources: DeclaredResource[]; crs: Record<string, any> }> {
    const { resources } = await runProgram(raw({ proLicense: "licence", functionsFile: `${DATA}/${file}`, functionsEnv: JSON.stringify(env) }, ["proLicense"], "pro"));
    const crs = Object.fromEntries(resources.filter((r) => r.type === "kubernetes:openfaas.com/v1:Function").map((r) => [r.inputs.metadata.name, r.inputs]));
    return { resources, crs };
}

describe("faas-cli fidelity: the Function CR carries what faas-cli generate writes", () => {
    it("environment, label and annotation values stay exactly as written; empty values are valid", async () => {
        const { crs } = await proCrs("scalars.yml");
        assert.deepEqual(crs.scalars.spec, {
            name: "scalars",
            image: "ghcr.io/acme/scalars:1.0.0",
            environment: {
                float_one: "1.0", float_ten: "1.10", octal: "010", hex: "0x1F", exponent: "1e3", big: "12345678901234567890",
                bool: "true", yes_word: "yes", quoted: "007", empty_quoted: "", empty: "", tilde: "",
            },
            labels: { version: "1.10", build: "010", enabled: "true", blank: "" },
            annotations: { ratio: "0.50", count: "0x1F", note: "" },
            readOnlyRootFilesystem: false,
        });
        const env = functionDeploymentSpec(fn("scalars.yml", "scalars"), "openfaas-fn").spec.template.spec.containers[0]!.env!;
        assert.deepEqual(env.find((e) => e.name === "big"), { name: "big", value: "12345678901234567890" });
        assert.deepEqual(env.find((e) => e.name === "empty"), { name: "empty" }, "the empty value, in the form the server keeps");
    });

    it("${VAR} and ${VAR:-default} come from functionsEnv; $$ escapes; a bare $NAME is kept", async () => {
        const { crs } = await proCrs("envsubst.yml", { TAG: "1.2.3", GREETING: "hello", EMPTY: "" });
        assert.deepEqual(crs.subst.spec, {
            name: "subst",
            image: "ghcr.io/openfaas/subst:1.2.3",
            environment: {
                from_env: "hello", defaulted: "fallback", assigned: "other", equals: "when-empty", nested: "hello",
                literal: "${NOT_A_VARIABLE}", dollar: "cost-$5", plain_dollar: "$HOME",
            },
            labels: { team: "platform" },
            readOnlyRootFilesystem: false,
        });
        const overridden = await proCrs("envsubst.yml", { TAG: "2.0.0", GREETING: "hi", EMPTY: "", REGISTRY: "registry.acme.dev/fns", TEAM: "payments" });
        assert.equal(overridden.crs.subst.spec.image, "registry.acme.dev/fns/subst:2.0.0");
        assert.equal(overridden.crs.subst.spec.labels.team, "payments");
    });

    it("an unset variable without a default is refused, naming it, the file and the line", () => {
        const { problems } = parse("envsubst.yml", { GREETING: "hello" });
        assert.deepEqual(problems.map((p) => `${p.key}: ${p.expected}`), [
            `${DATA}/envsubst.yml line 6: \${TAG} is not set: add TAG to the functionsEnv config map (pulumi config set --path 'functionsEnv.TAG' <value>), or give a default: \${TAG:-<default>}`,
        ]);
        assert.throws(
            () => parseConfig(raw({ functionsFile: `${DATA}/envsubst.yml` })),
            (e: Error) => /test\/testdata\/faas-cli\/envsubst\.yml line 6: \$\{TAG\} is not set/.test(e.message) && /\$\{GREETING\} is not set/.test(e.message),
        );
    });

    it("environment_file: files merged in order over environment, values as written", async () => {
        const { crs } = await proCrs("environment-file.yml");
        assert.deepEqual(crs.envfile.spec.environment, {
            only_in_stack: "stack", overridden: "common", overridden_twice: "prod", common_only: "1.10", prod_only: "",
        });
    });

    it("x- top-level keys hold anchors; merge keys apply", async () => {
        const { crs } = await proCrs("anchors.yml");
        assert.deepEqual(crs.first.spec.environment, { write_debug: "false", timeout: "30s", role: "first" });
        assert.deepEqual(crs.second.spec.environment, { write_debug: "false", timeout: "60s" });
        assert.deepEqual(crs.second.spec.limits, { memory: "128Mi", cpu: "100m" });
    });

    it("Pro: scale labels pass through unchanged (max is not overwritten; scale to zero is allowed)", async () => {
        const { crs } = await proCrs("pro-scaling.yml");
        assert.deepEqual(crs.ranged.spec.labels, { "com.openfaas.scale.min": "2", "com.openfaas.scale.max": "10" });
        assert.deepEqual(crs["floor-only"].spec.labels, { "com.openfaas.scale.min": "1" });
        assert.deepEqual(crs["to-zero"].spec.labels, {
            "com.openfaas.scale.min": "0", "com.openfaas.scale.max": "4", "com.openfaas.scale.zero": "true", "com.openfaas.scale.zero-duration": "15m",
        });
    });

    it("Pro: a per-stack replicas override pins floor and ceiling, and only then", () => {
        const [ranged] = applyOverrides([fn("pro-scaling.yml", "ranged")], { ranged: { replicas: 3 } }, { pro: true, schedules: true, file: "s", configKey: "k" }).functions;
        assert.deepEqual(functionCrSpec(ranged!, "openfaas-fn").spec.labels, { "com.openfaas.scale.min": "3", "com.openfaas.scale.max": "3" });
    });

    it("readonly_root_filesystem: yes, fprocess, namespace, build_secrets and Swarm-style constraints", async () => {
        const { crs } = await proCrs("fields.yml");
        assert.deepEqual(crs.shell.metadata, { name: "shell", namespace: "team-a" });
        assert.deepEqual(crs.shell.spec, {
            name: "shell",
            image: "ghcr.io/acme/shell:1.0.0",
            // faas-netes hands fprocess to the watchdog as this variable.
            environment: { fprocess: "xargs cat" },
            secrets: ["api-key"],
            readOnlyRootFilesystem: true,
            // Swarm's form, translated to the node labels with the same meaning (faas-netes would drop it).
            constraints: ["kubernetes.io/os=linux", "kubernetes.io/arch=arm64", "disk=ssd"],
        });
        assert.deepEqual(crs.plain.metadata, { name: "plain", namespace: "openfaas-fn" });
        assert.equal(crs.plain.spec.readOnlyRootFilesystem, false);
        assert.deepEqual(crs.plain.spec.constraints, ["kubernetes.io/os=linux"]);
    });
});

describe("a function namespace of its own (Pro) is followed by everything that belongs to the function", () => {
    it("the Namespace is declared and annotated for Pro, the chart gets its ClusterRole, HPA and NetworkPolicy follow, the CronJob calls job.team-a", async () => {
        const { resources } = await runProgram(raw({ proLicense: "licence", functionsFile: `${DATA}/namespace.yml` }, ["proLicense"], "pro"));
        const ns = one(resources, "kubernetes:core/v1:Namespace", "platform-team-a").inputs;
        assert.deepEqual(ns.metadata, { name: "team-a", annotations: { openfaas: "1" } });
        assert.equal(one(resources, "kubernetes:helm.sh/v4:Chart", "openfaas-chart").inputs.values.clusterRole, true);
        assert.equal(one(resources, "kubernetes:openfaas.com/v1:Function").inputs.metadata.namespace, "team-a");
        assert.equal(one(resources, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler").inputs.metadata.namespace, "team-a");
        const policy = one(resources, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "network-policies-team-a-openfaas-fn").inputs;
        assert.deepEqual(policy.spec.ingress, [{ from: [{ namespaceSelector: { matchLabels: { role: "openfaas-system" } } }] }]);
        assert.equal(policy.metadata.namespace, "team-a");
        const cron = one(resources, "kubernetes:batch/v1:CronJob").inputs;
        assert.equal(cron.metadata.namespace, "openfaas", "the CronJob runs beside the gateway and its basic-auth Secret");
        assert.equal(cron.spec.jobTemplate.spec.template.spec.containers[0].env.find((e: any) => e.name === "FUNCTION").value, "job.team-a");
    });

    it("without other namespaces nothing changes: no extra Namespace, no ClusterRole", async () => {
        const { resources } = await runProgram(raw({ proLicense: "licence" }, ["proLicense"], "pro"));
        assert.equal(one(resources, "kubernetes:helm.sh/v4:Chart", "openfaas-chart").inputs.values.clusterRole, undefined);
        assert.equal(resources.filter((r) => r.type === "kubernetes:core/v1:Namespace").length, 5);
    });
});

describe("what faas-cli accepts but this platform cannot honour is refused with why", () => {
    const problems = (text: string, pro = false) => {
        const parsed = parseStackYml(text, "stack.yml");
        const applied = applyOverrides(parsed.functions, {}, { pro, schedules: true, file: "stack.yml", configKey: "openfaas-gitops:functions" });
        return [...parsed.problems, ...applied.problems].map((p) => `${p.key}: ${p.expected}`);
    };
    const f = (body: string) => `provider: {name: openfaas}\nfunctions:\n  f:\n    image: x/y:1\n${body}`;

    it("Community Edition: another namespace, scale to zero and Pro-only scaling labels, scale.max above 5", () => {
        assert.match(problems(f("    namespace: team-a\n"))[0]!, /functions\.f\.namespace: "team-a": OpenFaaS Community Edition serves functions from openfaas-fn only .*proLicense/);
        assert.match(problems(f("    labels: {com.openfaas.scale.min: 0}\n"))[0]!, /scale\.min: "0": scale to zero is an OpenFaaS Pro feature/);
        assert.match(problems(f("    labels: {com.openfaas.scale.zero: true}\n"))[0]!, /labels\.com\.openfaas\.scale\.zero: only OpenFaaS Pro's autoscaler reads it/);
        assert.match(problems(f("    labels: {com.openfaas.scale.max: 10}\n"))[0]!, /scale\.max: "10": OpenFaaS Community Edition caps functions at 5 replicas/);
        assert.deepEqual(problems(f("    namespace: team-a\n    labels: {com.openfaas.scale.min: 0, com.openfaas.scale.max: 10, com.openfaas.scale.zero: true}\n"), true), []);
        assert.deepEqual(problems(f("    labels: {com.openfaas.scale.zero: false}\n")), []);
    });

    it("bad scale labels, namespaces, bools, constraints and fprocess conflicts", () => {
        assert.match(problems(f("    labels: {com.openfaas.scale.min: two}\n"), true)[0]!, /scale\.min: "two" must be a whole number/);
        assert.match(problems(f("    labels: {com.openfaas.scale.min: 5, com.openfaas.scale.max: 2}\n"), true)[0]!, /scale\.min: "5" is greater than com\.openfaas\.scale\.max "2"/);
        assert.match(problems(f("    namespace: openfaas\n"), true)[0]!, /namespace: "openfaas" belongs to the platform or to Kubernetes/);
        assert.match(problems(f("    namespace: Team_A\n"), true)[0]!, /namespace: "Team_A" is not a DNS-1123 label/);
        assert.match(problems(f("    readonly_root_filesystem: maybe\n"))[0]!, /readonly_root_filesystem: "maybe": expected true or false/);
        assert.match(problems(f("    constraints: [\"node.platform.os != windows\"]\n"))[0]!, /constraints\[0\]: "node\.platform\.os != windows": a Kubernetes nodeSelector can only require equality/);
        assert.match(problems(f("    constraints: [\"node.role == manager\"]\n"))[0]!, /Swarm's node\.role has no Kubernetes node label/);
        assert.match(problems(f("    constraints: [\"kubernetes.io/os=linux\", \"node.platform.os == windows\"]\n"))[0]!, /contradicts an earlier constraint on kubernetes\.io\/os=linux/);
        assert.match(problems(f("    fprocess: cat\n    environment: {fprocess: env}\n"))[0]!, /fprocess: "cat" differs from environment\.fprocess "env"/);
        assert.match(problems("version: 2.0\nprovider: {name: openfaas}\nfunctions: {}\n")[0]!, /stack\.yml version: "2\.0": faas-cli accepts only version 1\.0/);
        assert.match(problems("provider: {name: openfaas}\ny-extra: 1\nfunctions: {}\n")[0]!, /stack\.yml y-extra: unknown top-level field; expected .* or an x- extension key/);
    });

    it("environment_file: missing, outside the project, not a map, unknown fields", () => {
        const ctx = { readFile: (p: string) => fs.readFileSync(path.join(ROOT, p), "utf8") };
        const msgs = (files: string) => parseStackYml(f(`    environment_file: ${files}\n`), `${DATA}/x.yml`, ctx).problems.map((p) => `${p.key}: ${p.expected}`);
        assert.match(msgs("[env/none.yml]")[0]!, /environment_file\[0\]: test\/testdata\/faas-cli\/env\/none\.yml: cannot read it \(ENOENT\)/);
        assert.match(msgs("[../../../../etc/passwd]")[0]!, /environment_file\[0\]: "\.\.\/\.\.\/\.\.\/\.\.\/etc\/passwd" is outside the project/);
        assert.match(msgs("[/etc/passwd]")[0]!, /is outside the project/);
        assert.match(msgs("[README.md]")[0]!, /README\.md: (not valid YAML|expected a map with an environment map)/);
        assert.match(msgs("[anchors.yml]")[0]!, /anchors\.yml: unknown field "version"; an environment file holds only environment/);
    });
});

describe("faas-cli helpers", () => {
    it("substitute: syntax drone/envsubst supports here, and what it refuses", () => {
        assert.deepEqual(substitute("a ${X} b", { X: "1" }), { text: "a 1 b", problems: [] });
        assert.equal(substitute("${X:-d}", { X: "" }).text, "d", "empty counts as unset for defaults, as in drone");
        assert.equal(substitute("${X:-${Y}}", { X: "set" }).problems.length, 0, "an unused default's reference need not be set");
        assert.match(substitute("${X^^}", { X: "a" }).problems[0]!.what, /only \$\{NAME\}, \$\{NAME:-default\}/);
        assert.match(substitute("${X", {}).problems[0]!.what, /never closed|not set/);
        assert.match(substitute("x\n${}", {}).problems[0]!.what, /"\$\{\}" is not a variable reference/);
        assert.equal(substitute("x\n${}", {}).problems[0]!.line, 2);
    });

    it("yamlBool: the words yaml.v3 takes for a Go bool", () => {
        for (const t of ["true", "True", "yes", "Y", "on", "ON"]) assert.equal(yamlBool(t), true, t);
        for (const f of ["false", "no", "N", "off", null]) assert.equal(yamlBool(f), false, String(f));
        for (const bad of ["1", "enabled", ""]) assert.equal(yamlBool(bad), undefined, bad);
    });

    it("nodeSelectorOf: key=value as is, Swarm's attributes translated", () => {
        assert.deepEqual(nodeSelectorOf("disktype=ssd"), { selector: ["disktype", "ssd"] });
        assert.deepEqual(nodeSelectorOf(" kubernetes.io/arch = arm64 "), { selector: ["kubernetes.io/arch", "arm64"] });
        assert.deepEqual(nodeSelectorOf("node.platform.arch == x86_64"), { selector: ["kubernetes.io/arch", "amd64"] });
        assert.deepEqual(nodeSelectorOf("node.hostname==node-1"), { selector: ["kubernetes.io/hostname", "node-1"] });
        assert.ok("problem" in nodeSelectorOf("a=b=c"));
    });
});
