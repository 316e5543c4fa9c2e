/**
 * The policy definitions, importable without starting a pack (constructing a PolicyPack starts its
 * gRPC server). index.ts wires them into the pack; the tests call them directly.
 * Every message names the resource and the fix.
 *
 * Self-contained: nothing here imports from outside policies/, so `pulumi policy publish` (which packs
 * this directory alone with npm pack) works. The rules the program shares with the pack live in
 * ./shared and the program imports them from there.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { PolicyResource, ReportViolation, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { cronProblem } from "./shared/cron";
import { ACME_SERVERS } from "./shared/acme";
import { imageProblem } from "./shared/image";

export { imageProblem };

type Props = Record<string, any>;
export type Policy = ResourceValidationPolicy | StackValidationPolicy;

const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
const FUNCTION_CR = "kubernetes:openfaas.com/v1:Function";
const CRONJOB = "kubernetes:batch/v1:CronJob";
const INGRESS = "kubernetes:networking.k8s.io/v1:Ingress";
const ISSUER = "kubernetes:cert-manager.io/v1:ClusterIssuer";
const HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler";
const NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy";
const SECRET = "kubernetes:core/v1:Secret";
const SEALED = "kubernetes:bitnami.com/v1alpha1:SealedSecret";
const CHART = "kubernetes:helm.sh/v4:Chart";
const DEPLOY_KEY = "github:index/repositoryDeployKey:RepositoryDeployKey";


function label(type: string, props: Props, name: string): string {
    const m = props.metadata ?? {};
    const kind = type.split(":").pop();
    return `${kind} ${m.namespace ? `${m.namespace}/` : ""}${m.name ?? name}`;
}

/** Containers of a workload: Deployment pod template or CronJob job template. */
function containers(type: string, props: Props): Props[] {
    if (type === DEPLOYMENT) return props.spec?.template?.spec?.containers ?? [];
    if (type === CRONJOB) return props.spec?.jobTemplate?.spec?.template?.spec?.containers ?? [];
    return [];
}


export const functionResources: ResourceValidationPolicy = {
    name: "function-resources",
    description: "Every function container sets CPU and memory requests and limits.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        const want = ["requests.cpu", "requests.memory", "limits.cpu", "limits.memory"];
        if (args.type === DEPLOYMENT && args.props.metadata?.labels?.faas_function) {
            for (const c of containers(args.type, args.props)) {
                const missing = want.filter((w) => !c.resources?.[w.split(".")[0]!]?.[w.split(".")[1]!]);
                if (missing.length > 0) report(`${label(args.type, args.props, args.name)}: function container ${c.name} has no ${missing.join(", ")}; set requests and limits for the function in functions/stack.yml`);
            }
        } else if (args.type === FUNCTION_CR) {
            const missing = want.filter((w) => !args.props.spec?.[w.split(".")[0]!]?.[w.split(".")[1]!]);
            if (missing.length > 0) report(`${label(args.type, args.props, args.name)}: no ${missing.join(", ")}; set requests and limits for the function in functions/stack.yml`);
        }
    },
};

export const pinnedImages: ResourceValidationPolicy = {
    name: "pinned-images",
    description: "Images are pinned to a tag other than latest, or to a digest.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        const images: [string, string][] =
            args.type === FUNCTION_CR
                ? [["function", args.props.spec?.image]]
                : containers(args.type, args.props).map((c) => [`container ${c.name}`, c.image]);
        for (const [where, image] of images) {
            if (typeof image !== "string") continue;
            const problem = imageProblem(image);
            if (problem) report(`${label(args.type, args.props, args.name)}: ${where} image ${image} ${problem}; pin a version tag or a digest (@sha256:...)`);
        }
    },
};

/** The program's OpenFaaS component (components/openfaas.ts), whose chart is the gateway's. */
const OPENFAAS_COMPONENT = "openfaas-gitops:platform:OpenFaaS";
/** The Helm release name the program gives the OpenFaaS chart. */
const OPENFAAS_RELEASE = "openfaas";

/** The types of a resource's parents, outermost first, from its URN (`...::<parent type>$<type>::<name>`). */
function parentTypes(r: PolicyResource): string[] {
    return (r.urn.split("::")[2] ?? "").split("$").slice(0, -1);
}

/**
 * Whether a Chart is the OpenFaaS gateway's, by what the program declares rather than where the chart
 * comes from: a chart source may be any directory or .tgz (the `charts` override), which no path
 * pattern can be trusted to see. So: declared under the OpenFaaS component, or released as openfaas,
 * or fetched by the chart name openfaas.
 */
function isOpenFaaSChart(r: PolicyResource): boolean {
    return r.type === CHART && (parentTypes(r).includes(OPENFAAS_COMPONENT) || r.props.name === OPENFAAS_RELEASE || /(^|\/)openfaas$/.test(String(r.props.chart ?? "")));
}

