import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { BASIC_AUTH_KEYS, BASIC_AUTH_SECRET } from "../model/platform";
import { ChartSource } from "../model/charts";
import { chartArgs, withoutCrds } from "./charts";

/** Secret OpenFaaS Pro reads its licence from. */
const LICENSE_SECRET = "openfaas-license";
/** Gateway Service name and port, fixed by the chart. */
const GATEWAY_SERVICE = { name: "gateway", port: 8080 } as const;
/** Secret cert-manager writes the gateway certificate to. */
const GATEWAY_TLS_SECRET = "gateway-tls";

/** Arguments for {@link OpenFaaS}. */
export interface OpenFaaSArgs {
    /** Namespace of the gateway and core services. */
    readonly namespace: pulumi.Input<string>;
    /** Namespace functions run in. */
    readonly functionNamespace: pulumi.Input<string>;
    /** Some functions run in namespaces of their own (Pro): the chart then gets its ClusterRole. @default false */
    readonly multipleNamespaces?: boolean;
    /** Where the openfaas chart comes from. */
    readonly chart: ChartSource;
    /** Gateway replicas. @default 1 */
    readonly gatewayReplicas?: number;
    /** Queue-worker replicas: the async parallelism. @default 1 */
    readonly queueWorkerReplicas?: number;
    /** Basic-auth user. @default "admin" */
    readonly adminUser?: string;
    /** Basic-auth password. @default generated (32 characters, `@pulumi/random`) */
    readonly adminPassword?: pulumi.Input<string>;
    /**
     * The `basic-auth` Secret is created by the sealed-secrets controller from a committed
     * SealedSecret; this component creates none and knows no password. @default false
     */
    readonly basicAuthFromSealedSecret?: boolean;
    /** OpenFaaS Pro licence; switches on Pro mode and the Function operator. @default Community Edition */
    readonly proLicense?: pulumi.Input<string>;
    /** IngressClass of the gateway Ingress (Contour's `ingressClass` output). */
    readonly ingressClass: pulumi.Input<string>;
    /** Public host of the gateway. @default no host rule: any host reaching Envoy */
    readonly domain?: string;
    /**
     * ClusterIssuer that signs the gateway certificate (CertManager's `issuerName` output, so the
     * Ingress waits for its issuer); TLS is off when undefined. @default undefined
     */
    readonly tlsIssuer?: pulumi.Input<string>;
}

/** @internal Pure: chart values. */
export function openfaasValues(args: {
    functionNamespace: string;
    gatewayReplicas?: number;
    queueWorkerReplicas?: number;
    pro: boolean;
    /** Functions run in namespaces besides functionNamespace (Pro). @default false */
    multipleNamespaces?: boolean;
}): Record<string, unknown> {
    const gatewayReplicas = args.gatewayReplicas ?? 1;
    return {
        functionNamespace: args.functionNamespace,
        basic_auth: true,
        generateBasicAuth: false,
        // The gateway is published through Contour; no extra NodePort Service.
        exposeServices: false,
        openfaasPro: args.pro,
        operator: args.pro
            ? { create: true, leaderElection: { enabled: gatewayReplicas > 1 } }
            : { create: false },
        gateway: { replicas: gatewayReplicas },
        queueWorker: { replicas: args.queueWorkerReplicas ?? 1 },
        // The chart's Role only reaches functionNamespace; other function namespaces need its ClusterRole.
        ...(args.multipleNamespaces ? { clusterRole: true } : {}),
    };
}

/** @internal Pure: the `basic-auth` Secret with the keys the gateway and faas-cli expect (created here: the chart's generator runs in a Helm hook). */
export function basicAuthSecretSpec(
    namespace: pulumi.Input<string>,
    user: pulumi.Input<string>,
    password: pulumi.Input<string>,
): k8s.types.input.core.v1.Secret {
    return {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: BASIC_AUTH_SECRET, namespace },
        type: "Opaque",
        stringData: { [BASIC_AUTH_KEYS.user]: user, [BASIC_AUTH_KEYS.password]: password },
    };
}

