/**
 * TEST HARNESS around the program, for what has no real counterpart on the live test cluster
 * (tools/controlplane.ts: real controllers and scheduler, KWOK's simulated nodes, where pods are
 * marked Running and Ready but no container runs). Registered by the tests around the program,
 * never by the program itself. Everything else the program declares reaches the apiserver
 * unchanged and is awaited by Pulumi exactly as on a user's cluster.
 * - Every await gets a deadline (`pulumi.com/timeoutSeconds`) far below the provider's 10 minutes:
 *   here everything is ready within seconds, and a stuck await must fail the test while CI still
 *   has time to say which resource and what it waited for.
 * - With stack config `harness:agentOnRealNode` (test/agent-pod.test.ts), the agent's Deployment is
 *   pinned to the real node (tools/real-node.ts) and given what a cluster would give it: the route to
 *   the apiserver (kube-proxy's, absent here: the `kubernetes` Service's name, resolved to the node's
 *   bridge, where a relay reaches the apiserver; its certificate names kubernetes.default.svc) and
 *   the state bucket (a host directory standing in for an object store, since the agent's file
 *   backend must outlive its pod). The config is committed with the stack, so the agent's own runs
 *   of the program keep the pinning: it applies its own Deployment as the harness shaped it.
 * - The preview pods the agent starts at run time (agent/preview-pods.ts) are no resource of the
 *   program: {@link previewPodsOnRealNode} gives them the same pinning and route through a
 *   MutatingAdmissionPolicy the tests apply to the cluster.
 * The address a cloud gives a LoadBalancer Service, and the one Contour writes into an Ingress, come
 * from the cluster's own stand-in (tools/address-standin.ts); the cluster's apiserver calls no
 * admission webhook (their pods run no process), so webhook configurations are stored as declared.
 */
import * as pulumi from "@pulumi/pulumi";
import { AGENT_DEFAULTS } from "../../agent/contract";

/** Seconds any one resource may take to become ready under test (stack config `harness:awaitTimeoutSeconds` overrides it). */
export const AWAIT_TIMEOUT_SECONDS = 120;
export const AWAIT_TIMEOUT = "pulumi.com/timeoutSeconds";

type Metadata = { name?: string; annotations?: Record<string, string> } & Record<string, unknown>;

/** Stack config `harness:agentOnRealNode`: where the agent's pod runs and what it reaches there. */
export interface AgentOnRealNode {
    /** The real node's label and taint key (REAL_NODE_KEY). */
    readonly nodeKey: string;
    /** The host's address on the node's bridge, where the relays listen (POD_GATEWAY). */
    readonly gateway: string;
    /** The relay's port that reaches the apiserver. */
    readonly apiserverPort: number;
    /** The host directory of the file state backend, and where the pod sees it. */
    readonly state: { readonly hostPath: string; readonly mountPath: string };
}

/** The apiserver's name in its serving certificate (tools/pki.ts), which the pod resolves to the relay. */
const APISERVER_NAME = "kubernetes.default.svc";
const STATE_VOLUME = "harness-state";

type PodSpec = { containers: { name: string; env?: unknown[]; volumeMounts?: unknown[] }[]; volumes?: unknown[] } & Record<string, unknown>;

/** Pure: the agent's pod spec as the harness runs it on the real node (see the module comment). */
export function pinAgentPod(spec: PodSpec, h: AgentOnRealNode): PodSpec {
    return {
        ...spec,
        nodeSelector: { [h.nodeKey]: "true" },
        tolerations: [{ key: h.nodeKey, operator: "Exists", effect: "NoSchedule" }],
        hostAliases: [{ ip: h.gateway, hostnames: [APISERVER_NAME] }],
        containers: spec.containers.map((c) => ({
            ...c,
            env: [...(c.env ?? []), ...apiserverRoute(h.apiserverPort)],
            volumeMounts: [...(c.volumeMounts ?? []), { name: STATE_VOLUME, mountPath: h.state.mountPath }],
        })),
        volumes: [...(spec.volumes ?? []), { name: STATE_VOLUME, hostPath: { path: h.state.hostPath, type: "Directory" } }],
    };
}

