import * as crypto from "node:crypto";
import * as github from "@pulumi/github";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import * as tls from "@pulumi/tls";
import { AGENT_DEFAULTS, FIELDS, nodeSelectorText, PREVIEW_IDENTITY, PreviewToleration, tolerationsText } from "../agent/contract";

const { name: NAME, port: PORT, workDir: WORK_DIR } = AGENT_DEFAULTS;
const SECRETS_DIR = `/etc/${NAME}`;

/** Arguments for {@link GitOpsAgent}. */
export interface GitOpsAgentArgs {
    /** Agent image (agent/Dockerfile), pinned. */
    readonly image: string;
    /**
     * Follow Flux's GitRepository instead of fetching with git: the agent downloads and verifies its
     * artifacts and reports results to notification-controller. @default off (the agent's own git source)
     */
    readonly flux?: { readonly namespace: string; readonly gitRepository: string };
    /** Repository to follow (ssh or https URL). */
    readonly repoUrl: string;
    /** @default AGENT_DEFAULTS.branch */
    readonly branch?: string;
    /** Pulumi project directory in the repository. @default AGENT_DEFAULTS.projectPath */
    readonly projectPath?: string;
    /** Stack the agent applies. */
    readonly stack: string;
    /** Pinned known_hosts of the repository's SSH server (config/agent.ts: GitHub's by default). */
    readonly knownHosts: string;
    /** Bring-your-own deploy key (OpenSSH private key). @default generated ED25519 (`@pulumi/tls`) */
    readonly deployKey?: pulumi.Input<string>;
    /** Bring-your-own bearer token of POST /sync. @default generated (`@pulumi/random`) */
    readonly syncToken?: pulumi.Input<string>;
    /** Bring-your-own GitHub webhook secret (with `webhookHost`). @default generated (`@pulumi/random`) */
    readonly webhookSecret?: pulumi.Input<string>;
    /** Register the deploy key (and webhook) on this GitHub repository (`@pulumi/github`). @default off */
    readonly github?: { readonly repository: string };
    /** Grant the deploy key write access (image automation). @default false: read-only */
    readonly deployKeyWrite?: boolean;
    /** Public host for the webhook, routed through Contour; enables the webhook. @default no webhook */
    readonly webhookHost?: string;
    /** IngressClass for the webhook Ingress. @default "contour" */
    readonly ingressClass?: pulumi.Input<string>;
    /** ClusterIssuer for the webhook host's certificate. @default none (plain HTTP) */
    readonly tlsIssuer?: pulumi.Input<string>;
    /** @default AGENT_DEFAULTS.pollIntervalSeconds */
    readonly pollIntervalSeconds?: number;
    /** 0 turns drift checks off. @default AGENT_DEFAULTS.driftIntervalSeconds */
    readonly driftIntervalSeconds?: number;
    /** @default AGENT_DEFAULTS.driftMode */
    readonly driftMode?: "correct" | "report";
    /** Start suspended: nothing is applied until resumed (POST /resume). @default false */
    readonly suspend?: boolean;
    /** Pulumi state backend URL. */
    readonly backendUrl?: string;
    /** Size limits of a source, as the agent reads them (50Mi). @default AGENT_DEFAULTS.artifactMaxBytes, artifactMaxExtractedBytes */
    readonly artifactMaxBytes?: string;
    readonly artifactMaxExtractedBytes?: string;
    /** Pulumi secrets provider of the stack. @default passphrase */
    readonly secretsProvider?: string;
    /** Backend and secrets-provider credentials (e.g. PULUMI_CONFIG_PASSPHRASE), stored in a Secret. @default none */
    readonly engineEnv?: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /** Bind cluster-admin: the agent applies the whole platform, CRDs and RBAC included. @default true */
    readonly clusterAdmin?: boolean;
    /** Seconds a running update may finish after SIGTERM. @default AGENT_DEFAULTS.shutdownGraceSeconds */
    readonly shutdownGraceSeconds?: number;
    /**
     * Isolate the agent's namespace: ingress only from the ingress controller's namespace (to the
     * webhook, with `webhookHost`) and from the namespaces that scrape `/metrics`. @default none
     */
    readonly networkPolicy?: AgentNetworkPolicyArgs;
    /** Pull-request previews in the cluster (docs/policies-and-previews.md#in-cluster-previews). @default off */
    readonly previews?: AgentPreviewArgs;
}

