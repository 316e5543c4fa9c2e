import * as github from "@pulumi/github";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { AGENT_DEFAULTS } from "../../agent/contract";
import { ChartSource } from "../../model/charts";
import type { FluxNotification } from "../../model/flux";
import type { ImagePolicyDef } from "../../model/function";
import { isSshUrl } from "../../model/git";
import { chartArgs, withoutCrds } from "../charts";
import { agentAccessSpecs, fluxAgentNetworkPolicySpec } from "./agent-access";
import { imagePolicySpec, imageRepositorySpec, imageUpdateAutomationSpec } from "./image-automation";
import { alertSpec, notificationSecretKey, providerSpec } from "./notifications";
import { receiverIngressSpec, receiverPath, receiverSpec } from "./receiver";
import { FLUX_LABELS, FLUX_SOURCE_NAME } from "./shared";
import { gitRepositorySpec } from "./source";
import { fluxValues } from "./values";

/** One image Flux may update: the function (or other workload) it belongs to, its current reference and the policy. */
export interface AutomatedImage {
    /** Name of the ImageRepository and ImagePolicy; the setter marker names it. */
    readonly name: string;
    /** Current image reference, e.g. ghcr.io/openfaas/nodeinfo:0.2.0. */
    readonly image: string;
    readonly policy: ImagePolicyDef;
}

/** Image automation: which images, and the directory of the YAML files carrying their setter markers. */
export interface ImageAutomationArgs {
    readonly images: readonly AutomatedImage[];
    /** Directory of the files to update, relative to the repository root, e.g. "./functions". */
    readonly path: string;
}

/** Arguments for {@link Flux}. */
export interface FluxArgs {
    /** Namespace of the controllers and of every Flux object. @default AGENT_DEFAULTS.fluxNamespace (flux-system) */
    readonly namespace?: string;
    /** Where the flux2 chart comes from. */
    readonly chart: ChartSource;
    /** Run kustomize-controller (this platform applies with Pulumi, so off unless a stack uses Kustomizations). @default false */
    readonly kustomizeController?: boolean;
    /** Run helm-controller (charts are Pulumi Helm charts here, so off unless a stack uses HelmReleases). @default false */
    readonly helmController?: boolean;
    /** The repository this program lives in: ssh URL (git@host:org/repo.git or ssh://) or https://. */
    readonly repoUrl: string;
    /** @default "main" */
    readonly branch?: string;
    /** How often source-controller fetches without a webhook, as a Flux duration. @default "1m" */
    readonly interval?: string;
    /** Deploy key (OpenSSH private key) for ssh URLs: the agent's, so one key is registered on the repository. */
    readonly deployKey: pulumi.Input<string>;
    /** Pinned known_hosts for ssh URLs (an unknown host key fails the fetch). */
    readonly knownHosts: string;
    /** Public host of the GitHub push Receiver, routed through Contour; enables the Receiver. @default no Receiver */
    readonly webhookHost?: string;
    /** Bring-your-own Receiver token (the GitHub webhook secret). @default generated (`@pulumi/random`) */
    readonly webhookSecret?: pulumi.Input<string>;
    /** Register the Receiver as this GitHub repository's push webhook (`@pulumi/github`). @default off */
    readonly github?: { readonly repository: string };
    /** IngressClass of the Receiver's Ingress. @default "contour" */
    readonly ingressClass?: pulumi.Input<string>;
    /** ClusterIssuer for the webhook host's certificate. @default none (plain HTTP) */
    readonly tlsIssuer?: pulumi.Input<string>;
    /** Provider + Alert pairs. @default none */
    readonly notifications?: readonly FluxNotification[];
    /** ImageRepository + ImagePolicy per image and the ImageUpdateAutomation that pushes new tags. @default off */
    readonly imageAutomation?: ImageAutomationArgs;
    /** The reconcile agent in flux mode: it may read and watch the GitRepository. @default none */
    readonly agent?: FluxAgentAccess;
    /** Isolate the Flux namespace's ingress as Flux's own install does, letting the agent in. @default false */
    readonly networkPolicies?: boolean;
}

/** The agent that follows the GitRepository: its namespace, ServiceAccount and pod labels. */
export interface FluxAgentAccess {
    readonly namespace: string;
    readonly serviceAccount: string;
    readonly podLabels: Readonly<Record<string, string>>;
}

/**
 * Flux v2 from the community flux2 chart, with the GitRepository of this program's repository; with a
 * webhook host, the GitHub push Receiver exposed through Contour; a Provider + Alert per notification;
 * and, with image automation, the image objects and the ImageUpdateAutomation that pushes new tags.
 */
export class Flux extends pulumi.ComponentResource {
    /** URL to configure as the repository's push webhook (undefined without a webhook host). */
    public readonly webhookUrl: pulumi.Output<string | undefined>;

