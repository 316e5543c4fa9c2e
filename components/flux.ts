import * as crypto from "node:crypto";
import * as github from "@pulumi/github";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { ImagePolicyDef } from "../model/function";
import { FluxNotification, githubRepositoryAddress, NotificationType } from "../model/flux";
import { isSshUrl } from "../model/git";
import { AGENT_DEFAULTS } from "../agent/contract";
import { ChartSource } from "../model/charts";
import { chartArgs, withoutCrds } from "./charts";

/** API versions of the Flux v2.8 CRDs (../shared/upstream/crds/flux.yaml) this component declares. */
export const FLUX_API = {
    source: "source.toolkit.fluxcd.io/v1",
    notification: "notification.toolkit.fluxcd.io/v1",
    notificationProvider: "notification.toolkit.fluxcd.io/v1beta3",
    image: "image.toolkit.fluxcd.io/v1",
} as const;

/** How often the image objects scan registries and the automation looks for new tags to commit. */
export const IMAGE_SCAN_INTERVAL = "5m";
/** Author of the tag commits (Flux's documented bot identity). */
export const IMAGE_COMMIT_AUTHOR = { name: "fluxcdbot", email: "fluxcdbot@users.noreply.github.com" };

/** Name of the GitRepository (and of its credentials Secret): the agent's Flux source mode reads it. */
export const FLUX_SOURCE_NAME = AGENT_DEFAULTS.fluxSource;
const RECEIVER_NAME = "github-push";
/** notification-controller's receiver Service in the flux2 chart (templates/notification-controller-webhook-service.yaml). */
const RECEIVER_SERVICE = "webhook-receiver";
const LABELS = { "app.kubernetes.io/part-of": "openfaas-gitops", "app.kubernetes.io/component": "flux" };

/** The kinds whose events the Alerts forward: the Flux objects this component declares. */
export const ALERT_EVENT_SOURCES = ["GitRepository", "ImageRepository", "ImagePolicy", "ImageUpdateAutomation"] as const;

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

/** Pure: the Role and RoleBinding that let the agent get, list and watch the GitRepository (its status carries the artifact). */
export function agentAccessSpecs(namespace: string, agent: FluxAgentAccess) {
    const name = agent.serviceAccount;
    return {
        role: {
            apiVersion: "rbac.authorization.k8s.io/v1" as const,
            kind: "Role" as const,
            metadata: { name, namespace, labels: LABELS },
            rules: [{ apiGroups: ["source.toolkit.fluxcd.io"], resources: ["gitrepositories"], verbs: ["get", "list", "watch"] }],
        },
        binding: {
            apiVersion: "rbac.authorization.k8s.io/v1" as const,
            kind: "RoleBinding" as const,
            metadata: { name, namespace, labels: LABELS },
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
            subjects: [{ kind: "ServiceAccount", name: agent.serviceAccount, namespace: agent.namespace }],
        },
    };
}

/**
 * Pure: the one rule the agent needs on top of the chart's own policies (`policies.create`, the set
 * `flux install` ships: ingress only from within the namespace, metrics on 8080 and the Receiver's
 * port from anywhere): the agent's pods reach the two ports they use, source-controller's artifact
 * storage and notification-controller's event endpoint, both the container port named `http`
 * (9090; Service port 80) in the flux2 chart.
 */
export function fluxAgentNetworkPolicySpec(namespace: string, agent: FluxAgentAccess) {
    return {
        apiVersion: "networking.k8s.io/v1" as const,
        kind: "NetworkPolicy" as const,
        metadata: { name: "allow-openfaas-gitops-agent", namespace, labels: LABELS },
        spec: {
            podSelector: { matchExpressions: [{ key: "app", operator: "In", values: ["source-controller", "notification-controller"] }] },
            policyTypes: ["Ingress"],
            ingress: [{
                from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": agent.namespace } }, podSelector: { matchLabels: { ...agent.podLabels } } }],
                ports: [{ protocol: "TCP", port: "http" }],
            }],
        },
    };
}

/**
 * Pure: chart values: source and notification controllers always, image automation for tag commits,
 * the rest on request; the chart's own network policies follow the stack's `networkPolicies`.
 */
export function fluxValues(args: Pick<FluxArgs, "kustomizeController" | "helmController" | "networkPolicies">): Record<string, unknown> {
    return {
        policies: { create: args.networkPolicies === true },
        sourceController: { create: true },
        notificationController: { create: true },
        imageReflectionController: { create: true },
        imageAutomationController: { create: true },
        kustomizeController: { create: args.kustomizeController ?? false },
        helmController: { create: args.helmController ?? false },
    };
}