/** What the agent needs to preview pull requests: the repository, the GitHub token and who is previewed. */
export interface AgentPreviewArgs {
    /** `owner/name` on GitHub. */
    readonly repository: string;
    /** Fine-grained or GitHub App installation token: commit statuses and pull requests write, contents read. */
    readonly githubToken: pulumi.Input<string>;
    /** The preview identity's namespace (components/preview-identity.ts), where preview pods run. */
    readonly namespace: string;
    /** @default true */
    readonly writers?: boolean;
    readonly label?: string;
    /** @default AGENT_DEFAULTS.previewParallel */
    readonly parallel?: number;
    /** @default AGENT_DEFAULTS.previewTimeoutSeconds */
    readonly timeoutSeconds?: number;
    /** @default the stack's name */
    readonly policyConfig?: string;
    readonly statusUrl?: string;
    /** @default AGENT_DEFAULTS.githubApiUrl */
    readonly apiUrl?: string;
    /** Node labels the preview pods must match. @default any node */
    readonly nodeSelector?: Readonly<Record<string, string>>;
    /** Node taints the preview pods tolerate. @default none */
    readonly tolerations?: readonly PreviewToleration[];
}

/** Who may reach the agent's HTTP port when its namespace is isolated. */
export interface AgentNetworkPolicyArgs {
    /** Namespace of the ingress controller that routes the webhook (Contour's Envoy). */
    readonly ingressNamespace: pulumi.Input<string>;
    /** Labels of the namespaces whose pods scrape `/metrics` (a namespaceSelector's matchLabels). */
    readonly metricsNamespaceSelector: Readonly<Record<string, string>>;
}

const LABELS = { "app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": "openfaas-gitops" };
/** The agent's pods and its ServiceAccount, for other namespaces' NetworkPolicies and RoleBindings. */
export const AGENT_POD_SELECTOR = { "app.kubernetes.io/name": LABELS["app.kubernetes.io/name"] } as const;
export const AGENT_SERVICE_ACCOUNT = NAME;
export const AGENT_NAMESPACE = AGENT_DEFAULTS.namespace;

/** Pure: the agent's own bookkeeping permissions in its namespace (Lease, status ConfigMap, Events). */
export function agentRoleSpec(namespace: string) {
    return {
        apiVersion: "rbac.authorization.k8s.io/v1" as const,
        kind: "Role" as const,
        metadata: { name: NAME, namespace, labels: LABELS },
        rules: [
            // get and update only of its own Lease and status ConfigMap: the namespace holds other
            // ConfigMaps (the pinned known_hosts), which the agent never writes, and which its account
            // must not be able to change under agent.clusterAdmin: false. create cannot be limited by
            // name (RBAC does not see it), so it has its own rule. The names are the defaults: this
            // component sets neither AGENT_LEASE_NAME nor AGENT_STATUS_CONFIGMAP.
            { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] },
            { apiGroups: ["coordination.k8s.io"], resources: ["leases"], resourceNames: [NAME], verbs: ["get", "update"] },
            { apiGroups: [""], resources: ["configmaps"], verbs: ["create"] },
            { apiGroups: [""], resources: ["configmaps"], resourceNames: [AGENT_DEFAULTS.statusConfigMap], verbs: ["get", "update"] },
            // get and update: repeated Events are aggregated into one (count, series), as Kubernetes does.
            { apiGroups: [""], resources: ["events"], verbs: ["get", "create", "update"] },
        ],
    };
}

/**
 * Pure: the agent's environment, named by agent/settings.ts's FIELDS (the one home of the names).
 * In flux mode the git settings but the branch are left out: source-controller fetches, the agent runs no git or ssh.
 */