/** @internal Pure: the gateway Ingress: routed by Contour, TLS from cert-manager when an issuer is set. */
export function gatewayIngressSpec(args: {
    namespace: pulumi.Input<string>;
    ingressClass: pulumi.Input<string>;
    domain?: string;
    tlsIssuer?: pulumi.Input<string>;
}): k8s.types.input.networking.v1.Ingress {
    const tls = args.domain !== undefined && args.tlsIssuer !== undefined;
    return {
        apiVersion: "networking.k8s.io/v1",
        kind: "Ingress",
        metadata: {
            name: GATEWAY_SERVICE.name,
            namespace: args.namespace,
            annotations: {
                // Longer than the gateway's 1m05s write timeout, so Envoy never cuts a slow function first.
                "projectcontour.io/response-timeout": "70s",
                ...(tls ? { "cert-manager.io/cluster-issuer": args.tlsIssuer! } : {}),
            },
        },
        spec: {
            ingressClassName: args.ingressClass,
            rules: [
                {
                    ...(args.domain !== undefined ? { host: args.domain } : {}),
                    http: {
                        paths: [
                            {
                                path: "/",
                                pathType: "Prefix",
                                backend: { service: { name: GATEWAY_SERVICE.name, port: { number: GATEWAY_SERVICE.port } } },
                            },
                        ],
                    },
                },
            ],
            ...(tls ? { tls: [{ hosts: [args.domain!], secretName: GATEWAY_TLS_SECRET }] } : {}),
        },
    };
}

/** @internal Pure: where users reach the gateway. */
export function gatewayUrl(args: { namespace: string; domain?: string; tls?: boolean }): string {
    if (args.domain === undefined) return `http://${GATEWAY_SERVICE.name}.${args.namespace}:${GATEWAY_SERVICE.port}`;
    return `${args.tls ? "https" : "http"}://${args.domain}`;
}

/** OpenFaaS (faas-netes chart) with basic auth owned by Pulumi and a Contour ingress for the gateway. */
export class OpenFaaS extends pulumi.ComponentResource {
    /** Undefined when basic auth comes from a SealedSecret. */
    public readonly adminUser: pulumi.Output<string | undefined>;
    /** Always a secret output; undefined when basic auth comes from a SealedSecret. */
    public readonly adminPassword: pulumi.Output<string | undefined>;
    public readonly gatewayUrl: pulumi.Output<string>;

    constructor(name: string, args: OpenFaaSArgs, opts?: pulumi.ComponentResourceOptions) {
        // The credentials are left out: they belong to the Secrets below and nowhere else in state.
        // Credentials are not recorded; neither are the ingress class and the issuer, which resolve
        // after Contour's and cert-manager's charts (components/contour.ts).
        super("openfaas-gitops:platform:OpenFaaS", name, { ...args, adminPassword: undefined, proLicense: undefined, ingressClass: undefined, tlsIssuer: undefined }, opts);
        const user = args.adminUser ?? "admin";
        const dependsOn: pulumi.Resource[] = [];
        let password: pulumi.Output<string> | undefined;
        if (!args.basicAuthFromSealedSecret) {
            password =
                args.adminPassword !== undefined
                    ? pulumi.secret(args.adminPassword)
                    : new random.RandomPassword(`${name}-admin-password`, { length: 32, special: false }, { parent: this }).result;
            dependsOn.push(new k8s.core.v1.Secret(`${name}-basic-auth`, basicAuthSecretSpec(args.namespace, user, password), { parent: this }));
        }
        const pro = args.proLicense !== undefined;
        if (pro) {
            dependsOn.push(
                new k8s.core.v1.Secret(
                    `${name}-license`,
                    {
                        metadata: { name: LICENSE_SECRET, namespace: args.namespace },
                        type: "Opaque",
                        stringData: { license: pulumi.secret(args.proLicense!) },
                    },
                    { parent: this },
                ),
            );
        }

        new k8s.helm.v4.Chart(
            `${name}-chart`,
            {
                ...chartArgs("openfaas", args.chart),
                namespace: args.namespace,
                values: pulumi.output(args.functionNamespace).apply((functionNamespace) =>
                    withoutCrds("openfaas", openfaasValues({ functionNamespace, gatewayReplicas: args.gatewayReplicas, queueWorkerReplicas: args.queueWorkerReplicas, pro, multipleNamespaces: args.multipleNamespaces })),
                ),
            },
            { parent: this, dependsOn },
        );

        new k8s.networking.v1.Ingress(
            `${name}-gateway`,
            gatewayIngressSpec({ namespace: args.namespace, ingressClass: args.ingressClass, domain: args.domain, tlsIssuer: args.tlsIssuer }),
            { parent: this },
        );

        this.adminUser = pulumi.output(args.basicAuthFromSealedSecret ? undefined : user);
        this.adminPassword = pulumi.secret(password);
        this.gatewayUrl = pulumi.output(args.namespace).apply((namespace) => gatewayUrl({ namespace, domain: args.domain, tls: args.tlsIssuer !== undefined }));
        this.registerOutputs({ adminUser: this.adminUser, adminPassword: this.adminPassword, gatewayUrl: this.gatewayUrl });
    }
}
