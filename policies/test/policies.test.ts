import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { parseConfig, projectFiles } from "../../config";
import { buildPlatform } from "../../platform";
import { declare, stackFileConfig } from "../../tools/mock-engine";
import { allPolicies } from "../all";
import { plaintextLiterals } from "../literal-scan";
import { acmeV2 } from "../rules/acme";
import { cronJobs } from "../rules/cronjobs";
import { deployKeyReadOnly } from "../rules/deploy-key";
import { gatewayBasicAuth, gatewayIngressTls } from "../rules/gateway";
import { hpaSanity } from "../rules/hpa";
import { networkPolicies } from "../rules/network-policies";
import { noSecretLiterals } from "../rules/secret-literals";
import { functionResources, pinnedImages } from "../rules/workloads";
import { imageProblem } from "../shared/image";
import { evaluate, fromDeclared, loadPolicyConfig, Res } from "./harness";

const ROOT = path.resolve(__dirname, "..", "..");
const STACKS = ["dev", "staging", "prod"];

const fnDeployment = (image: string, resources: Record<string, any>): Res => ({
    type: "kubernetes:apps/v1:Deployment",
    props: {
        metadata: { name: "f", namespace: "openfaas-fn", labels: { faas_function: "f" } },
        spec: { template: { spec: { containers: [{ name: "f", image, resources }] } } },
    },
});
const full = { requests: { cpu: "10m", memory: "32Mi" }, limits: { cpu: "100m", memory: "64Mi" } };
const messages = async (policy: Parameters<typeof evaluate>[0][number], resources: Res[], config = {}) =>
    (await evaluate([policy], resources, config)).map((v) => v.message);