export function agentEnv(a: GitOpsAgentArgs): k8s.types.input.core.v1.EnvVar[] {
    const git = a.flux === undefined;
    const env: Record<string, string | undefined> = {
        [FIELDS.source.env]: git ? "git" : "flux",
        [FIELDS.fluxNamespace.env]: a.flux?.namespace,
        [FIELDS.fluxSource.env]: a.flux?.gitRepository,
        [FIELDS.repoUrl.env]: git ? a.repoUrl : undefined,
        // In flux mode too: the agent's own webhook compares a push's ref with it.
        [FIELDS.branch.env]: a.branch ?? AGENT_DEFAULTS.branch,
        [FIELDS.projectPath.env]: a.projectPath ?? AGENT_DEFAULTS.projectPath,
        [FIELDS.stack.env]: a.stack,
        [FIELDS.pollInterval.env]: String(a.pollIntervalSeconds ?? AGENT_DEFAULTS.pollIntervalSeconds),
        [FIELDS.driftInterval.env]: String(a.driftIntervalSeconds ?? AGENT_DEFAULTS.driftIntervalSeconds),
        [FIELDS.driftMode.env]: a.driftMode ?? AGENT_DEFAULTS.driftMode,
        [FIELDS.suspend.env]: String(a.suspend ?? false),
        [FIELDS.shutdownGrace.env]: String(a.shutdownGraceSeconds ?? AGENT_DEFAULTS.shutdownGraceSeconds),
        [FIELDS.workDir.env]: WORK_DIR,
        [FIELDS.listen.env]: `0.0.0.0:${PORT}`,
        [FIELDS.sshKeyFile.env]: git ? `${SECRETS_DIR}/git/identity` : undefined,
        [FIELDS.knownHostsFile.env]: git ? `${SECRETS_DIR}/known-hosts/known_hosts` : undefined,
        [FIELDS.syncTokenFile.env]: `${SECRETS_DIR}/git/sync-token`,
        [FIELDS.webhookSecretFile.env]: a.webhookHost !== undefined ? `${SECRETS_DIR}/git/webhook-secret` : undefined,
        [FIELDS.backendUrl.env]: a.backendUrl,
        [FIELDS.artifactMaxBytes.env]: a.artifactMaxBytes,
        [FIELDS.artifactMaxExtractedBytes.env]: a.artifactMaxExtractedBytes,
        [FIELDS.secretsProvider.env]: a.secretsProvider,
        [FIELDS.previewRepository.env]: a.previews?.repository,
        [FIELDS.githubTokenFile.env]: a.previews ? `${SECRETS_DIR}/git/github-token` : undefined,
        // The preview pods run the agent's own image (preview-main.js, the CLI, the plugins).
        [FIELDS.previewImage.env]: a.previews ? a.image : undefined,
        [FIELDS.previewNamespace.env]: a.previews?.namespace,
        [FIELDS.previewWriters.env]: a.previews ? String(a.previews.writers ?? true) : undefined,
        [FIELDS.previewLabel.env]: a.previews?.label,
        [FIELDS.previewParallel.env]: a.previews?.parallel === undefined ? undefined : String(a.previews.parallel),
        [FIELDS.previewTimeout.env]: a.previews?.timeoutSeconds === undefined ? undefined : String(a.previews.timeoutSeconds),
        [FIELDS.previewPolicyConfig.env]: a.previews?.policyConfig,
        [FIELDS.statusUrl.env]: a.previews?.statusUrl,
        [FIELDS.githubApiUrl.env]: a.previews?.apiUrl,
        [FIELDS.previewNodeSelector.env]: a.previews?.nodeSelector && nodeSelectorText(a.previews.nodeSelector),
        [FIELDS.previewTolerations.env]: a.previews?.tolerations && tolerationsText(a.previews.tolerations),
        PULUMI_HOME: `${WORK_DIR}/.pulumi`,
        HOME: WORK_DIR,
    };
    return [
        ...Object.entries(env)
            .filter((e): e is [string, string] => e[1] !== undefined)
            .map(([name, value]) => ({ name, value })),
        { name: FIELDS.namespace.env, valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
        { name: FIELDS.identity.env, valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
        // Preview pods reach the replica that started them, not the Service (which may pick another).
        ...(a.previews ? [{ name: FIELDS.podIp.env, valueFrom: { fieldRef: { fieldPath: "status.podIP" } } }] : []),
    ];
}

/** The pod template annotation whose change rolls the agent's pod when a Secret it consumes changes. */
export const SECRETS_CHECKSUM_ANNOTATION = "openfaas-gitops/secrets-checksum";

/**
 * Pure: one sha256 over every Secret (and the host keys) the pod consumes, each map with its keys
 * sorted. The engine credentials arrive through envFrom, read once at the container's start, so
 * only a new pod sees a rotated value: a changed checksum makes the Deployment roll. One hash over
 * all of them, never one per Secret: the generated sync token (40 random characters) is in the
 * input, so the checksum, which anyone who can read the Deployment sees, cannot be used to guess
 * a short passphrase offline.
 */
export function secretsChecksum(consumed: Readonly<Record<string, Readonly<Record<string, string>> | undefined>>): string {
    const sorted = (m: Readonly<Record<string, string>>) => Object.fromEntries(Object.keys(m).sort().map((k) => [k, m[k]]));
    const canonical = Object.keys(consumed).sort().filter((k) => consumed[k] !== undefined).map((k) => [k, sorted(consumed[k]!)]);
    return crypto.createHash("sha256").update(JSON.stringify(canonical)).digest("hex");
}

/**
 * Pure: the Deployment: non-root, read-only root filesystem, probes, bounded resources.
 * `checksum` is {@link secretsChecksum} of what the pod consumes.
 */
export function agentDeploymentSpec(a: GitOpsAgentArgs, namespace: string, secrets: { git: string; engine?: string }, checksum?: pulumi.Input<string>) {
    const git = a.flux === undefined;
    const grace = a.shutdownGraceSeconds ?? AGENT_DEFAULTS.shutdownGraceSeconds;
    return {
        apiVersion: "apps/v1" as const,
        kind: "Deployment" as const,
        metadata: {
            name: NAME,
            namespace,
            labels: LABELS,
            // The agent applies this Deployment itself. Awaiting its rollout would wait on the agent's
            // own replacement: the new pod becomes leader only once this pod, still running the
            // update, exits. The update ends once the Deployment is accepted; the rollout is the
            // Deployment controller's, and the new pod's readiness says whether it worked.
            annotations: { "pulumi.com/skipAwait": "true" },
        },
        spec: {
            // One replica does the work; a second would only wait on the Lease. A rolling update
            // starts the new pod first: it is Ready (serving, in the election) as a follower, then
            // the old one gets SIGTERM, finishes its running update and hands over the Lease, so the
            // platform is never without an agent while a new image is pulled. Two pods at once is
            // what leader election is for.
            replicas: 1,
            strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
            selector: { matchLabels: { "app.kubernetes.io/name": LABELS["app.kubernetes.io/name"] } },
            template: {
                metadata: { labels: LABELS, ...(checksum !== undefined ? { annotations: { [SECRETS_CHECKSUM_ANNOTATION]: checksum } } : {}) },
                spec: {
                    serviceAccountName: NAME,
                    terminationGracePeriodSeconds: grace + 30,
                    securityContext: { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, fsGroup: 10001, seccompProfile: { type: "RuntimeDefault" } },
                    containers: [
                        {
                            name: "agent",
                            image: a.image,
                            ports: [{ name: "http", containerPort: PORT, protocol: "TCP" }],
                            env: agentEnv(a),
                            ...(secrets.engine ? { envFrom: [{ secretRef: { name: secrets.engine } }] } : {}),
                            resources: { requests: { cpu: "100m", memory: "512Mi" }, limits: { cpu: "2", memory: "2Gi" } },
                            livenessProbe: { httpGet: { path: "/healthz", port: "http" }, periodSeconds: 20, timeoutSeconds: 5, failureThreshold: 3 },
                            readinessProbe: { httpGet: { path: "/readyz", port: "http" }, periodSeconds: 10, timeoutSeconds: 5 },
                            securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
                            volumeMounts: [
                                { name: "git", mountPath: `${SECRETS_DIR}/git`, readOnly: true },
                                ...(git ? [{ name: "known-hosts", mountPath: `${SECRETS_DIR}/known-hosts`, readOnly: true }] : []),
                                { name: "work", mountPath: WORK_DIR },
                                { name: "tmp", mountPath: "/tmp" },
                            ],
                        },
                    ],
                    volumes: [
                        { name: "git", secret: { secretName: secrets.git, defaultMode: 0o400 } },
                        ...(git ? [{ name: "known-hosts", configMap: { name: `${NAME}-known-hosts` } }] : []),
                        { name: "work", emptyDir: {} },
                        { name: "tmp", emptyDir: {} },
                    ],
                },
            },
        },
    };
}

/** Pure: the Ingress that lets GitHub reach only /webhook, through Contour. */
export function agentIngressSpec(namespace: string, host: string, ingressClass: pulumi.Input<string>, tlsIssuer?: pulumi.Input<string>) {
    return {
        apiVersion: "networking.k8s.io/v1" as const,
        kind: "Ingress" as const,
        metadata: { name: `${NAME}-webhook`, namespace, labels: LABELS, ...(tlsIssuer ? { annotations: { "cert-manager.io/cluster-issuer": tlsIssuer } } : {}) },
        spec: {
            ingressClassName: ingressClass,
            rules: [{ host, http: { paths: [{ path: "/webhook", pathType: "Exact", backend: { service: { name: NAME, port: { name: "http" } } } }] } }],
            ...(tlsIssuer ? { tls: [{ hosts: [host], secretName: `${NAME}-webhook-tls` }] } : {}),
        },
    };
}

/**
 * Pure: what the agent needs in the preview namespace when it is not cluster-admin: to start a
 * preview's Job and its Secret, read the Job's status and delete it (the Secret goes with it), and
 * to act as the preview identity once, to check that its writes are denied.
 */
export function agentPreviewRoleSpec(namespace: string) {
    return {
        apiVersion: "rbac.authorization.k8s.io/v1" as const,
        kind: "Role" as const,
        metadata: { name: `${NAME}-previews`, namespace, labels: LABELS },
        rules: [
            { apiGroups: ["batch"], resources: ["jobs"], verbs: ["create", "get", "delete"] },
            { apiGroups: [""], resources: ["secrets"], verbs: ["create"] },
            // The check that the preview identity is denied writes: a create as that identity.
            { apiGroups: [""], resources: ["serviceaccounts"], resourceNames: [PREVIEW_IDENTITY], verbs: ["impersonate"] },
        ],
    };
}

/**
 * Pure: the agent namespace's NetworkPolicy. Ingress to its one port (`http`: webhook, /metrics,
 * /sync, the status page) only from the ingress controller's namespace, when a webhook is routed
 * through it, and from the namespaces that scrape /metrics; nothing else, so a function's pod cannot
 * reach the agent. Egress stays open: the agent needs the apiserver, the git server or
 * source-controller, the state backend and the providers' APIs, which live anywhere.
 */
export function agentNetworkPolicySpec(namespace: string, p: AgentNetworkPolicyArgs, webhook: boolean, previewNamespace?: string) {
    const port = [{ protocol: "TCP", port: "http" }];
    return {
        apiVersion: "networking.k8s.io/v1" as const,
        kind: "NetworkPolicy" as const,
        metadata: { name: NAME, namespace, labels: LABELS },
        spec: {
            podSelector: {},
            policyTypes: ["Ingress"],
            ingress: [
                ...(webhook ? [{ from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": p.ingressNamespace } } }], ports: port }] : []),
                { from: [{ namespaceSelector: { matchLabels: { ...p.metricsNamespaceSelector } } }], ports: port },
                // Preview pods fetch their job and post their result (agent/preview-pods.ts); no other pod of that namespace.
                ...(previewNamespace !== undefined
                    ? [{ from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": previewNamespace } }, podSelector: { matchLabels: { "app.kubernetes.io/name": PREVIEW_IDENTITY } } }], ports: port }]
                    : []),
            ],
        },
    };
}

/**
 * The reconcile agent: namespace, RBAC, its git Secret (deploy key, generated webhook secret and
 * sync token), the pinned known_hosts (ConfigMap), the Deployment and Service, and optionally the GitHub deploy key,
 * the webhook, the Ingress that routes it and the namespace's NetworkPolicy. In flux mode the deploy key is still made here (Flux
 * fetches with it, see `deployKey`), but the agent's pod holds neither it nor the known_hosts.
 */
export class GitOpsAgent extends pulumi.ComponentResource {
    /** Public half of the deploy key: add it to the repository when GitHub integration is off. */
    public readonly deployPublicKey: pulumi.Output<string | undefined>;
    /** Webhook URL to configure on the repository (or undefined without a webhook host). */
    public readonly webhookUrl: pulumi.Output<string | undefined>;
    /** Bearer token for POST /sync (secret). */
    public readonly syncToken: pulumi.Output<string>;
    /** The deploy key's private half (secret), for Flux's GitRepository: one key registered on the repository. */
    public readonly deployKey: pulumi.Output<string>;

    constructor(name: string, args: GitOpsAgentArgs, opts?: pulumi.ComponentResourceOptions) {
        // Its inputs are recorded in state without the credentials (a bring-your-own key, token, secret or engine credentials).
        // Credentials are not recorded; neither are the ingress class and the issuer, which resolve
        // after Contour's and cert-manager's charts (components/contour.ts).
        super("openfaas-gitops:agent:GitOpsAgent", name, { ...args, deployKey: undefined, syncToken: undefined, webhookSecret: undefined, engineEnv: undefined, ingressClass: undefined, tlsIssuer: undefined, previews: args.previews && { ...args.previews, githubToken: undefined } }, opts);
        // Always the contract's: Flux's NetworkPolicy and RBAC for the agent (platform.ts) name it too.
        const ns = AGENT_NAMESPACE;
        const child = { parent: this };
        const namespace = new k8s.core.v1.Namespace(`${name}-namespace`, { metadata: { name: ns, labels: LABELS } }, child);
        const inNs = { parent: this, dependsOn: [namespace] };

        new k8s.core.v1.ServiceAccount(`${name}-sa`, { metadata: { name: NAME, namespace: ns, labels: LABELS } }, inNs);
        new k8s.rbac.v1.Role(`${name}-role`, agentRoleSpec(ns), inNs);
        new k8s.rbac.v1.RoleBinding(
            `${name}-rolebinding`,
            {
                metadata: { name: NAME, namespace: ns, labels: LABELS },
                roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: NAME },
                subjects: [{ kind: "ServiceAccount", name: NAME, namespace: ns }],
            },
            inNs,
        );
        if (args.clusterAdmin ?? true) {
            new k8s.rbac.v1.ClusterRoleBinding(
                `${name}-cluster-admin`,
                {
                    metadata: { name: NAME, labels: LABELS },
                    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" },
                    subjects: [{ kind: "ServiceAccount", name: NAME, namespace: ns }],
                },
                inNs,
            );
        }

        if (args.previews && !(args.clusterAdmin ?? true)) {
            const role = agentPreviewRoleSpec(args.previews.namespace);
            new k8s.rbac.v1.Role(`${name}-previews-role`, role, inNs);
            new k8s.rbac.v1.RoleBinding(
                `${name}-previews-rolebinding`,
                {
                    metadata: role.metadata,
                    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name },
                    subjects: [{ kind: "ServiceAccount", name: NAME, namespace: ns }],
                },
                inNs,
            );
        }

        let privateKey: pulumi.Output<string>;
        let publicKey: pulumi.Output<string | undefined>;
        if (args.deployKey !== undefined) {
            privateKey = pulumi.secret(args.deployKey);
            publicKey = pulumi.output(undefined);
        } else {
            const key = new tls.PrivateKey(`${name}-deploy-key`, { algorithm: "ED25519" }, child);
            privateKey = key.privateKeyOpenssh;
            publicKey = key.publicKeyOpenssh;
        }
        const webhook = args.webhookHost !== undefined;
        const git = args.flux === undefined;
        const generated = (what: string) => new random.RandomPassword(`${name}-${what}`, { length: 40, special: false }, child).result;
        const webhookSecret = webhook ? (args.webhookSecret !== undefined ? pulumi.secret(args.webhookSecret) : generated("webhook-secret")) : undefined;
        const syncToken = args.syncToken !== undefined ? pulumi.secret(args.syncToken) : generated("sync-token");
        const githubToken = args.previews ? pulumi.secret(args.previews.githubToken) : undefined;

        const gitSecret = new k8s.core.v1.Secret(
            `${name}-git`,
            {
                metadata: { name: `${NAME}-git`, namespace: ns, labels: LABELS },
                type: "Opaque",
                stringData: {
                    // In flux mode source-controller fetches with the key (Flux's own Secret); the agent never holds it.
                    ...(git ? { identity: privateKey } : {}),
                    "sync-token": syncToken,
                    ...(webhookSecret ? { "webhook-secret": webhookSecret } : {}),
                    ...(githubToken ? { "github-token": githubToken } : {}),
                },
            },
            inNs,
        );
        // Host keys are public: a ConfigMap, so only credentials live in the Secret.
        const knownHosts = git
            ? new k8s.core.v1.ConfigMap(`${name}-known-hosts`, { metadata: { name: `${NAME}-known-hosts`, namespace: ns, labels: LABELS }, data: { known_hosts: args.knownHosts } }, inNs)
            : undefined;
        const engineSecret = args.engineEnv
            ? new k8s.core.v1.Secret(`${name}-engine`, { metadata: { name: `${NAME}-engine`, namespace: ns, labels: LABELS }, type: "Opaque", stringData: pulumi.secret(args.engineEnv) }, inNs)
            : undefined;

        // Not secret: a one-way hash whose input includes the generated sync token (secretsChecksum).
        const checksum = pulumi.unsecret(
            pulumi.all([privateKey, syncToken, webhookSecret, pulumi.output(args.engineEnv), githubToken]).apply(([identity, sync, hook, engine, gh]) =>
                secretsChecksum({
                    git: { ...(git ? { identity } : {}), "sync-token": sync, ...(hook !== undefined ? { "webhook-secret": hook } : {}), ...(gh !== undefined ? { "github-token": gh } : {}) },
                    engine: engine as Record<string, string> | undefined,
                    knownHosts: git ? { known_hosts: args.knownHosts } : undefined,
                }),
            ),
        );
        new k8s.apps.v1.Deployment(
            `${name}-deployment`,
            agentDeploymentSpec(args, ns, { git: `${NAME}-git`, engine: engineSecret ? `${NAME}-engine` : undefined }, checksum),
            { parent: this, dependsOn: [namespace, gitSecret, ...(knownHosts ? [knownHosts] : []), ...(engineSecret ? [engineSecret] : [])] },
        );
        new k8s.core.v1.Service(
            `${name}-service`,
            {
                metadata: { name: NAME, namespace: ns, labels: LABELS },
                spec: { selector: { "app.kubernetes.io/name": LABELS["app.kubernetes.io/name"] }, ports: [{ name: "http", port: PORT, targetPort: "http" }] },
            },
            inNs,
        );

        if (args.networkPolicy) new k8s.networking.v1.NetworkPolicy(`${name}-network-policy`, agentNetworkPolicySpec(ns, args.networkPolicy, webhook, args.previews?.namespace), inNs);

        const url = webhook ? `${args.tlsIssuer ? "https" : "http"}://${args.webhookHost}/webhook` : undefined;
        if (webhook) new k8s.networking.v1.Ingress(`${name}-webhook`, agentIngressSpec(ns, args.webhookHost!, args.ingressClass ?? "contour", args.tlsIssuer), inNs);
        if (args.github) {
            new github.RepositoryDeployKey(
                `${name}-deploy-key`,
                { repository: args.github.repository, title: `openfaas-gitops agent (${args.stack})`, key: publicKey.apply((k) => k ?? ""), readOnly: !(args.deployKeyWrite ?? false) },
                child,
            );
            if (webhook) {
                new github.RepositoryWebhook(
                    `${name}-webhook`,
                    { repository: args.github.repository, events: args.previews ? ["push", "pull_request"] : ["push"], active: true, configuration: { url: url!, contentType: "json", secret: webhookSecret!, insecureSsl: false } },
                    child,
                );
            }
        }

        this.deployPublicKey = publicKey;
        this.webhookUrl = pulumi.output(url);
        this.syncToken = pulumi.secret(syncToken);
        this.deployKey = pulumi.secret(privateKey);
        this.registerOutputs({ deployPublicKey: this.deployPublicKey, webhookUrl: this.webhookUrl, syncToken: this.syncToken, deployKey: this.deployKey });
    }
}