    constructor(name: string, args: FluxArgs, opts?: pulumi.ComponentResourceOptions) {
        // Credentials are not recorded; neither are the ingress class and the issuer, which resolve
        // after Contour's and cert-manager's charts (components/contour.ts).
        super(
            "openfaas-gitops:platform:Flux",
            name,
            { ...args, deployKey: undefined, webhookSecret: undefined, notifications: args.notifications?.map((n) => ({ ...n, secret: undefined })), ingressClass: undefined, tlsIssuer: undefined },
            opts,
        );
        const ns = args.namespace ?? AGENT_DEFAULTS.fluxNamespace;
        const namespace = new k8s.core.v1.Namespace(`${name}-namespace`, { metadata: { name: ns, labels: FLUX_LABELS } }, { parent: this });
        const inNs = { parent: this, dependsOn: [namespace] };
        // The Flux objects wait for the chart (its controllers); the CRDs were applied before the program declared anything.
        const chart = new k8s.helm.v4.Chart(
            `${name}-chart`,
            { ...chartArgs("flux2", args.chart), namespace: ns, values: withoutCrds("flux2", fluxValues(args)) },
            inNs,
        );
        const afterChart = { parent: this, dependsOn: [namespace, chart] };

        const ssh = isSshUrl(args.repoUrl);
        const credentials = ssh
            ? [new k8s.core.v1.Secret(
                  `${name}-git`,
                  {
                      metadata: { name: FLUX_SOURCE_NAME, namespace: ns, labels: FLUX_LABELS },
                      type: "Opaque",
                      // The keys source-controller reads for ssh: identity and known_hosts.
                      stringData: { identity: pulumi.secret(args.deployKey), known_hosts: args.knownHosts },
                  },
                  inNs,
              )]
            : [];
        const source = new k8s.apiextensions.CustomResource(`${name}-source`, gitRepositorySpec(ns, args), { ...afterChart, dependsOn: [namespace, chart, ...credentials] });

        let webhookUrl: pulumi.Output<string | undefined> = pulumi.output(undefined);
        if (args.webhookHost !== undefined) {
            const token = args.webhookSecret !== undefined
                ? pulumi.secret(args.webhookSecret)
                : new random.RandomPassword(`${name}-webhook-token`, { length: 40, special: false }, { parent: this }).result;
            const tokenSecret = new k8s.core.v1.Secret(
                `${name}-webhook-token`,
                { metadata: { name: "github-receiver-token", namespace: ns, labels: FLUX_LABELS }, type: "Opaque", stringData: { token } },
                inNs,
            );
            new k8s.apiextensions.CustomResource(`${name}-receiver`, receiverSpec(ns, "github-receiver-token"), { ...afterChart, dependsOn: [namespace, chart, tokenSecret, source] });
            new k8s.networking.v1.Ingress(`${name}-webhook`, receiverIngressSpec(ns, args.webhookHost, args.ingressClass ?? "contour", args.tlsIssuer), afterChart);
            const scheme = args.tlsIssuer ? "https" : "http";
            // The path is a hash of the token, not the token, so the URL is not a secret.
            webhookUrl = pulumi.unsecret(pulumi.output(token).apply((t) => `${scheme}://${args.webhookHost}${receiverPath(t, ns)}`));
            if (args.github) {
                new github.RepositoryWebhook(
                    `${name}-webhook`,
                    { repository: args.github.repository, events: ["push"], active: true, configuration: { url: webhookUrl.apply((u) => u!), contentType: "json", secret: token, insecureSsl: false } },
                    { parent: this },
                );
            }
        }

        for (const n of args.notifications ?? []) {
            const secret = new k8s.core.v1.Secret(
                `${name}-notify-${n.name}`,
                { metadata: { name: `notify-${n.name}`, namespace: ns, labels: FLUX_LABELS }, type: "Opaque", stringData: { [notificationSecretKey(n.type)]: pulumi.secret(n.secret) } },
                inNs,
            );
            const provider = new k8s.apiextensions.CustomResource(`${name}-provider-${n.name}`, providerSpec(ns, n, args.repoUrl), { ...afterChart, dependsOn: [namespace, chart, secret] });
            new k8s.apiextensions.CustomResource(`${name}-alert-${n.name}`, alertSpec(ns, n), { ...afterChart, dependsOn: [namespace, chart, provider] });
        }

        if (args.imageAutomation) {
            for (const img of args.imageAutomation.images) {
                const repo = new k8s.apiextensions.CustomResource(`${name}-image-${img.name}`, imageRepositorySpec(ns, img), afterChart);
                new k8s.apiextensions.CustomResource(`${name}-policy-${img.name}`, imagePolicySpec(ns, img), { ...afterChart, dependsOn: [namespace, chart, repo] });
            }
            new k8s.apiextensions.CustomResource(`${name}-image-update`, imageUpdateAutomationSpec(ns, { branch: args.branch, path: args.imageAutomation.path }), { ...afterChart, dependsOn: [namespace, chart, source] });
        }

        if (args.agent) {
            const access = agentAccessSpecs(ns, args.agent);
            const role = new k8s.rbac.v1.Role(`${name}-agent-role`, access.role, inNs);
            new k8s.rbac.v1.RoleBinding(`${name}-agent-rolebinding`, access.binding, { parent: this, dependsOn: [namespace, role] });
        }
        if (args.networkPolicies && args.agent) {
            const spec = fluxAgentNetworkPolicySpec(ns, args.agent);
            new k8s.networking.v1.NetworkPolicy(`${name}-${spec.metadata.name}`, spec, { ...inNs, dependsOn: [namespace, chart] });
        }

        this.webhookUrl = webhookUrl;
        this.registerOutputs({ webhookUrl: this.webhookUrl });
    }
}
