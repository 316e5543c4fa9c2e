import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import * as yaml from "js-yaml";
import { parseConfig } from "../config";
import { FUNCTION_PROBE, functionCrSpec, functionDeploymentSpec, functionHpaSpec, functionServiceSpec } from "../components/function";
import { namespaceSpecs } from "../components/namespaces";
import { networkPolicySpecs } from "../components/network-policies";
import { cronJobSpec } from "../components/schedule";
import { applyOverrides } from "../config/functions";
import { parseStackYml } from "../config/stack-yml/parse";
import { FunctionDef } from "../model/function";
import { parseQuantity } from "../model/quantity";
import { stackFileConfig } from "../tools/mock-engine";
import { chartFile, one, raw, ROOT, runProgram, runStack, STACKS } from "./helpers";

const STACK_YML = fs.readFileSync(path.join(ROOT, "functions", "stack.yml"), "utf8");

function example(): Map<string, FunctionDef> {
    const { functions, problems } = parseStackYml(STACK_YML, "functions/stack.yml");
    assert.deepEqual(problems, []);
    return new Map(functions.map((f) => [f.name, f]));
}

/** Problems of a stack.yml text after the CE/Pro rules, as "where: what" lines. */
function problemsOf(text: string, opts: { pro?: boolean; overrides?: Record<string, unknown> } = {}): string[] {
    const parsed = parseStackYml(text, "stack.yml");
    const applied = applyOverrides(parsed.functions, opts.overrides ?? {}, { pro: opts.pro ?? false, schedules: true, file: "stack.yml", configKey: "openfaas-gitops:functions" });
    return [...parsed.problems, ...applied.problems].map((p) => `${p.key}: ${p.expected}`);
}

function assertProblem(text: string, expected: RegExp, opts?: Parameters<typeof problemsOf>[1]) {
    const problems = problemsOf(text, opts);
    assert.ok(problems.some((p) => expected.test(p)), `expected a problem matching ${expected}; got:\n${problems.join("\n") || "(none)"}`);
}

const fnYml = (body: string) => `provider: {name: openfaas}\nfunctions:\n${body}`;