describe("policies, each with passing and failing cases", () => {
    it("function-resources", async () => {
        assert.deepEqual(await messages(functionResources, [fnDeployment("x/y:1", full)]), []);
        const m = await messages(functionResources, [fnDeployment("x/y:1", { requests: { cpu: "10m" } })]);
        assert.deepEqual(m, ["Deployment openfaas-fn/f: function container f has no requests.memory, limits.cpu, limits.memory; set requests and limits for the function in functions/stack.yml"]);
        const cr: Res = { type: "kubernetes:openfaas.com/v1:Function", props: { metadata: { name: "g", namespace: "openfaas-fn" }, spec: { image: "x/y:1", limits: { cpu: "1" } } } };
        assert.match((await messages(functionResources, [cr]))[0]!, /^Function openfaas-fn\/g: no requests\.cpu, requests\.memory, limits\.memory/);
        const notAFunction: Res = { type: "kubernetes:apps/v1:Deployment", props: { metadata: { name: "gateway" }, spec: { template: { spec: { containers: [{ name: "c" }] } } } } };
        assert.deepEqual(await messages(functionResources, [notAFunction]), []);
    });

    it("pinned-images", async () => {
        assert.equal(imageProblem("ghcr.io/a/b:1.2.3"), undefined);
        assert.equal(imageProblem("localhost:5000/b:1"), undefined);
        assert.equal(imageProblem(`b@sha256:${"a".repeat(64)}`), undefined);
        assert.match(imageProblem("localhost:5000/b")!, /no tag/);
        assert.match(imageProblem("b:latest")!, /latest/);
        assert.deepEqual(await messages(pinnedImages, [fnDeployment("x/y:1", full)]), []);
        // Issue 20: these passed as pinned (policies/test/image.test.ts has the grammar).
        for (const bad of ["ghcr.io/openfaas/CertInfo:0.2.1 --privileged", "ghcr.io/openfaas/certinfo@sha256:abc"]) {
            assert.match((await messages(pinnedImages, [fnDeployment(bad, full)]))[0]!, /is not a valid image reference/, bad);
        }
        assert.deepEqual(await messages(pinnedImages, [fnDeployment("x/y:latest", full)]), [
            "Deployment openfaas-fn/f: container f image x/y:latest uses the tag latest, so every pull may bring a different image; pin a version tag or a digest (@sha256:...)",
        ]);
    });

    it("gateway-basic-auth", async () => {
        const chart = (values: Record<string, unknown>): Res => ({ type: "kubernetes:helm.sh/v4:Chart", name: "openfaas-chart", props: { chart: "openfaas", namespace: "openfaas", values } });
        const secret = (password: string): Res => ({ type: "kubernetes:core/v1:Secret", props: { metadata: { name: "basic-auth", namespace: "openfaas" }, stringData: { "basic-auth-user": "admin", "basic-auth-password": password } } });
        assert.deepEqual(await messages(gatewayBasicAuth, [chart({ basic_auth: true, generateBasicAuth: false }), secret("x".repeat(32))]), []);
        const bad = await messages(gatewayBasicAuth, [chart({ basic_auth: false, generateBasicAuth: true })]);
        assert.deepEqual(bad.map((m) => m.split(":")[1]!.trim().split(" ")[0]), ["values.basic_auth", "values.generateBasicAuth", "no"]);
        assert.match((await messages(gatewayBasicAuth, [chart({ basic_auth: true, generateBasicAuth: false }), secret("short")]))[0]!, /fewer than 16 characters/);
    });

    it("gateway-basic-auth finds the OpenFaaS chart by what the program declares, not by the chart's path (issue 20)", async () => {
        const underComponent = (chartPath: string, release: string): Res => ({
            type: "kubernetes:helm.sh/v4:Chart",
            name: "openfaas-chart",
            urn: "urn:pulumi:prod::openfaas-gitops::openfaas-gitops:platform:OpenFaaS$kubernetes:helm.sh/v4:Chart::openfaas-chart",
            props: { chart: chartPath, name: release, namespace: "openfaas", values: { basic_auth: false, generateBasicAuth: false } },
        });
        const component: Res = { type: "openfaas-gitops:platform:OpenFaaS", name: "openfaas", urn: "urn:pulumi:prod::openfaas-gitops::openfaas-gitops:platform:OpenFaaS::openfaas", props: {} };
        // A .tgz override (charts.openfaas.path) was never checked: the chart was found by the path pattern (^|/)openfaas$.
        for (const chart of [underComponent("../shared/upstream/charts/openfaas-15.0.6.tgz", "openfaas"), underComponent("vendor/gw.tgz", "gw"), { ...underComponent("x.tgz", "openfaas"), urn: undefined }]) {
            const m = await messages(gatewayBasicAuth, [component, chart]);
            assert.ok(m.some((x) => /values\.basic_auth must be true/.test(x)), `${chart.props.chart}: ${m.join("; ")}`);
        }
        // An OpenFaaS component whose chart the policy cannot find is itself a violation.
        const contour: Res = { type: "kubernetes:helm.sh/v4:Chart", name: "contour-chart", props: { chart: "contour", name: "contour", values: {} } };
        assert.deepEqual(await messages(gatewayBasicAuth, [component, contour]), ["openfaas: the OpenFaaS component declares no Helm Chart this policy can check; basic auth cannot be verified"]);
    });

    it("gateway-basic-auth checks what the chart rendered: under the engine a Chart's own inputs never reach the pack (its mandatory check saw nothing)", async () => {
        const chainOf = "urn:pulumi:prod::openfaas-gitops::openfaas-gitops:platform:OpenFaaS$kubernetes:helm.sh/v4:Chart";
        const chart: Res = { type: "kubernetes:helm.sh/v4:Chart", name: "openfaas-chart", urn: `${chainOf}::openfaas-chart`, props: {} };
        const gateway = (basicAuth: string): Res => ({
            type: "kubernetes:apps/v1:Deployment",
            name: "openfaas-chart:openfaas/gateway",
            urn: `${chainOf}$kubernetes:apps/v1:Deployment::openfaas-chart:openfaas/gateway`,
            props: { metadata: { name: "gateway", namespace: "openfaas" }, spec: { template: { spec: { containers: [{ name: "gateway", env: [{ name: "basic_auth", value: basicAuth }] }] } } } },
        });
        const ours: Res = { type: "kubernetes:core/v1:Secret", props: { metadata: { name: "basic-auth", namespace: "openfaas" }, stringData: { "basic-auth-user": "admin", "basic-auth-password": "x".repeat(32) } } };
        const hook: Res = { type: "kubernetes:core/v1:Secret", name: "openfaas-chart:openfaas/basic-auth", urn: `${chainOf}$kubernetes:core/v1:Secret::openfaas-chart:openfaas/basic-auth`, props: { metadata: { name: "basic-auth", namespace: "openfaas" } } };
        assert.deepEqual(await messages(gatewayBasicAuth, [chart, gateway("true"), ours]), []);
        assert.deepEqual(await messages(gatewayBasicAuth, [chart, gateway("false"), ours]), ["Chart openfaas-chart: values.basic_auth must be true; an unauthenticated gateway lets anyone deploy code"]);
        assert.deepEqual(await messages(gatewayBasicAuth, [chart, gateway("true"), hook]), [
            "Chart openfaas-chart: values.generateBasicAuth must be false; the chart's Helm hook would create a password no one can recover from state",
            "Chart openfaas-chart: no basic-auth Secret or SealedSecret in namespace openfaas; the gateway cannot start without its credentials",
        ]);
        assert.deepEqual(await messages(gatewayBasicAuth, [chart]), ["Chart openfaas-chart: neither its values nor a rendered gateway Deployment are visible; basic auth cannot be verified"]);
    });

    it("gateway-basic-auth reads the gateway's basic_auth as Kubernetes does: the last entry of a name wins, and every rendered gateway counts", async () => {
        const chainOf = "urn:pulumi:prod::openfaas-gitops::openfaas-gitops:platform:OpenFaaS$kubernetes:helm.sh/v4:Chart";
        const chart: Res = { type: "kubernetes:helm.sh/v4:Chart", name: "openfaas-chart", urn: `${chainOf}::openfaas-chart`, props: {} };
        const gateway = (ns: string, ...values: string[]): Res => ({
            type: "kubernetes:apps/v1:Deployment",
            name: `openfaas-chart:${ns}/gateway`,
            urn: `${chainOf}$kubernetes:apps/v1:Deployment::openfaas-chart:${ns}/gateway`,
            props: { metadata: { name: "gateway", namespace: ns }, spec: { template: { spec: { containers: [{ name: "gateway", env: values.map((value) => ({ name: "basic_auth", value })) }] } } } },
        });
        const ours = (ns: string): Res => ({ type: "kubernetes:core/v1:Secret", props: { metadata: { name: "basic-auth", namespace: ns }, stringData: { "basic-auth-user": "admin", "basic-auth-password": "x".repeat(32) } } });
        const off = "Chart openfaas-chart: values.basic_auth must be true; an unauthenticated gateway lets anyone deploy code";
        // basic_auth=true then basic_auth=false: the container runs with false.
        assert.deepEqual(await messages(gatewayBasicAuth, [chart, gateway("openfaas", "true", "false"), ours("openfaas")]), [off]);
        assert.deepEqual(await messages(gatewayBasicAuth, [chart, gateway("openfaas", "false", "true"), ours("openfaas")]), []);
        // A second gateway without basic auth is not vouched for by the first.
        assert.deepEqual(await messages(gatewayBasicAuth, [chart, gateway("openfaas", "true"), gateway("other", "false"), ours("openfaas"), ours("other")]), [off]);
    });

    it("gateway-basic-auth sees the program's chart when it comes from a .tgz path", async () => {
        const base = stackFileConfig("prod");
        const raw = { ...base, values: { ...base.values, charts: JSON.stringify({ openfaas: { path: "../shared/upstream/charts/openfaas-15.0.6.tgz" } }) } };
        const { resources } = await declare("prod", () => buildPlatform(parseConfig(raw)));
        const declared = fromDeclared(resources);
        const chart = declared.find((r) => r.type === "kubernetes:helm.sh/v4:Chart" && r.props.chart === "../shared/upstream/charts/openfaas-15.0.6.tgz")!;
        assert.deepEqual(await messages(gatewayBasicAuth, declared), []);
        const tampered = declared.map((r) => (r === chart ? { ...r, props: { ...r.props, values: { ...r.props.values, basic_auth: false } } } : r));
        assert.deepEqual(await messages(gatewayBasicAuth, tampered), ["Chart openfaas-chart: values.basic_auth must be true; an unauthenticated gateway lets anyone deploy code"]);
    });

    it("gateway-ingress-tls", async () => {
        const ingress = (tls: boolean): Res => ({
            type: "kubernetes:networking.k8s.io/v1:Ingress",
            props: {
                metadata: { name: "gateway", namespace: "openfaas", annotations: tls ? { "cert-manager.io/cluster-issuer": "letsencrypt-prod" } : {} },
                spec: { rules: [{ host: "a.example.com", http: { paths: [{ backend: { service: { name: "gateway" } } }] } }], ...(tls ? { tls: [{ hosts: ["a.example.com"] }] } : {}) },
            },
        });
        assert.deepEqual(await messages(gatewayIngressTls, [ingress(true)]), []);
        const m = await messages(gatewayIngressTls, [ingress(false)]);
        assert.equal(m.length, 2);
        assert.match(m[0]!, /^Ingress openfaas\/gateway: host a\.example\.com is served without TLS/);
        assert.match(m[1]!, /no cert-manager\.io\/cluster-issuer annotation/);
    });

    it("network-policies (only where required)", async () => {
        const np = (ns: string): Res => ({ type: "kubernetes:networking.k8s.io/v1:NetworkPolicy", props: { metadata: { name: ns, namespace: ns } } });
        assert.deepEqual(await messages(networkPolicies, [], { "network-policies": { required: false } }), []);
        assert.deepEqual(await messages(networkPolicies, [np("openfaas"), np("openfaas-fn")], { "network-policies": { required: true } }), []);
        assert.deepEqual(await messages(networkPolicies, [np("openfaas")], { "network-policies": { required: true } }), [
            "namespace openfaas-fn has no NetworkPolicy, so any pod in the cluster can reach it; set networkPolicies: true for this stack",
        ]);
    });

    it("hpa", async () => {
        const hpa = (spec: Record<string, unknown>): Res => ({ type: "kubernetes:autoscaling/v2:HorizontalPodAutoscaler", props: { metadata: { name: "f", namespace: "openfaas-fn" }, spec } });
        const target = { apiVersion: "apps/v1", kind: "Deployment", name: "f" };
        const metric = [{ type: "Resource" }];
        assert.deepEqual(await messages(hpaSanity, [fnDeployment("x/y:1", full), hpa({ scaleTargetRef: target, minReplicas: 1, maxReplicas: 3, metrics: metric })]), []);
        const m = await messages(hpaSanity, [hpa({ scaleTargetRef: { ...target, name: "ghost" }, minReplicas: 4, maxReplicas: 2, metrics: [] })]);
        assert.deepEqual(m, [
            "HorizontalPodAutoscaler openfaas-fn/f: minReplicas 4 is greater than maxReplicas 2; fix autoscaling in functions/stack.yml or the functions override",
            "HorizontalPodAutoscaler openfaas-fn/f: needs at least one metric (cpuUtilization or memoryAverage), or it never scales; fix autoscaling in functions/stack.yml or the functions override",
            "HorizontalPodAutoscaler openfaas-fn/f: scaleTargetRef apps/v1/Deployment ghost is not a Deployment this stack declares; it would scale nothing",
        ]);
    });

    it("cronjobs", async () => {
        const cj = (spec: Record<string, unknown>): Res => ({ type: "kubernetes:batch/v1:CronJob", props: { metadata: { name: "c", namespace: "openfaas" }, spec } });
        assert.deepEqual(await messages(cronJobs, [cj({ schedule: "*/1 * * * *", concurrencyPolicy: "Forbid" })]), []);
        assert.deepEqual(await messages(cronJobs, [cj({ schedule: "@hourly", concurrencyPolicy: "Replace" })]), []);
        // The same check as the program's (policies/shared/cron.ts): what the apiserver accepts, names and @every included.
        assert.deepEqual(await messages(cronJobs, [cj({ schedule: "0 9 * * MON-FRI", concurrencyPolicy: "Forbid" }), cj({ schedule: "@every 5m", concurrencyPolicy: "Forbid" })]), []);
        assert.deepEqual(await messages(cronJobs, [cj({ schedule: "*/0 * * * *", concurrencyPolicy: "Forbid" })]), ['CronJob openfaas/c: schedule "*/0 * * * *": Constraint error, cannot repeat at every 0 time.']);
        assert.deepEqual(await messages(cronJobs, [cj({ schedule: "every minute" })]), [
            "CronJob openfaas/c: concurrencyPolicy Allow (default) lets runs pile up behind a slow function; use Forbid or Replace",
            'CronJob openfaas/c: schedule "every minute": expected 5 fields (minute hour day-of-month month day-of-week) or a descriptor such as @hourly, got 2',
        ]);
    });

    it("acme-v2", async () => {
        const issuer = (server: string): Res => ({ type: "kubernetes:cert-manager.io/v1:ClusterIssuer", props: { metadata: { name: "le" }, spec: { acme: { server } } } });
        const prod = "https://acme-v02.api.letsencrypt.org/directory";
        const staging = "https://acme-staging-v02.api.letsencrypt.org/directory";
        assert.deepEqual(await messages(acmeV2, [issuer(staging)]), []);
        assert.deepEqual(await messages(acmeV2, [issuer(prod)], { "acme-v2": { requireProduction: true } }), []);
        assert.match((await messages(acmeV2, [issuer("https://acme-v01.api.letsencrypt.org/directory")]))[0]!, /^ClusterIssuer le: ACME server .* is not Let's Encrypt ACME v2/);
        assert.match((await messages(acmeV2, [issuer(staging)], { "acme-v2": { requireProduction: true } }))[0]!, /requires the production endpoint/);
    });

    it("no-secret-literals", async () => {
        const policy = noSecretLiterals(() => new Set(["hunter2-hunter2"]));
        const secret = (value: string, encoded = false): Res => ({
            type: "kubernetes:core/v1:Secret",
            props: { metadata: { name: "s", namespace: "n" }, ...(encoded ? { data: { token: Buffer.from(value).toString("base64") } } : { stringData: { token: value } }) },
        });
        assert.deepEqual(await messages(policy, [secret("generated-0123456789")]), []);
        assert.match((await messages(policy, [secret("hunter2-hunter2")]))[0]!, /^Secret n\/s: token is a plaintext literal from the program or a stack file/);
        assert.equal((await messages(policy, [secret("hunter2-hunter2", true)])).length, 1, "base64 data is decoded before the check");
    });

    it("the pack is self-contained: nothing it publishes imports from outside policies/ (pulumi policy publish packs the directory alone)", () => {
        const pack = path.resolve(__dirname, "..");
        const published: string[] = JSON.parse(fs.readFileSync(path.join(pack, "package.json"), "utf8")).files;
        const sources = published.flatMap((entry) =>
            entry.endsWith("/") ? fs.readdirSync(path.join(pack, entry)).map((f) => path.join(entry, f)) : [entry],
        ).filter((f) => f.endsWith(".ts"));
        for (const file of sources) {
            for (const m of fs.readFileSync(path.join(pack, file), "utf8").matchAll(/from "(\.[^"]*)"/g)) {
                assert.ok(path.resolve(pack, path.dirname(file), m[1]!).startsWith(pack + path.sep), `${file} imports ${m[1]}, outside policies/`);
            }
        }
        assert.ok(sources.includes("all.ts") && sources.includes(path.join("rules", "hpa.ts")) && sources.includes(path.join("shared", "cron.ts")));
    });

    it("no-secret-literals finds the program through policy config, and names a directory without Pulumi.yaml", async () => {
        const secret: Res = { type: "kubernetes:core/v1:Secret", props: { metadata: { name: "s", namespace: "n" }, stringData: { token: "generated-0123456789" } } };
        const pack = allPolicies().filter((p) => p.name === "no-secret-literals");
        assert.deepEqual(await evaluate(pack, [secret]), [], "the default (..) is the program around the pack");
        const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), "ofg-nopulumi-"));
        await assert.rejects(evaluate(pack, [secret], { "no-secret-literals": { projectDir: elsewhere } }), /holds no Pulumi\.yaml; set the policy config no-secret-literals\.projectDir/);
    });

    it("the literal scan reads the program's string literals and plaintext stack values", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ofg-lit-"));
        fs.mkdirSync(path.join(dir, "stacks"));
        fs.writeFileSync(path.join(dir, "index.ts"), 'const pw = "super-secret-literal"; const short = "abc";\n');
        fs.writeFileSync(path.join(dir, "stacks", "Pulumi.x.yaml"), "config:\n  openfaas-gitops:adminPassword: plaintext-in-stack\n  openfaas-gitops:other:\n    secure: v1:abc\n");
        const found = plaintextLiterals(dir);
        assert.ok(found.has("super-secret-literal"));
        assert.ok(found.has("plaintext-in-stack"));
        assert.ok(!found.has("abc"));
    });

    it("deploy-key-read-only (advisory)", async () => {
        const key = (readOnly: boolean): Res => ({ type: "github:index/repositoryDeployKey:RepositoryDeployKey", name: "agent", props: { readOnly } });
        assert.deepEqual(await evaluate([deployKeyReadOnly], [key(true)]), []);
        const v = await evaluate([deployKeyReadOnly], [key(false)]);
        assert.equal(v[0]!.level, "advisory");
        assert.match(v[0]!.message, /write access although image automation is off/);
        assert.deepEqual(await evaluate([deployKeyReadOnly], [key(false)], { "deploy-key-read-only": { imageAutomation: true } }), []);
    });
});

