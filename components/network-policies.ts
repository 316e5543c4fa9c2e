import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ACCESS_LABEL, ROLE_LABEL } from "./namespaces";

/** Arguments for {@link NetworkPolicies}. */
export interface NetworkPoliciesArgs {
    /** Namespace of the gateway and core services. */
    readonly core: pulumi.Input<string>;
    /** Namespace functions run in. */
    readonly functions: pulumi.Input<string>;
    /** Namespaces functions name for themselves (Pro), by name; isolated like `functions`. @default {} */
    readonly ownFunctionNamespaces?: Readonly<Record<string, pulumi.Input<string>>>;
}

/**
 * @internal Pure: the 2018 isolation, on today's API.
 * - `openfaas-fn` accepts traffic only from namespaces labelled `role: openfaas-system` (the core
 *   namespace: gateway, queue-worker, Prometheus).
 * - `openfaas` accepts traffic from namespaces labelled `access: openfaas-system` (Contour's Envoy,
 *   cert-manager, sealed-secrets and the core namespace itself) and, explicitly, from its own pods:
 *   Prometheus scraping the gateway, NATS and the queue-worker, and cert-manager's http01 solver
 *   pods (created next to the gateway Ingress) answering Envoy keep working even if someone
 *   relabels the namespace.
 */
export function networkPolicySpecs(args: NetworkPoliciesArgs) {
    const policy = (name: string, namespace: pulumi.Input<string>, from: k8s.types.input.networking.v1.NetworkPolicyPeer[]) => ({
        apiVersion: "networking.k8s.io/v1" as const,
        kind: "NetworkPolicy" as const,
        metadata: { name, namespace },
        spec: { podSelector: {}, policyTypes: ["Ingress"], ingress: [{ from }] },
    });
    const functionPolicy = (ns: pulumi.Input<string>) => policy("openfaas-fn", ns, [{ namespaceSelector: { matchLabels: { ...ROLE_LABEL } } }]);
    return [
        functionPolicy(args.functions),
        policy("openfaas", args.core, [{ namespaceSelector: { matchLabels: { ...ACCESS_LABEL } } }, { podSelector: {} }]),
        ...Object.values(args.ownFunctionNamespaces ?? {}).map(functionPolicy),
    ];
}

/** NetworkPolicies isolating the core and function namespaces. */
export class NetworkPolicies extends pulumi.ComponentResource {
    constructor(name: string, args: NetworkPoliciesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("openfaas-gitops:platform:NetworkPolicies", name, args, opts);
        networkPolicySpecs(args).forEach((spec, i) => {
            // The platform's two keep the names they had before function namespaces existed; the others are named by namespace.
            const child = i < 2 ? `${name}-${spec.metadata.name}` : `${name}-${Object.keys(args.ownFunctionNamespaces!)[i - 2]}-${spec.metadata.name}`;
            new k8s.networking.v1.NetworkPolicy(child, spec, { parent: this });
        });
        this.registerOutputs({});
    }
}