/** The resources a chart rendered: its children, by URN (`...$<chart type>$<child type>::<name>`). */
function renderedBy(chart: PolicyResource, resources: readonly PolicyResource[]): PolicyResource[] {
    const prefix = chart.urn.slice(0, chart.urn.lastIndexOf("::")) + "$";
    return resources.filter((r) => r.urn.startsWith(prefix) && String(r.name).startsWith(`${chart.name}:`));
}

/**
 * What the OpenFaaS chart does about basic auth, from what it rendered when that is visible (under
 * the engine a Chart's own inputs are not passed to the policy pack, but its children are): the
 * gateway container's `basic_auth` variable, and the chart's own `basic-auth` Secret (the Helm hook of
 * generateBasicAuth). Else from the chart's values (the inputs as the program declares them).
 */
function basicAuthFacts(chart: PolicyResource, resources: readonly PolicyResource[]): { basicAuth: boolean; generated: boolean; namespace?: string } | undefined {
    const rendered = renderedBy(chart, resources);
    const gateways = rendered.filter((r) => r.type === DEPLOYMENT && r.props.metadata?.name === "gateway");
    const gateway = gateways[0];
    if (gateway) {
        // As the kubelet reads env: of entries with the same name the last wins (basic_auth=true
        // followed by basic_auth=false runs without auth), and every gateway rendered must have it on.
        const on = (g: PolicyResource): boolean => {
            const containers: Props[] = g.props.spec?.template?.spec?.containers ?? [];
            const env: Props[] = containers.find((c) => c.name === "gateway")?.env ?? [];
            const last = env.filter((e) => e?.name === "basic_auth").pop();
            return last !== undefined && String(last.value) === "true";
        };
        return {
            basicAuth: gateways.every(on),
            generated: rendered.some((r) => r.type === SECRET && r.props.metadata?.name === "basic-auth"),
            namespace: gateway.props.metadata?.namespace,
        };
    }
    const values = chart.props.values;
    if (!values || typeof values !== "object") return undefined;
    return { basicAuth: values.basic_auth === true, generated: values.generateBasicAuth !== false, namespace: chart.props.namespace };
}

export const gatewayBasicAuth: StackValidationPolicy = {
    name: "gateway-basic-auth",
    description: "The OpenFaaS gateway has basic auth on, with credentials the chart does not generate.",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
        const charts = args.resources.filter(isOpenFaaSChart);
        // A gateway this policy cannot find is a gateway it cannot vouch for.
        for (const component of args.resources.filter((r) => r.type === OPENFAAS_COMPONENT)) {
            if (!charts.some((c) => c.urn.startsWith(component.urn.slice(0, component.urn.lastIndexOf("::")) + "$"))) {
                report(`${component.name}: the OpenFaaS component declares no Helm Chart this policy can check; basic auth cannot be verified`);
            }
        }
        for (const chart of charts) {
            const facts = basicAuthFacts(chart, args.resources);
            if (!facts) {
                report(`Chart ${chart.name}: neither its values nor a rendered gateway Deployment are visible; basic auth cannot be verified`);
                continue;
            }
            if (!facts.basicAuth) report(`Chart ${chart.name}: values.basic_auth must be true; an unauthenticated gateway lets anyone deploy code`);
            if (facts.generated) report(`Chart ${chart.name}: values.generateBasicAuth must be false; the chart's Helm hook would create a password no one can recover from state`);
            const ns = facts.namespace;
            const secret = args.resources.find((r) => (r.type === SECRET || r.type === SEALED) && r.props.metadata?.name === "basic-auth" && r.props.metadata?.namespace === ns && !renderedBy(chart, [r]).length);
            if (!secret) {
                report(`Chart ${chart.name}: no basic-auth Secret or SealedSecret in namespace ${ns}; the gateway cannot start without its credentials`);
                continue;
            }
            const password = secret.props.stringData?.["basic-auth-password"];
            if (secret.type === SECRET && typeof password === "string" && password.length < 16) {
                report(`Secret ${ns}/basic-auth: the password has fewer than 16 characters; unset adminPassword to generate one, or set a longer one with pulumi config set --secret adminPassword`);
            }
        }
    },
};

export const gatewayIngressTls: ResourceValidationPolicy = {
    name: "gateway-ingress-tls",
    description: "With a domain configured, the gateway ingress has TLS and a cert-manager issuer.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        if (args.type !== INGRESS) return;
        const rules: Props[] = args.props.spec?.rules ?? [];
        const toGateway = rules.filter((r) => r.host && (r.http?.paths ?? []).some((p: Props) => p.backend?.service?.name === "gateway"));
        const who = label(args.type, args.props, args.name);
        for (const rule of toGateway) {
            const tls: Props[] = args.props.spec?.tls ?? [];
            if (!tls.some((t) => (t.hosts ?? []).includes(rule.host))) report(`${who}: host ${rule.host} is served without TLS, so the basic-auth password crosses the network in clear; set tlsIssuer`);
            if (!args.props.metadata?.annotations?.["cert-manager.io/cluster-issuer"]) report(`${who}: no cert-manager.io/cluster-issuer annotation, so no certificate is issued for ${rule.host}; set tlsIssuer`);
        }
    },
};

