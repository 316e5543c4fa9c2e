/** The OpenFaaS gateway: basic auth on, with credentials the program owns, and TLS on its ingress. */
import type { PolicyResource, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { CHART, DEPLOYMENT, INGRESS, label, Props, SEALED, SECRET } from "./resource";

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