describe("the PR workflow", () => {
    it("previews every shipped stack with its own policy config", () => {
        const wf = fs.readFileSync(path.join(ROOT, ".github", "workflows", "preview.yml"), "utf8");
        const shipped = fs.readdirSync(path.join(ROOT, "stacks")).map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)![1]!).sort();
        assert.deepEqual(shipped, [...STACKS].sort());
        assert.match(wf, new RegExp(`stack: \\[${STACKS.join(", ")}\\]`));
        assert.match(wf, /policyPacks: policies\n/);
        assert.match(wf, /policyPackConfigs: policies\/config\/\$\{\{ matrix\.stack \}\}\.json/);
        for (const stack of STACKS) assert.ok(fs.existsSync(path.join(ROOT, "policies", "config", `${stack}.json`)), stack);
    });
});

describe("every shipped stack is clean under its policy config", () => {
    it("each policy config says what its stack file does: image automation (the deploy key's write access)", () => {
        for (const stack of STACKS) {
            const cfg = parseConfig(stackFileConfig(stack));
            assert.equal((loadPolicyConfig(stack)["deploy-key-read-only"] as Record<string, unknown> | undefined)?.imageAutomation, cfg.flux?.imageAutomation !== undefined, `policies/config/${stack}.json vs stacks/Pulumi.${stack}.yaml`);
        }
    });
    for (const stack of STACKS) {
        it(stack, async () => {
            const { resources } = await declare(stack, () => buildPlatform(parseConfig(stackFileConfig(stack))));
            const violations = await evaluate(allPolicies(ROOT), fromDeclared(resources), loadPolicyConfig(stack));
            assert.deepEqual(violations, []);
        });
    }
});

