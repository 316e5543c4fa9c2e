/**
 * The Kubernetes identity a pull-request preview runs as (issue 22): it may read the objects the
 * program manages and dry-run writes of them, and nothing else. A pull request's program is
 * untrusted until merged, and a preview runs it.
 *
 * RBAC cannot tell a dry run from a write, so two layers hold it:
 * - RBAC, an allowlist: reads, plus `create` and `patch` (a server-side apply with dryRun=All is a
 *   PATCH; a new object's is checked as a create too) on the kinds the platform declares. It names
 *   no Secret, no `serviceaccounts/token`, no `pods/exec`, and no admission policy. Measured on the
 *   real apiserver (test/preview-identity.test.ts):
 *   - a dry-run TokenRequest returns a working token;
 *   - a ValidatingAdmissionPolicy does not guard its own objects (the identity patched its policy
 *     away);
 *   - a Secret is read by a dry-run patch's answer as by a get.
 *   Without those kinds the provider previews them from the program's inputs: a dry run it may not
 *   make falls back to a client-side diff (pulumi-kubernetes provider.go, Create and Update in
 *   preview).
 * - A ValidatingAdmissionPolicy that denies every request of that identity which is not a dry
 *   run, whatever RBAC grants it (and whatever someone later adds to its ClusterRole).
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { AGENT_DEFAULTS, PREVIEW_IDENTITY } from "../agent/contract";

export { PREVIEW_IDENTITY };

/** The username the apiserver gives the preview's ServiceAccount in `namespace`. */
export function previewUsername(namespace: string): string {
    return `system:serviceaccount:${namespace}:${PREVIEW_IDENTITY}`;
}

/** Core kinds a preview reads and dry-runs: all the platform declares, never Secrets or any subresource. */
const CORE_KINDS = ["configmaps", "endpoints", "limitranges", "namespaces", "persistentvolumeclaims", "pods", "resourcequotas", "serviceaccounts", "services"];

/**
 * API groups whose every kind a preview reads and dry-runs: Kubernetes' own that the charts use, and
 * the groups of the charts' CRDs (test/preview-identity.test.ts checks these against the real CRDs).
 */
const GROUPS = [
    "apps",
    "batch",
    "autoscaling",
    "policy",
    "networking.k8s.io",
    "rbac.authorization.k8s.io",
    "apiextensions.k8s.io",
    "scheduling.k8s.io",
    "cert-manager.io",
    "acme.cert-manager.io",
    "projectcontour.io",
    "source.toolkit.fluxcd.io",
    "source.extensions.fluxcd.io",
    "kustomize.toolkit.fluxcd.io",
    "helm.toolkit.fluxcd.io",
    "notification.toolkit.fluxcd.io",
    "image.toolkit.fluxcd.io",
    "bitnami.com",
    "openfaas.com",
    "iam.openfaas.com",
];

/** Webhook configurations only (cert-manager's charts declare them): admission policies guard the preview itself. */
const ADMISSION_KINDS = ["validatingwebhookconfigurations", "mutatingwebhookconfigurations"];

const READ = ["get", "list", "watch"];
/** Server-side apply is a PATCH; an object that does not exist yet is checked as a create as well. */
const DRY_RUN = ["create", "patch"];

/** @internal Pure: the ClusterRole: reads and dry-run writes of the platform's kinds (see the module comment). */
export function previewClusterRoleSpec() {
    const rules = (verbs: string[]) => [
        { apiGroups: [""], resources: CORE_KINDS, verbs },
        { apiGroups: GROUPS, resources: ["*"], verbs },
        { apiGroups: ["admissionregistration.k8s.io"], resources: ADMISSION_KINDS, verbs },
    ];
    return {
        apiVersion: "rbac.authorization.k8s.io/v1" as const,
        kind: "ClusterRole" as const,
        metadata: { name: PREVIEW_IDENTITY },
        rules: [...rules(READ), ...rules(DRY_RUN)],
    };
}

/**
 * @internal Pure: the policy that denies every request of the preview's identity but a dry run.
 * It matches every group, version, kind and subresource, so it holds whatever RBAC grants.
 */
export function previewPolicySpec(namespace: string) {
    return {
        apiVersion: "admissionregistration.k8s.io/v1" as const,
        kind: "ValidatingAdmissionPolicy" as const,
        metadata: { name: PREVIEW_IDENTITY },
        spec: {
            failurePolicy: "Fail",
            matchConstraints: {
                resourceRules: [{ apiGroups: ["*"], apiVersions: ["*"], operations: ["CREATE", "UPDATE", "DELETE", "CONNECT"], resources: ["*/*"] }],
            },
            matchConditions: [{ name: "preview-identity", expression: `request.userInfo.username == ${JSON.stringify(previewUsername(namespace))}` }],
            validations: [{ expression: "request.dryRun == true", message: `${PREVIEW_IDENTITY} previews a pull request: it may read and dry-run, never write` }],
        },
    };
}

/** @internal Pure: the ServiceAccount (no token mounted anywhere: a preview's token is minted for it). */
export function previewServiceAccountSpec(namespace: string) {
    return { apiVersion: "v1" as const, kind: "ServiceAccount" as const, metadata: { name: PREVIEW_IDENTITY, namespace }, automountServiceAccountToken: false };
}