export const networkPolicies: StackValidationPolicy = {
    name: "network-policies",
    description: "Where required (prod), NetworkPolicies isolate openfaas and openfaas-fn.",
    enforcementLevel: "mandatory",
    configSchema: { properties: { required: { type: "boolean", default: false } } },
    validateStack: (args, report) => {
        if (!args.getConfig<{ required: boolean }>().required) return;
        for (const ns of ["openfaas", "openfaas-fn"]) {
            if (!args.resources.some((r) => r.type === NETPOL && r.props.metadata?.namespace === ns)) {
                report(`namespace ${ns} has no NetworkPolicy, so any pod in the cluster can reach it; set networkPolicies: true for this stack`);
            }
        }
    },
};

export const hpaSanity: StackValidationPolicy = {
    name: "hpa",
    description: "HPAs have minReplicas <= maxReplicas, at least one metric, and target a Deployment the stack declares.",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
        const deployments = new Set(
            args.resources
                .filter((r) => r.type === DEPLOYMENT || r.type === FUNCTION_CR)
                .map((r) => `${r.props.metadata?.namespace}/${r.props.metadata?.name}`),
        );
        for (const hpa of args.resources.filter((r) => r.type === HPA)) {
            const spec = hpa.props.spec ?? {};
            const who = label(hpa.type, hpa.props, hpa.name);
            const min = spec.minReplicas ?? 1;
            if (typeof spec.maxReplicas === "number" && min > spec.maxReplicas) report(`${who}: minReplicas ${min} is greater than maxReplicas ${spec.maxReplicas}; fix autoscaling in functions/stack.yml or the functions override`);
            if (!Array.isArray(spec.metrics) || spec.metrics.length === 0) report(`${who}: no metrics, so it never scales; give cpuUtilization or memoryAverage`);
            const ref = spec.scaleTargetRef ?? {};
            const target = `${hpa.props.metadata?.namespace}/${ref.name}`;
            if (ref.apiVersion !== "apps/v1" || ref.kind !== "Deployment" || !deployments.has(target)) {
                report(`${who}: scaleTargetRef ${ref.apiVersion}/${ref.kind} ${ref.name} is not a Deployment this stack declares; it would scale nothing`);
            }
        }
    },
};

export const cronJobs: ResourceValidationPolicy = {
    name: "cronjobs",
    description: "CronJobs never overlap (concurrencyPolicy Forbid or Replace) and have a valid schedule.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        if (args.type !== CRONJOB) return;
        const spec = args.props.spec ?? {};
        const who = label(args.type, args.props, args.name);
        if (spec.concurrencyPolicy !== "Forbid" && spec.concurrencyPolicy !== "Replace") {
            report(`${who}: concurrencyPolicy ${spec.concurrencyPolicy ?? "Allow (default)"} lets runs pile up behind a slow function; use Forbid or Replace`);
        }
        const problem = typeof spec.schedule === "string" ? cronProblem(spec.schedule) : "no schedule";
        if (problem) report(`${who}: schedule ${JSON.stringify(spec.schedule)}: ${problem}`);
    },
};

export const acmeV2: ResourceValidationPolicy = {
    name: "acme-v2",
    description: "ClusterIssuers use a Let's Encrypt ACME v2 endpoint, the production one where required (prod).",
    enforcementLevel: "mandatory",
    configSchema: { properties: { requireProduction: { type: "boolean", default: false } } },
    validateResource: (args, report) => {
        if (args.type !== ISSUER) return;
        const server = args.props.spec?.acme?.server;
        if (server === undefined) return;
        const who = label(args.type, args.props, args.name);
        if (server !== ACME_SERVERS["letsencrypt-prod"] && server !== ACME_SERVERS["letsencrypt-staging"]) {
            report(`${who}: ACME server ${server} is not Let's Encrypt ACME v2 (v1 was switched off in 2021); use tlsIssuer letsencrypt-prod or letsencrypt-staging`);
        } else if (args.getConfig<{ requireProduction: boolean }>().requireProduction && server !== ACME_SERVERS["letsencrypt-prod"]) {
            report(`${who}: this stack requires the production endpoint, but ${server} issues untrusted staging certificates; set tlsIssuer: letsencrypt-prod`);
        }
    },
};