/**
 * Pure: the URL as source-controller wants it. It takes only `ssh://` for ssh, so the scp-like
 * `git@github.com:org/repo.git` that git (and the agent) accept becomes `ssh://git@github.com/org/repo.git`.
 */
export function fluxGitUrl(url: string): string {
    const scp = /^([\w.-]+@[\w.-]+):(?!\/\/)(.+)$/.exec(url);
    return scp && !url.startsWith("ssh://") ? `ssh://${scp[1]}/${scp[2]!.replace(/^\//, "")}` : url;
}

/** Pure: the GitRepository that follows this program's repository. */
export function gitRepositorySpec(namespace: string, a: Pick<FluxArgs, "repoUrl" | "branch" | "interval">) {
    return {
        apiVersion: FLUX_API.source,
        kind: "GitRepository" as const,
        metadata: { name: FLUX_SOURCE_NAME, namespace, labels: LABELS },
        spec: {
            url: fluxGitUrl(a.repoUrl),
            ref: { branch: a.branch ?? "main" },
            interval: a.interval ?? "1m",
            ...(isSshUrl(a.repoUrl) ? { secretRef: { name: FLUX_SOURCE_NAME } } : {}),
        },
    };
}


/** Pure: the Secret key a Provider reads its credential from: a token for commit statuses, else the webhook address. */
export function notificationSecretKey(type: NotificationType): "token" | "address" {
    return type === "github" ? "token" : "address";
}

/** Pure: a Provider; the credential stays in the Secret named after it. */
export function providerSpec(namespace: string, n: Omit<FluxNotification, "secret">, repoUrl: string) {
    const address = n.type === "github" ? githubRepositoryAddress(repoUrl) : undefined;
    if (n.type === "github" && !address) throw new Error(`notification ${n.name}: GitHub commit status needs a github.com repository, not ${repoUrl}`);
    return {
        apiVersion: FLUX_API.notificationProvider,
        kind: "Provider" as const,
        metadata: { name: n.name, namespace, labels: LABELS },
        spec: {
            type: n.type,
            ...(n.channel ? { channel: n.channel } : {}),
            ...(address ? { address } : {}),
            secretRef: { name: `notify-${n.name}` },
        },
    };
}

/** Pure: the Alert that sends the events of every Flux object here to a Provider. */
export function alertSpec(namespace: string, n: Pick<FluxNotification, "name" | "severity">) {
    return {
        apiVersion: FLUX_API.notificationProvider,
        kind: "Alert" as const,
        metadata: { name: n.name, namespace, labels: LABELS },
        spec: {
            providerRef: { name: n.name },
            eventSeverity: n.severity ?? "info",
            eventSources: ALERT_EVENT_SOURCES.map((kind) => ({ kind, name: "*" })),
        },
    };
}


/** Pure: the repository part of an image reference (tag and digest dropped), what an ImageRepository scans. */
export function imageRepository(image: string): string {
    const noDigest = image.split("@")[0]!;
    const slash = noDigest.lastIndexOf("/");
    const colon = noDigest.lastIndexOf(":");
    return colon > slash ? noDigest.slice(0, colon) : noDigest;
}

/** Pure: the ImageRepository that lists an image's tags. */
export function imageRepositorySpec(namespace: string, img: Pick<AutomatedImage, "name" | "image">) {
    return {
        apiVersion: FLUX_API.image,
        kind: "ImageRepository" as const,
        metadata: { name: img.name, namespace, labels: LABELS },
        spec: { image: imageRepository(img.image), interval: IMAGE_SCAN_INTERVAL },
    };
}

/** Pure: the ImagePolicy that picks the latest allowed tag. */
export function imagePolicySpec(namespace: string, img: Pick<AutomatedImage, "name" | "policy">) {
    const p = img.policy;
    return {
        apiVersion: FLUX_API.image,
        kind: "ImagePolicy" as const,
        metadata: { name: img.name, namespace, labels: LABELS },
        spec: {
            imageRepositoryRef: { name: img.name },
            ...("semver" in p
                ? { policy: { semver: { range: p.semver } } }
                : {
                      filterTags: { pattern: p.pattern, ...(p.extract ? { extract: p.extract } : {}) },
                      policy: { [p.order]: { order: "asc" } },
                  }),
        },
    };
}

