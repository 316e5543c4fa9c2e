import type { FluxAgentAccess } from "./flux";
import { FLUX_LABELS } from "./shared";

/** @internal Pure: the Role and RoleBinding that let the agent get, list and watch the GitRepository (its status carries the artifact). */
export function agentAccessSpecs(namespace: string, agent: FluxAgentAccess) {
    const name = agent.serviceAccount;
    return {
        role: {
            apiVersion: "rbac.authorization.k8s.io/v1" as const,
            kind: "Role" as const,
            metadata: { name, namespace, labels: FLUX_LABELS },
            rules: [{ apiGroups: ["source.toolkit.fluxcd.io"], resources: ["gitrepositories"], verbs: ["get", "list", "watch"] }],
        },
        binding: {
            apiVersion: "rbac.authorization.k8s.io/v1" as const,
            kind: "RoleBinding" as const,
            metadata: { name, namespace, labels: FLUX_LABELS },
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
            subjects: [{ kind: "ServiceAccount", name: agent.serviceAccount, namespace: agent.namespace }],
        },
    };
}

/**
 * @internal Pure: the one rule the agent needs on top of the chart's own policies (`policies.create`, the set
 * `flux install` ships: ingress only from within the namespace, metrics on 8080 and the Receiver's
 * port from anywhere): the agent's pods reach the two ports they use, source-controller's artifact
 * storage and notification-controller's event endpoint, both the container port named `http`
 * (9090; Service port 80) in the flux2 chart.
 */
export function fluxAgentNetworkPolicySpec(namespace: string, agent: FluxAgentAccess) {
    return {
        apiVersion: "networking.k8s.io/v1" as const,
        kind: "NetworkPolicy" as const,
        metadata: { name: "allow-openfaas-gitops-agent", namespace, labels: FLUX_LABELS },
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