describe("the 2018 example functions", () => {
    it("are in stack.yml with pinned images", () => {
        const fns = example();
        assert.deepEqual([...fns.keys()], ["certinfo", "nodeinfo", "sentimentanalysis"]);
        for (const f of fns.values()) assert.match(f.image, /:[^:/]+$/, `${f.name} image has a tag`);
        assert.match(fns.get("certinfo")!.image, /^ghcr\.io\/openfaas\/certinfo-fn:/);
        assert.deepEqual(fns.get("nodeinfo")!.environment, { output: "verbose", debug: "true" });
        assert.deepEqual(fns.get("sentimentanalysis")!.limits, { cpu: "2000m", memory: "512Mi" });
    });

    it("certinfo: Deployment and Service shaped as faas-netes makes them", () => {
        const fn = example().get("certinfo")!;
        const d = functionDeploymentSpec(fn, "openfaas-fn");
        assert.equal(d.apiVersion, "apps/v1");
        assert.deepEqual(d.metadata, { name: "certinfo", namespace: "openfaas-fn", labels: { faas_function: "certinfo" }, annotations: { "prometheus.io.scrape": "false" } });
        assert.equal(d.spec.replicas, 1);
        assert.deepEqual(d.spec.selector, { matchLabels: { faas_function: "certinfo" } });
        assert.deepEqual(d.spec.strategy, { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } });
        assert.equal(d.spec.revisionHistoryLimit, 10);
        assert.deepEqual(d.spec.template.metadata, { name: "certinfo", labels: { faas_function: "certinfo" }, annotations: { "prometheus.io.scrape": "false" } });
        const c = d.spec.template.spec.containers[0]!;
        assert.equal(c.name, "certinfo");
        assert.equal(c.image, fn.image);
        assert.deepEqual(c.ports, [{ name: "http", containerPort: 8080, protocol: "TCP" }]);
        assert.equal(c.env, undefined);
        assert.deepEqual(c.resources, { limits: { cpu: "100m", memory: "128Mi" }, requests: { cpu: "10m", memory: "64Mi" } });
        assert.equal(c.imagePullPolicy, "Always");
        const probe = { httpGet: { path: "/_/health", port: 8080 }, timeoutSeconds: 1, periodSeconds: 2, successThreshold: 1, failureThreshold: 3 };
        assert.deepEqual(c.livenessProbe, probe);
        assert.deepEqual(c.readinessProbe, probe);
        assert.deepEqual(c.securityContext, { readOnlyRootFilesystem: false, allowPrivilegeEscalation: false });
        assert.equal(c.volumeMounts, undefined);
        assert.equal(d.spec.template.spec.enableServiceLinks, false);

        const s = functionServiceSpec(fn, "openfaas-fn");
        assert.deepEqual(s, {
            apiVersion: "v1", kind: "Service",
            metadata: { name: "certinfo", namespace: "openfaas-fn", annotations: { "prometheus.io.scrape": "false" } },
            spec: { type: "ClusterIP", selector: { faas_function: "certinfo" }, ports: [{ name: "http", protocol: "TCP", port: 8080, targetPort: 8080 }] },
        });
    });

    it("probe timings are the ones chart 15.0.6 configures faas-netes with", () => {
        const values = yaml.load(fs.readFileSync(chartFile("openfaas", "values.yaml"), "utf8")) as any;
        for (const probe of ["readinessProbe", "livenessProbe"]) {
            const v = values.functions[probe];
            assert.equal(FUNCTION_PROBE.initialDelaySeconds, v.initialDelaySeconds, probe);
            assert.equal(FUNCTION_PROBE.timeoutSeconds, v.timeoutSeconds, probe);
            assert.equal(FUNCTION_PROBE.periodSeconds, v.periodSeconds, probe);
            assert.equal(FUNCTION_PROBE.failureThreshold, v.failureThreshold, probe);
        }
        assert.equal(values.functions.httpProbe, true);
    });

    it("nodeinfo: sorted env and a CronJob every minute with payload verbose", () => {
        const fn = example().get("nodeinfo")!;
        assert.deepEqual(functionDeploymentSpec(fn, "openfaas-fn").spec.template.spec.containers[0]!.env, [
            { name: "debug", value: "true" },
            { name: "output", value: "verbose" },
        ]);
        assert.deepEqual(fn.schedules, [{ name: "every-minute", cron: "*/1 * * * *", payload: "verbose", async: false }]);
        const cj = cronJobSpec({ functionName: "nodeinfo", schedule: fn.schedules[0]!, namespace: "openfaas", gatewayUrl: "http://gateway.openfaas:8080", image: "curlimages/curl:8.11.1" });
        assert.equal(cj.apiVersion, "batch/v1");
        assert.equal(cj.metadata.name, "nodeinfo-every-minute");
        assert.equal(cj.metadata.namespace, "openfaas");
        assert.equal(cj.spec.schedule, "*/1 * * * *");
        assert.equal(cj.spec.concurrencyPolicy, "Forbid");
        assert.equal(cj.spec.successfulJobsHistoryLimit, 1);
        assert.equal(cj.spec.failedJobsHistoryLimit, 3);
        const pod = cj.spec.jobTemplate.spec.template.spec;
        assert.equal(pod.restartPolicy, "OnFailure");
        const c = pod.containers[0]!;
        assert.equal(c.image, "curlimages/curl:8.11.1");
        assert.deepEqual(c.command, ["/bin/sh", "-c"]);
        const env = Object.fromEntries(c.env.map((e: any) => [e.name, e.value ?? e.valueFrom]));
        assert.equal(env.GATEWAY_URL, "http://gateway.openfaas:8080");
        assert.equal(env.ROUTE, "function");
        assert.equal(env.FUNCTION, "nodeinfo");
        assert.equal(env.PAYLOAD, "verbose");
        assert.deepEqual(env.GATEWAY_USER, { secretKeyRef: { name: "basic-auth", key: "basic-auth-user" } });
        assert.deepEqual(env.GATEWAY_PASSWORD, { secretKeyRef: { name: "basic-auth", key: "basic-auth-password" } });
        assert.doesNotMatch(c.args[0]!, /verbose|nodeinfo/, "values reach the shell as environment only");
        const asyncJob = cronJobSpec({ functionName: "nodeinfo", schedule: { ...fn.schedules[0]!, async: true }, namespace: "openfaas", gatewayUrl: "x", image: "curlimages/curl:8.11.1" });
        assert.equal(asyncJob.spec.jobTemplate.spec.template.spec.containers[0]!.env.find((e: any) => e.name === "ROUTE")!.value, "async-function");
    });

    it("sentimentanalysis: an autoscaling/v2 HPA on its apps/v1 Deployment, which leaves replicas to it", () => {
        const fn = example().get("sentimentanalysis")!;
        const d = functionDeploymentSpec(fn, "openfaas-fn");
        assert.equal("replicas" in d.spec, false, "the HPA owns the replica count");
        const hpa = functionHpaSpec(d, fn.autoscaling!);
        assert.equal(hpa.apiVersion, "autoscaling/v2");
        assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: d.apiVersion, kind: d.kind, name: d.metadata.name });
        assert.deepEqual(hpa.metadata, { name: d.metadata.name, namespace: d.metadata.namespace }, "beside its Deployment");
        assert.equal(hpa.spec.minReplicas, 1);
        assert.equal(hpa.spec.maxReplicas, 5);
        assert.deepEqual(hpa.spec.metrics, [
            { type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 50 } } },
            { type: "Resource", resource: { name: "memory", target: { type: "AverageValue", averageValue: "400Mi" } } },
        ]);
        assert.equal(example().get("certinfo")!.autoscaling, undefined, "no autoscaling, so no HPA: each shipped stack declares exactly one, below");
    });

    it("with a Pro licence: Function CRs, and the 2018 ceiling of 10 replicas through an override", async () => {
        const overrides = JSON.stringify({ sentimentanalysis: { autoscaling: { maxReplicas: 10 } } });
        const { resources } = await runProgram(raw({ proLicense: "lic", functions: overrides }, ["proLicense"]));
        assert.equal(resources.filter((r) => r.type === "kubernetes:apps/v1:Deployment").length, 0);
        const cr = one(resources, "kubernetes:openfaas.com/v1:Function", "fn-sentimentanalysis-function").inputs;
        assert.deepEqual(cr.spec, functionCrSpec(example().get("sentimentanalysis")!, "openfaas-fn").spec);
        assert.equal(cr.spec.readOnlyRootFilesystem, false);
        const hpa = one(resources, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler").inputs;
        assert.equal(hpa.spec.maxReplicas, 10);
        assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: "apps/v1", kind: "Deployment", name: cr.metadata.name }, "the Deployment the operator makes of the Function");
    });

    it("secrets are mounted read-only from a projected volume, /tmp is writable with a read-only root", () => {
        const [fn] = parseStackYml(fnYml("  f:\n    image: x/y:1\n    secrets: [api-key, db]\n    readonly_root_filesystem: true\n    constraints: [\"kubernetes.io/arch=arm64\"]\n"), "s").functions;
        const pod = functionDeploymentSpec(fn!, "openfaas-fn").spec.template.spec as any;
        assert.deepEqual(pod.volumes, [
            { name: "temp", emptyDir: {} },
            { name: "f-projected-secrets", projected: { sources: [{ secret: { name: "api-key" } }, { secret: { name: "db" } }] } },
        ]);
        assert.deepEqual(pod.containers[0].volumeMounts, [
            { name: "temp", mountPath: "/tmp", readOnly: false },
            { name: "f-projected-secrets", mountPath: "/var/openfaas/secrets", readOnly: true },
        ]);
        assert.equal(pod.containers[0].securityContext.readOnlyRootFilesystem, true);
        assert.deepEqual(pod.nodeSelector, { "kubernetes.io/arch": "arm64" });
    });

    it("com.openfaas.scale.min sets the replica count", () => {
        const [fn] = parseStackYml(fnYml('  f:\n    image: x/y:1\n    labels: {com.openfaas.scale.min: "3"}\n'), "s").functions;
        assert.equal(functionDeploymentSpec(fn!, "openfaas-fn").spec.replicas, 3);
        assert.equal((functionDeploymentSpec(fn!, "openfaas-fn").spec.template.metadata.labels as any)["com.openfaas.scale.min"], "3");
    });
});