/** Pure: the one ImageUpdateAutomation: checks out the branch, rewrites the marked lines under `path`, pushes to the same branch. */
export function imageUpdateAutomationSpec(namespace: string, a: { branch?: string; path: string }) {
    const branch = a.branch ?? "main";
    return {
        apiVersion: FLUX_API.image,
        kind: "ImageUpdateAutomation" as const,
        metadata: { name: FLUX_SOURCE_NAME, namespace, labels: LABELS },
        spec: {
            interval: IMAGE_SCAN_INTERVAL,
            sourceRef: { kind: "GitRepository", name: FLUX_SOURCE_NAME },
            git: {
                checkout: { ref: { branch } },
                commit: { author: IMAGE_COMMIT_AUTHOR },
                push: { branch },
            },
            update: { path: a.path, strategy: "Setters" },
        },
    };
}

/** Pure: the Receiver that turns a GitHub push (or ping) into an immediate fetch of the GitRepository. */
export function receiverSpec(namespace: string, tokenSecret: string) {
    return {
        apiVersion: FLUX_API.notification,
        kind: "Receiver" as const,
        metadata: { name: RECEIVER_NAME, namespace, labels: LABELS },
        spec: {
            type: "github",
            events: ["ping", "push"],
            secretRef: { name: tokenSecret },
            resources: [{ apiVersion: FLUX_API.source, kind: "GitRepository", name: FLUX_SOURCE_NAME }],
        },
    };
}

/**
 * Pure: the path notification-controller serves a Receiver on (its `status.webhookPath`):
 * `/hook/` + hex sha256 of token + name + namespace, so the URL is known before the controller runs.
 */
export function receiverPath(token: string, namespace: string, name = RECEIVER_NAME): string {
    return `/hook/${crypto.createHash("sha256").update(token + name + namespace).digest("hex")}`;
}

/** Pure: the Ingress that lets GitHub reach only the receiver paths, through Contour. */
export function receiverIngressSpec(namespace: string, host: string, ingressClass: pulumi.Input<string>, tlsIssuer?: pulumi.Input<string>) {
    return {
        apiVersion: "networking.k8s.io/v1" as const,
        kind: "Ingress" as const,
        metadata: { name: "flux-webhook-receiver", namespace, labels: LABELS, ...(tlsIssuer ? { annotations: { "cert-manager.io/cluster-issuer": tlsIssuer } } : {}) },
        spec: {
            ingressClassName: ingressClass,
            rules: [{ host, http: { paths: [{ path: "/hook/", pathType: "Prefix", backend: { service: { name: RECEIVER_SERVICE, port: { name: "http" } } } }] } }],
            ...(tlsIssuer ? { tls: [{ hosts: [host], secretName: "flux-webhook-receiver-tls" }] } : {}),
        },
    };
}

/**
 * Flux v2 from the community flux2 chart, with the GitRepository of this program's repository; with a
 * webhook host, the GitHub push Receiver exposed through Contour; a Provider + Alert per notification;
 * and, with image automation, the image objects and the ImageUpdateAutomation that pushes new tags.
 */
export class Flux extends pulumi.ComponentResource {
    /** Namespace of the Flux objects. */
    public readonly namespace: pulumi.Output<string>;
    /** Name of the GitRepository the agent follows. */
    public readonly sourceName: pulumi.Output<string>;
    /** URL to configure as the repository's push webhook (undefined without a webhook host). */
    public readonly webhookUrl: pulumi.Output<string | undefined>;

    constructor(name: string, args: FluxArgs, opts?: pulumi.ComponentResourceOptions) {
        // Credentials stay out of the component's recorded inputs.
        // Credentials are not recorded; neither are the ingress class and the issuer, which resolve
        // after Contour's and cert-manager's charts (components/contour.ts).
        super(
            "openfaas-gitops:platform:Flux",
            name,
            { ...args, deployKey: undefined, webhookSecret: undefined, notifications: args.notifications?.map((n) => ({ ...n, secret: undefined })), ingressClass: undefined, tlsIssuer: undefined },
            opts,
        );
        const ns = args.namespace ?? AGENT_DEFAULTS.fluxNamespace;
        const namespace = new k8s.core.v1.Namespace(`${name}-namespace`, { metadata: { name: ns, labels: LABELS } }, { parent: this });
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
                      metadata: { name: FLUX_SOURCE_NAME, namespace: ns, labels: LABELS },
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
                { metadata: { name: "github-receiver-token", namespace: ns, labels: LABELS }, type: "Opaque", stringData: { token } },
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
                { metadata: { name: `notify-${n.name}`, namespace: ns, labels: LABELS }, type: "Opaque", stringData: { [notificationSecretKey(n.type)]: pulumi.secret(n.secret) } },
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

        this.namespace = pulumi.output(ns);
        this.sourceName = pulumi.output(FLUX_SOURCE_NAME);
        this.webhookUrl = webhookUrl;
        this.registerOutputs({ namespace: this.namespace, sourceName: this.sourceName, webhookUrl: this.webhookUrl });
    }
}