/** @internal Pure: the ClusterRoleBinding of the ServiceAccount to the ClusterRole. */
export function previewClusterRoleBindingSpec(namespace: string) {
    return {
        apiVersion: "rbac.authorization.k8s.io/v1" as const,
        kind: "ClusterRoleBinding" as const,
        metadata: { name: PREVIEW_IDENTITY },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: PREVIEW_IDENTITY },
        subjects: [{ kind: "ServiceAccount", name: PREVIEW_IDENTITY, namespace }],
    };
}

/** @internal Pure: the binding that makes the policy deny. */
export function previewPolicyBindingSpec() {
    return {
        apiVersion: "admissionregistration.k8s.io/v1" as const,
        kind: "ValidatingAdmissionPolicyBinding" as const,
        metadata: { name: PREVIEW_IDENTITY },
        spec: { policyName: PREVIEW_IDENTITY, validationActions: ["Deny"] },
    };
}

/** @internal Pure: every object of the preview identity, in the order they are applied. */
export function previewIdentitySpecs(namespace: string) {
    return [previewServiceAccountSpec(namespace), previewClusterRoleSpec(), previewClusterRoleBindingSpec(namespace), previewPolicySpec(namespace), previewPolicyBindingSpec()];
}

/**
 * @internal Pure: the preview namespace's NetworkPolicy. A preview runs unmerged code: nothing may
 * reach its pods, and they reach only DNS, the agent that started them (its job, source and result),
 * and HTTPS (the apiserver, on 443 or 6443, and the npm registry), never a link-local address (a
 * cloud's metadata service hands out the node's credentials there). The platform's own namespaces
 * admit it nowhere: it carries none of their labels.
 */
export function previewNetworkPolicySpec(namespace: string, agentNamespace: string) {
    return {
        apiVersion: "networking.k8s.io/v1" as const,
        kind: "NetworkPolicy" as const,
        metadata: { name: PREVIEW_IDENTITY, namespace },
        spec: {
            podSelector: {},
            policyTypes: ["Ingress", "Egress"],
            ingress: [],
            egress: [
                { to: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } } }], ports: [{ protocol: "UDP", port: 53 }, { protocol: "TCP", port: 53 }] },
                { to: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": agentNamespace } } }], ports: [{ protocol: "TCP", port: AGENT_DEFAULTS.port }] },
                { to: [{ ipBlock: { cidr: "0.0.0.0/0", except: ["169.254.0.0/16"] } }, { ipBlock: { cidr: "::/0", except: ["fe80::/10"] } }], ports: [{ protocol: "TCP", port: 443 }, { protocol: "TCP", port: 6443 }] },
            ],
        },
    };
}

/** Arguments for {@link PreviewIdentity}. */
export interface PreviewIdentityArgs {
    /** Its namespace, made here: the ServiceAccount's, where preview pods run. */
    readonly namespace: string;
    /** Isolate the namespace ({@link previewNetworkPolicySpec}). @default false */
    readonly networkPolicy?: boolean;
}

/**
 * The identity pull-request previews run as (config key previewIdentity): a ServiceAccount that
 * reads and dry-runs the platform's kinds, and an admission policy that denies it anything else.
 */
export class PreviewIdentity extends pulumi.ComponentResource {
    /** Its username, for a kubeconfig or `kubectl --as`. */
    public readonly username: pulumi.Output<string>;

    constructor(name: string, args: PreviewIdentityArgs, opts?: pulumi.ComponentResourceOptions) {
        super("openfaas-gitops:platform:PreviewIdentity", name, args, opts);
        const namespace = new k8s.core.v1.Namespace(`${name}-namespace`, { metadata: { name: args.namespace, labels: { "app.kubernetes.io/part-of": "openfaas-gitops" } } }, { parent: this });
        const inThis = { parent: this, dependsOn: [namespace] };
        if (args.networkPolicy) new k8s.networking.v1.NetworkPolicy(`${name}-network-policy`, previewNetworkPolicySpec(args.namespace, AGENT_DEFAULTS.namespace), inThis);
        const sa = new k8s.core.v1.ServiceAccount(`${name}-sa`, previewServiceAccountSpec(args.namespace), inThis);
        const role = new k8s.rbac.v1.ClusterRole(`${name}-role`, previewClusterRoleSpec(), { parent: this });
        new k8s.rbac.v1.ClusterRoleBinding(`${name}-binding`, previewClusterRoleBindingSpec(args.namespace), { parent: this, dependsOn: [sa, role] });
        // The policy is in force before the identity can be used for anything but reads.
        const policy = new k8s.admissionregistration.v1.ValidatingAdmissionPolicy(`${name}-policy`, previewPolicySpec(args.namespace), inThis);
        new k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(`${name}-policy-binding`, previewPolicyBindingSpec(), { parent: this, dependsOn: [policy] });
        this.username = pulumi.output(previewUsername(args.namespace));
        this.registerOutputs({ username: this.username });
    }
}