/** Pure: the env that routes a container to the apiserver through the relay (see the module comment). */
function apiserverRoute(apiserverPort: number): { name: string; value: string }[] {
    // Declared in the container, these win over the kubelet's from the Service (a ClusterIP no kube-proxy routes).
    return [{ name: "KUBERNETES_SERVICE_HOST", value: APISERVER_NAME }, { name: "KUBERNETES_SERVICE_PORT", value: String(apiserverPort) }];
}

/**
 * Pure: a MutatingAdmissionPolicy and its binding that give every pod created in `namespace` what
 * {@link pinAgentPod} gives the agent's (the real node, the route to the apiserver), as the cluster
 * admits it: the agent's preview pods, which no program declares.
 */
export function previewPodsOnRealNode(h: Omit<AgentOnRealNode, "state">, namespace: string): object[] {
    const name = "harness-preview-pods-on-real-node";
    // A JSON patch: an apply configuration may not set atomic fields (nodeSelector, tolerations, hostAliases).
    const q = JSON.stringify;
    const expression = `[${[
        `JSONPatch{op: "add", path: "/spec/nodeSelector", value: {${q(h.nodeKey)}: "true"}}`,
        `JSONPatch{op: "add", path: "/spec/tolerations", value: [Object.spec.tolerations{key: ${q(h.nodeKey)}, operator: "Exists", effect: "NoSchedule"}]}`,
        `JSONPatch{op: "add", path: "/spec/hostAliases", value: [Object.spec.hostAliases{ip: ${q(h.gateway)}, hostnames: [${q(APISERVER_NAME)}]}]}`,
        // The preview pod's one container, which has variables of its own.
        ...apiserverRoute(h.apiserverPort).map((e) => `JSONPatch{op: "add", path: "/spec/containers/0/env/-", value: Object.spec.containers.env{name: ${q(e.name)}, value: ${q(e.value)}}}`),
    ].join(", ")}]`;
    return [
        {
            apiVersion: "admissionregistration.k8s.io/v1",
            kind: "MutatingAdmissionPolicy",
            metadata: { name },
            spec: {
                matchConstraints: { resourceRules: [{ apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["pods"] }] },
                failurePolicy: "Fail",
                reinvocationPolicy: "Never",
                mutations: [{ patchType: "JSONPatch", jsonPatch: { expression } }],
            },
        },
        {
            apiVersion: "admissionregistration.k8s.io/v1",
            kind: "MutatingAdmissionPolicyBinding",
            metadata: { name },
            spec: { policyName: name, matchResources: { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": namespace } } } },
        },
    ];
}

/** Registers the harness transform for the program run that is executing now. */
export function registerStandins(): void {
    const harness = new pulumi.Config("harness");
    const timeout = harness.getNumber("awaitTimeoutSeconds") ?? AWAIT_TIMEOUT_SECONDS;
    const onRealNode = harness.getObject<AgentOnRealNode>("agentOnRealNode");
    pulumi.runtime.registerResourceTransform(({ type, custom, props, opts }) => {
        if (!custom || !type.startsWith("kubernetes:")) return undefined;
        const metadata = pulumi.output(props.metadata as pulumi.Input<Metadata> | undefined).apply((m) => ({
            ...(m ?? {}),
            annotations: { ...(m?.annotations ?? {}), [AWAIT_TIMEOUT]: String(timeout) },
        }));
        const isAgent = onRealNode && type === "kubernetes:apps/v1:Deployment" && (props.metadata as Metadata | undefined)?.name === AGENT_DEFAULTS.name;
        const spec = isAgent
            ? pulumi.output(props.spec as pulumi.Input<{ template: { spec: PodSpec } & Record<string, unknown> } & Record<string, unknown>>).apply((s) => ({ ...s, template: { ...s.template, spec: pinAgentPod(s.template.spec, onRealNode) } }))
            : props.spec;
        return { props: { ...props, metadata, ...(isAgent ? { spec } : {}) }, opts };
    });
}