describe("stack.yml validation", () => {
    it("names the file, function and field of every problem", () => {
        assertProblem(fnYml("  f:\n    image: x/y:1\n    imagee: z\n"), /^stack\.yml functions\.f\.imagee: unknown field; expected one of faas-cli's \(image, /);
        assertProblem(fnYml("  Bad_Name:\n    image: x/y:1\n"), /^stack\.yml functions\.Bad_Name: function name "Bad_Name" must be a DNS-1123 label/);
        assertProblem(fnYml("  f:\n    environment: {a: b}\n"), /^stack\.yml functions\.f\.image: required/);
        assertProblem(fnYml("  f:\n    image: x/y:1\n    limits: {cpu: 2 cores}\n"), /functions\.f\.limits\.cpu: "2 cores" is not a Kubernetes quantity/);
        assertProblem(fnYml("  f:\n    image: x/y:1\n    requests: {memory: 1GB}\n"), /functions\.f\.requests\.memory: "1GB" is not a Kubernetes quantity/);
        assertProblem(fnYml("  f:\n    image: x/y:1\n    limits: {cpu: 100m}\n    requests: {cpu: 200m}\n"), /functions\.f\.requests\.cpu: 200m exceeds limits\.cpu 100m/);
        assertProblem(fnYml("  f:\n    image: x/y:1\n    limits: {gpu: 1}\n"), /functions\.f\.limits\.gpu: unknown field/);
        assertProblem(fnYml("  f:\n    image: x/y:1\n    secrets: [Not_A_Secret]\n"), /functions\.f\.secrets\[0\]: "Not_A_Secret" is not a valid Secret name/);
        assertProblem(fnYml("  f:\n    image: x/y:1\n    constraints: [arm64]\n"), /functions\.f\.constraints\[0\]: "arm64" must be a node selector/);
        assertProblem(fnYml("  f:\n    image: x/y:1\n    labels: {ok: \"has space\"}\n"), /functions\.f\.labels\.ok: "has space" is not a valid label value/);
        assertProblem("provider: {name: faas}\nfunctions: {}\n", /provider\.name: expected "openfaas"/);
        assertProblem("functions: [a, b]\n", /stack\.yml functions: expected a map/);
        assertProblem("functions:\n  f: {image: x\n", /stack\.yml: not valid YAML/);
    });

    it("refuses duplicate function names", () => {
        assertProblem(fnYml("  f:\n    image: x/y:1\n  f:\n    image: x/y:2\n"), /stack\.yml: not valid YAML: duplicated mapping key/);
    });

    it("checks autoscaling and schedules", () => {
        assertProblem(fnYml("  f:\n    image: x/y:1\n    autoscaling: {minReplicas: 3, maxReplicas: 2, memoryAverage: 1Gi}\n"), /functions\.f\.autoscaling: minReplicas 3 is greater than maxReplicas 2/);
        assertProblem(fnYml("  f:\n    image: x/y:1\n    autoscaling: {maxReplicas: 2}\n"), /needs at least one metric/);
        assertProblem(fnYml("  f:\n    image: x/y:1\n    autoscaling: {maxReplicas: 2, cpuUtilization: 50}\n"), /functions\.f\.requests\.cpu: required with autoscaling\.cpuUtilization/);
        assertProblem(fnYml("  f:\n    image: x/y:1\n    schedules: [{cron: \"61 * * * *\"}]\n"), /functions\.f\.schedules\[0\]\.cron: "61 \* \* \* \*": Constraint error, got value 61 expected range 0-59/);
        assertProblem(fnYml("  f:\n    image: x/y:1\n    schedules: [{cron: \"* * *\"}]\n"), /expected 5 fields/);
        assertProblem(fnYml("  f:\n    image: x/y:1\n    schedules: [{cron: \"@hourly\"}, {cron: \"@daily\"}]\n"), /duplicate schedule name "cron"/);
        assertProblem(fnYml(`  ${"f".repeat(40)}:\n    image: x/y:1\n    schedules: [{name: every-minute, cron: "* * * * *"}]\n`), /longer than Kubernetes' 52 characters/);
    });

    it("quantities", () => {
        assert.equal(parseQuantity("100m"), 0.1);
        assert.equal(parseQuantity("2"), 2);
        assert.equal(parseQuantity("128Mi"), 128 * 2 ** 20);
        assert.equal(parseQuantity("1e3"), 1000);
        for (const bad of ["", "1GB", "m", "-1", "1.5.2"]) assert.equal(parseQuantity(bad), undefined, bad);
    });
});

describe("OpenFaaS Community Edition limits are config errors", () => {
    const many = (n: number) => fnYml(Array.from({ length: n }, (_, i) => `  f${i}:\n    image: x/y:1\n`).join(""));

    it("at most 15 functions, naming the limit and the Pro alternative", () => {
        assert.deepEqual(problemsOf(many(15)), []);
        assertProblem(many(16), /stack\.yml: 16 functions, but OpenFaaS Community Edition allows at most 15 .*disables ALL invocations.*proLicense/);
        assert.deepEqual(problemsOf(many(16), { pro: true }), []);
    });

    it("at most 5 replicas", () => {
        const yml = fnYml('  f:\n    image: x/y:1\n    labels: {com.openfaas.scale.min: "6"}\n');
        assertProblem(yml, /functions\.f: replicas 6: OpenFaaS Community Edition runs 1 to 5 replicas.*proLicense/);
        assert.deepEqual(problemsOf(yml, { pro: true }), []);
        assertProblem(fnYml("  f:\n    image: x/y:1\n"), /replicas 7: OpenFaaS Community Edition/, { overrides: { f: { replicas: 7 } } });
    });

    it("at most 5 replicas from an HPA", () => {
        const yml = fnYml("  f:\n    image: x/y:1\n    requests: {cpu: 10m}\n    autoscaling: {maxReplicas: 10, cpuUtilization: 50}\n");
        assertProblem(yml, /functions\.f: autoscaling\.maxReplicas 10: OpenFaaS Community Edition caps functions at 5 replicas.*proLicense/);
        assert.deepEqual(problemsOf(yml, { pro: true }), []);
    });
});

describe("per-stack overrides", () => {
    const yml = fnYml("  f:\n    image: x/y:1\n    requests: {cpu: 10m}\n    autoscaling: {maxReplicas: 3, cpuUtilization: 50}\n    schedules: [{cron: \"@hourly\"}]\n");
    const apply = (overrides: Record<string, unknown>, schedules = true) =>
        applyOverrides(parseStackYml(yml, "s").functions, overrides, { pro: false, schedules, file: "s", configKey: "openfaas-gitops:functions" });

    it("change autoscaling, switch it off for a fixed count, and switch schedules off", () => {
        assert.equal(apply({ f: { autoscaling: { maxReplicas: 4 } } }).functions[0]!.autoscaling!.maxReplicas, 4);
        const fixed = apply({ f: { autoscaling: false, replicas: 2 } }).functions[0]!;
        assert.equal(fixed.autoscaling, undefined);
        assert.equal(fixed.replicas, 2);
        assert.deepEqual(apply({ f: { schedules: false } }).functions[0]!.schedules, []);
        assert.deepEqual(apply({}, false).functions[0]!.schedules, []);
    });

    it("refuse unknown functions and fields, and replicas next to an HPA", () => {
        const msgs = (o: Record<string, unknown>) => apply(o).problems.map((p) => `${p.key}: ${p.expected}`);
        assert.match(msgs({ g: {} })[0]!, /^openfaas-gitops:functions\.g: no function "g" in s; known: f/);
        assert.match(msgs({ f: { replica: 2 } })[0]!, /^openfaas-gitops:functions\.f\.replica: unknown field/);
        assert.match(msgs({ f: { replicas: 2 } })[0]!, /^openfaas-gitops:functions\.f\.replicas: conflicts with autoscaling/);
    });

    it("problems reach the one config error with the rest", () => {
        assert.throws(
            () => parseConfig(raw({ functions: JSON.stringify({ nodeinfo: { replicas: 9 } }), gatewayReplicas: "x" })),
            (e: Error) => /openfaas-gitops:gatewayReplicas/.test(e.message) && /functions\/stack\.yml functions\.nodeinfo: replicas 9/.test(e.message),
        );
        assert.throws(() => parseConfig(raw({ functionsFile: "nope.yml" })), /openfaas-gitops:functionsFile = "nope\.yml": cannot read it \(ENOENT\)/);
    });
});

describe("every shipped stack declares the example workloads", () => {
    for (const stack of STACKS) {
        it(stack, async () => {
            const cfg = parseConfig(stackFileConfig(stack));
            const { resources } = await runStack(stack);
            const deployments = resources.filter((r) => r.type === "kubernetes:apps/v1:Deployment" && r.inputs.metadata.namespace === "openfaas-fn").map((r) => r.inputs.metadata.name).sort();
            assert.deepEqual(deployments, ["certinfo", "nodeinfo", "sentimentanalysis"]);
            assert.equal(resources.filter((r) => r.type === "kubernetes:core/v1:Service" && r.inputs.metadata.namespace === "openfaas-fn").length, 3);
            const hpa = one(resources, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler").inputs;
            assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: "apps/v1", kind: "Deployment", name: "sentimentanalysis" });
            assert.equal(one(resources, "kubernetes:batch/v1:CronJob").inputs.metadata.name, "nodeinfo-every-minute");
            // The platform's own; the Flux namespace's (with the flux map) are tested in test/flux.test.ts, the agent's in test/agent-component.test.ts.
            const policies = resources.filter((r) => r.type === "kubernetes:networking.k8s.io/v1:NetworkPolicy" && !["flux-system", "openfaas-gitops"].includes(r.inputs.metadata.namespace));
            assert.equal(policies.length, cfg.networkPolicies ? 2 : 0);
        });
    }
});

/**
 * Which namespaces may open connections to pods in `target`, computed from the NetworkPolicies and
 * namespace labels the program produces (ingress rules with namespaceSelector.matchLabels or a
 * same-namespace podSelector; no policy selecting the namespace means open).
 */
function reachableFrom(target: string, policies: ReturnType<typeof networkPolicySpecs>, namespaces: Record<string, Record<string, string>>): string[] {
    const applying = policies.filter((p) => p.metadata.namespace === target);
    if (applying.length === 0) return Object.keys(namespaces).sort();
    return Object.keys(namespaces)
        .filter((source) =>
            applying.some((p) =>
                p.spec.ingress.some((rule) =>
                    rule.from.some((peer: any) => {
                        if (peer.namespaceSelector) {
                            const want = peer.namespaceSelector.matchLabels ?? {};
                            return Object.entries(want).every(([k, v]) => namespaces[source]![k] === v);
                        }
                        return peer.podSelector !== undefined && source === target;
                    }),
                ),
            ),
        )
        .sort();
}

describe("network isolation", () => {
    const specs = namespaceSpecs();
    const namespaces: Record<string, Record<string, string>> = Object.fromEntries(
        Object.values(specs).map((ns: any) => [ns.metadata.name, ns.metadata.labels ?? {}]),
    );
    namespaces["default"] = {};
    namespaces["monitoring"] = {};
    const policies = networkPolicySpecs({ core: "openfaas", functions: "openfaas-fn" });

    it("functions are reachable only from the core namespace (role: openfaas-system)", () => {
        assert.deepEqual(reachableFrom("openfaas-fn", policies, namespaces), ["openfaas"]);
    });

    it("the gateway is reachable from Envoy, cert-manager, sealed-secrets and itself, not from functions or others", () => {
        assert.deepEqual(reachableFrom("openfaas", policies, namespaces), ["cert-manager", "contour", "openfaas", "sealed-secrets"]);
    });

    it("the policies are the 2018 ones on networking.k8s.io/v1", () => {
        const fn = policies.find((p) => p.metadata.name === "openfaas-fn")!;
        assert.deepEqual(fn.spec, { podSelector: {}, policyTypes: ["Ingress"], ingress: [{ from: [{ namespaceSelector: { matchLabels: { role: "openfaas-system" } } }] }] });
        const core = policies.find((p) => p.metadata.name === "openfaas")!;
        assert.deepEqual(core.spec.ingress[0]!.from[0], { namespaceSelector: { matchLabels: { access: "openfaas-system" } } });
    });
});