/**
 * String literals of the program's TypeScript sources and plaintext values of its stack files:
 * what a Secret value must never be equal to. Values shorter than 8 characters (user names, flags)
 * carry no credential and are left out.
 */
export function plaintextLiterals(projectDir: string): Set<string> {
    const out = new Set<string>();
    const add = (v: unknown) => {
        if (typeof v === "string" && v.length >= 8) out.add(v);
    };
    const walk = (dir: string) => {
        for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
            if (["node_modules", "test", "bench", ".git", "rendered"].includes(entry.name)) continue;
            const p = path.join(dir, entry.name);
            if (entry.isDirectory()) walk(p);
            else if (entry.name.endsWith(".ts")) {
                for (const m of fs.readFileSync(p, "utf8").matchAll(/(["'`])((?:\\.|(?!\1)[^\\\n])*)\1/g)) add(m[2]);
            }
        }
    };
    walk(projectDir);
    const stacks = path.join(projectDir, "stacks");
    for (const f of fs.existsSync(stacks) ? fs.readdirSync(stacks) : []) {
        for (const line of fs.readFileSync(path.join(stacks, f), "utf8").split("\n")) {
            const m = /^\s*[\w-]+:[\w.-]+:\s*["']?([^"'#]+?)["']?\s*$/.exec(line);
            if (m) add(m[1]);
        }
    }
    return out;
}

/** Policy config of no-secret-literals. */
export interface NoSecretLiteralsConfig {
    /** The program's directory (with Pulumi.yaml), absolute or relative to the pack's directory. @default ".." (the pack inside the program's repository) */
    readonly projectDir: string;
}

/** Pure: the policy over the literals of a project directory (the pack passes the project's). */
export function noSecretLiterals(literals: (projectDir: string) => ReadonlySet<string>): ResourceValidationPolicy {
    return {
        name: "no-secret-literals",
        description: "No Kubernetes Secret holds a value written in plain text in the program or a stack file.",
        enforcementLevel: "mandatory",
        configSchema: { properties: { projectDir: { type: "string", default: ".." } } },
        validateResource: (args, report) => {
            if (args.type !== SECRET) return;
            const known = literals(args.getConfig<NoSecretLiteralsConfig>().projectDir);
            const data: Record<string, unknown> = { ...(args.props.stringData ?? {}) };
            for (const [k, v] of Object.entries(args.props.data ?? {})) if (typeof v === "string") data[k] = Buffer.from(v, "base64").toString("utf8");
            for (const [k, v] of Object.entries(data)) {
                if (typeof v === "string" && known.has(v)) {
                    report(`${label(args.type, args.props, args.name)}: ${k} is a plaintext literal from the program or a stack file; use a config secret (pulumi config set --secret), a generated value, or a SealedSecret in secrets/<stack>/`);
                }
            }
        },
    };
}

export const deployKeyReadOnly: ResourceValidationPolicy = {
    name: "deploy-key-read-only",
    description: "The agent's GitHub deploy key is read-only unless image automation needs write access.",
    enforcementLevel: "advisory",
    configSchema: { properties: { imageAutomation: { type: "boolean", default: false } } },
    validateResource: (args, report) => {
        if (args.type !== DEPLOY_KEY || args.props.readOnly !== false) return;
        if (!args.getConfig<{ imageAutomation: boolean }>().imageAutomation) {
            report(`RepositoryDeployKey ${args.name}: write access although image automation is off; a leaked agent key could push to the repository. Make it read-only`);
        }
    },
};

/**
 * The literals of the program the pack guards. A published pack runs away from the program, so the
 * directory comes from policy config (`no-secret-literals.projectDir`); one without Pulumi.yaml is an
 * error naming the fix rather than a scan of the wrong tree.
 */
function projectLiterals(projectDir: string): Set<string> {
    const dir = path.resolve(__dirname, projectDir);
    if (!fs.existsSync(path.join(dir, "Pulumi.yaml"))) {
        throw new Error(`no-secret-literals: ${dir} holds no Pulumi.yaml; set the policy config no-secret-literals.projectDir to the program's directory`);
    }
    return plaintextLiterals(dir);
}

/** Every policy of the pack; `projectDir` (tests) overrides the policy config of the literal scan. */
export function allPolicies(projectDir?: string): Policy[] {
    const cache = new Map<string, Set<string>>();
    const literals = (configured: string) => {
        const dir = projectDir ?? configured;
        if (!cache.has(dir)) cache.set(dir, projectLiterals(dir));
        return cache.get(dir)!;
    };
    return [
        functionResources,
        pinnedImages,
        gatewayBasicAuth,
        gatewayIngressTls,
        networkPolicies,
        hpaSanity,
        cronJobs,
        acmeV2,
        noSecretLiterals(literals),
        deployKeyReadOnly,
    ];
}

export type { PolicyResource, ReportViolation };