describe("a deliberately bad configuration is rejected", () => {
    async function prodWith(stackYml: string) {
        const base = stackFileConfig("prod");
        const files = projectFiles(ROOT);
        const raw = { ...base, files: { read: (p: string) => (p === "functions/stack.yml" ? stackYml : files.read(p)), list: files.list } };
        const { resources } = await declare("prod", () => buildPlatform(parseConfig(raw)));
        return evaluate(allPolicies(ROOT), fromDeclared(resources), loadPolicyConfig("prod"));
    }

    it("a :latest image in prod is mandatory; in dev only advisory", async () => {
        const v = await prodWith("functions:\n  f:\n    image: ghcr.io/a/f:latest\n    requests: {cpu: 10m, memory: 32Mi}\n    limits: {cpu: 100m, memory: 64Mi}\n");
        assert.deepEqual(v.map((x) => [x.policy, x.level]), [["pinned-images", "mandatory"]]);
        assert.match(v[0]!.message, /Deployment openfaas-fn\/f: container f image ghcr\.io\/a\/f:latest uses the tag latest/);
        assert.equal(loadPolicyConfig("dev")["pinned-images"], "advisory");
    });

    it("a function without limits", async () => {
        const v = await prodWith("functions:\n  f:\n    image: ghcr.io/a/f:1.0.0\n");
        assert.deepEqual(v.map((x) => x.policy), ["function-resources"]);
        assert.match(v[0]!.message, /function container f has no requests\.cpu, requests\.memory, limits\.cpu, limits\.memory/);
    });

    it("an HPA with min > max is refused by the program before the policy would see it", () => {
        const raw = { ...stackFileConfig("prod"), files: { read: () => "functions:\n  f:\n    image: a/f:1\n    autoscaling: {minReplicas: 4, maxReplicas: 2, memoryAverage: 1Gi}\n", list: () => [] } };
        assert.throws(() => parseConfig(raw), /functions\.f\.autoscaling: minReplicas 4 is greater than maxReplicas 2/);
    });
});
