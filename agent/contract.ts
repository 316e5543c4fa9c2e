/**
 * The contract between the agent and what deploys it: its names and defaults, and the environment
 * variables (with their flags) it reads. The Pulumi program (config/agent.ts, config/flux.ts,
 * components/gitops-agent.ts, components/flux/) and the agent (settings.ts) both import it, and it
 * imports nothing but Kubernetes' name rules (model/names.ts), so the program loads none of the
 * agent's runtime. The image carries it (agent/).
 */
import { LABEL_KEY, LABEL_VALUE } from "../model/names";

export type DriftMode = "correct" | "report";
/** Where revisions come from: the agent's own git client, or Flux's GitRepository artifact. */
export type SourceMode = "git" | "flux";
export const SOURCE_MODES: readonly SourceMode[] = ["git", "flux"];
/** The agent's names and defaults, written once: its settings default to them. */
export const AGENT_DEFAULTS = {
    /** Its Lease, ServiceAccount, Role, Deployment, Service and the prefix of its other objects. */
    name: "openfaas-gitops-agent",
    namespace: "openfaas-gitops",
    statusConfigMap: "openfaas-gitops-agent-status",
    workDir: "/var/lib/openfaas-gitops-agent",
    port: 8080,
    branch: "main",
    projectPath: ".",
    pollIntervalSeconds: 60,
    driftIntervalSeconds: 600,
    driftMode: "correct" as DriftMode,
    shutdownGraceSeconds: 300,
    /** One run (checkout, install, engine) longer than this is stopped as a failure. */
    runTimeoutSeconds: 3600,
    fluxNamespace: "flux-system",
    /** The GitRepository the Flux component declares for this program's repository. */
    fluxSource: "openfaas-gitops",
    /** flux mode: limits of one artifact (download deadline, bytes downloaded, bytes once unpacked: PKO's default). */
    artifactTimeoutSeconds: 120,
    artifactMaxBytes: "50Mi",
    artifactMaxExtractedBytes: "100Mi",
    /**
     * Pull-request previews: the preview identity's namespace, a namespace of its own (never the
     * platform's: `openfaas` may reach the functions, and a preview runs unmerged code), previews at
     * once, one preview's limit.
     */
    previewNamespace: "openfaas-gitops-previews",
    previewParallel: 1,
    previewTimeoutSeconds: 1200,
    githubApiUrl: "https://api.github.com",
} as const;

/**
 * The identity a pull request's preview runs as (components/preview-identity.ts makes it; the
 * agent starts preview pods under it): its ServiceAccount, ClusterRole, binding and admission
 * policy share this name.
 */
export const PREVIEW_IDENTITY = "openfaas-gitops-preview";

/** One setting: its environment variable and flag, and its stack config key where the stack sets it. */
export interface Field {
    readonly env: string;
    readonly flag: string;
    readonly doc: string;
    readonly config?: string;
}

/** Pure: how a message names a setting, so a user finds what to change: its stack config key first, where it has one, then its variable. */
export function settingNames(f: Field): string {
    return f.config ? `${f.config}, ${f.env}` : f.env;
}

export const FIELDS = {
    source: { env: "AGENT_SOURCE", flag: "source", doc: "git | flux: the agent's own git client, or Flux's GitRepository artifact (default git)" },
    fluxNamespace: { env: "AGENT_FLUX_NAMESPACE", flag: "flux-namespace", doc: `flux mode: namespace of the GitRepository and of Flux (default ${AGENT_DEFAULTS.fluxNamespace})` },
    fluxSource: { env: "AGENT_FLUX_SOURCE", flag: "flux-source", doc: `flux mode: name of the GitRepository (default ${AGENT_DEFAULTS.fluxSource})` },
    fluxEventsUrl: { env: "AGENT_FLUX_EVENTS_URL", flag: "flux-events-url", doc: "flux mode: notification-controller's event endpoint, or off (default http://notification-controller.<flux namespace>.svc.cluster.local./)" },
    artifactTimeout: { env: "AGENT_ARTIFACT_TIMEOUT", flag: "artifact-timeout", doc: `flux mode: seconds one artifact download may take in all (default ${AGENT_DEFAULTS.artifactTimeoutSeconds})` },
    artifactMaxBytes: { env: "AGENT_ARTIFACT_MAX_BYTES", flag: "artifact-max-bytes", config: "agent.artifactMaxBytes", doc: `flux mode: largest artifact to download (and previews: largest pull-request source), in bytes or with Ki, Mi or Gi (default ${AGENT_DEFAULTS.artifactMaxBytes})` },
    artifactMaxExtractedBytes: { env: "AGENT_ARTIFACT_MAX_EXTRACTED_BYTES", flag: "artifact-max-extracted-bytes", config: "agent.artifactMaxExtractedBytes", doc: `flux mode: largest artifact once unpacked (and previews: most a pull request's git fetch may write), in bytes or with Ki, Mi or Gi (default ${AGENT_DEFAULTS.artifactMaxExtractedBytes})` },
    repoUrl: { env: "AGENT_REPO_URL", flag: "repo-url", doc: "git URL of the repository (required)" },
    branch: { env: "AGENT_BRANCH", flag: "branch", doc: `branch to follow (default ${AGENT_DEFAULTS.branch})` },
    projectPath: { env: "AGENT_PROJECT_PATH", flag: "project-path", doc: `Pulumi project directory in the repository (default ${AGENT_DEFAULTS.projectPath})` },
    stack: { env: "AGENT_STACK", flag: "stack", doc: "stack to apply (required)" },
    pollInterval: { env: "AGENT_POLL_INTERVAL", flag: "poll-interval", doc: `seconds between checks of the branch head (default ${AGENT_DEFAULTS.pollIntervalSeconds})` },
    sshKeyFile: { env: "AGENT_SSH_KEY_FILE", flag: "ssh-key-file", doc: "private deploy key (required for ssh URLs)" },
    knownHostsFile: { env: "AGENT_KNOWN_HOSTS_FILE", flag: "known-hosts-file", doc: "pinned known_hosts (required for ssh URLs)" },
    httpsTokenFile: { env: "AGENT_HTTPS_TOKEN_FILE", flag: "https-token-file", doc: "file holding a token for https URLs" },
    httpsCaFile: { env: "AGENT_HTTPS_CA_FILE", flag: "https-ca-file", doc: "CA bundle of an https git server with a private CA" },
    verifySignatures: { env: "AGENT_VERIFY_SIGNATURES", flag: "verify-signatures", doc: "off | ssh | gpg (default off)" },
    allowedSignersFile: { env: "AGENT_ALLOWED_SIGNERS_FILE", flag: "allowed-signers-file", doc: "allowed SSH signers (with verify-signatures ssh)" },
    gpgHome: { env: "AGENT_GPG_HOME", flag: "gpg-home", doc: "GNUPGHOME with trusted keys (with verify-signatures gpg)" },
    workDir: { env: "AGENT_WORK_DIR", flag: "work-dir", doc: `checkout and cache directory (default ${AGENT_DEFAULTS.workDir})` },
    webhookSecretFile: { env: "AGENT_WEBHOOK_SECRET_FILE", flag: "webhook-secret-file", doc: "GitHub webhook secret; without it the webhook is off" },
    syncTokenFile: { env: "AGENT_SYNC_TOKEN_FILE", flag: "sync-token-file", doc: "bearer token for POST /sync; without it /sync is off" },
    listen: { env: "AGENT_LISTEN", flag: "listen", doc: `host:port of the HTTP server (default 0.0.0.0:${AGENT_DEFAULTS.port})` },
    driftInterval: { env: "AGENT_DRIFT_INTERVAL", flag: "drift-interval", doc: `seconds between drift checks, 0 = off (default ${AGENT_DEFAULTS.driftIntervalSeconds})` },
    driftMode: { env: "AGENT_DRIFT_MODE", flag: "drift-mode", doc: `correct | report (default ${AGENT_DEFAULTS.driftMode})` },
    backoffBase: { env: "AGENT_BACKOFF_BASE", flag: "backoff-base", doc: "seconds before the first retry of a failed revision (default 30)" },
    backoffCap: { env: "AGENT_BACKOFF_CAP", flag: "backoff-cap", doc: "longest wait between retries, seconds (default 900)" },
    stalledAfter: { env: "AGENT_STALLED_AFTER", flag: "stalled-after", doc: "failures of one revision before Stalled (default 5)" },
    shutdownGrace: { env: "AGENT_SHUTDOWN_GRACE", flag: "shutdown-grace", doc: `seconds a running update may finish after SIGTERM (default ${AGENT_DEFAULTS.shutdownGraceSeconds})` },
    runTimeout: { env: "AGENT_RUN_TIMEOUT", flag: "run-timeout", doc: `seconds one run (checkout, install, engine) may take before it is stopped as a failure (default ${AGENT_DEFAULTS.runTimeoutSeconds})` },
    suspend: { env: "AGENT_SUSPEND", flag: "suspend", doc: "true: apply nothing until resumed (default false)" },
    backendUrl: { env: "PULUMI_BACKEND_URL", flag: "backend-url", doc: "Pulumi state backend" },
    secretsProvider: { env: "AGENT_SECRETS_PROVIDER", flag: "secrets-provider", doc: "Pulumi secrets provider of the stack" },
    pulumiPlugins: { env: "AGENT_PULUMI_PLUGINS", flag: "pulumi-plugins", doc: "directory of preinstalled Pulumi plugins, linked as $PULUMI_HOME/plugins (the image sets it)" },
    namespace: { env: "POD_NAMESPACE", flag: "namespace", doc: `namespace of the Lease, status ConfigMap and Events (default ${AGENT_DEFAULTS.namespace})` },
    identity: { env: "POD_NAME", flag: "identity", doc: "leader-election identity (default the host name)" },
    leaseName: { env: "AGENT_LEASE_NAME", flag: "lease-name", doc: `Lease name (default ${AGENT_DEFAULTS.name})` },
    statusConfigMap: { env: "AGENT_STATUS_CONFIGMAP", flag: "status-configmap", doc: `status ConfigMap name (default ${AGENT_DEFAULTS.statusConfigMap})` },
    logLevel: { env: "AGENT_LOG_LEVEL", flag: "log-level", doc: "trace | debug | info | warn | error (default info)" },
    previewRepository: { env: "AGENT_PREVIEW_REPOSITORY", flag: "preview-repository", doc: "owner/name of the GitHub repository whose pull requests are previewed; set, previews are on (default off)" },
    githubTokenFile: { env: "AGENT_GITHUB_TOKEN_FILE", flag: "github-token-file", doc: "previews: file holding the GitHub token (commit statuses and pull requests: write, contents: read)" },
    githubApiUrl: { env: "AGENT_GITHUB_API_URL", flag: "github-api-url", doc: `previews: GitHub's REST API (default ${AGENT_DEFAULTS.githubApiUrl}; GitHub Enterprise Server: https://<host>/api/v3)` },
    previewImage: { env: "AGENT_PREVIEW_IMAGE", flag: "preview-image", doc: "previews: image of the preview pods, the agent's own (required with previews)" },
    previewNamespace: { env: "AGENT_PREVIEW_NAMESPACE", flag: "preview-namespace", doc: `previews: namespace of the preview identity, where the preview pods run (default ${AGENT_DEFAULTS.previewNamespace})` },
    previewAgentUrl: { env: "AGENT_PREVIEW_AGENT_URL", flag: "preview-agent-url", doc: "previews: where the preview pods reach this replica (default http://<POD_IP>:<listen port>)" },
    podIp: { env: "POD_IP", flag: "pod-ip", doc: "this pod's IP, for the preview pods' requests (the Deployment sets it)" },
    previewParallel: { env: "AGENT_PREVIEW_PARALLEL", flag: "preview-parallel", doc: `previews: previews at once, 1 to 8 (default ${AGENT_DEFAULTS.previewParallel})` },
    previewWriters: { env: "AGENT_PREVIEW_WRITERS", flag: "preview-writers", doc: "previews: true | false: preview pull requests whose author may write to the repository (default true)" },
    previewLabel: { env: "AGENT_PREVIEW_LABEL", flag: "preview-label", doc: "previews: a label that approves the head it is added on, for authors without write access (default none)" },
    previewPolicyConfig: { env: "AGENT_PREVIEW_POLICY_CONFIG", flag: "preview-policy-config", doc: "previews: the policy pack's config, policies/config/<name>.json (default the stack's name)" },
    previewNodeSelector: { env: "AGENT_PREVIEW_NODE_SELECTOR", flag: "preview-node-selector", doc: "previews: node labels the preview pods must match, key=value,key=value (a node pool for untrusted code; default any node)" },
    previewTolerations: { env: "AGENT_PREVIEW_TOLERATIONS", flag: "preview-tolerations", doc: "previews: node taints the preview pods tolerate, key[=value][:Effect],... as kubectl taint writes them (a tainted pool for untrusted code; default none)" },
    previewTimeout: { env: "AGENT_PREVIEW_TIMEOUT", flag: "preview-timeout", doc: `previews: seconds one preview may take (default ${AGENT_DEFAULTS.previewTimeoutSeconds})` },
    statusUrl: { env: "AGENT_STATUS_URL", flag: "status-url", doc: "the status page's URL as people reach it, linked from preview comments and statuses (default none)" },
} as const satisfies Record<string, Field>;

/** Pure: `selector` as AGENT_PREVIEW_NODE_SELECTOR writes it (labels sorted), which {@link parseNodeSelector} reads back. */
export function nodeSelectorText(selector: Readonly<Record<string, string>>): string {
    return Object.keys(selector).sort().map((k) => `${k}=${selector[k]}`).join(",");
}

/**
 * Pure: a nodeSelector written as `key=value,key=value` (AGENT_PREVIEW_NODE_SELECTOR), or why it is
 * not one. Keys and values follow Kubernetes' label rules (model/names.ts); the Deployment writes it with {@link nodeSelectorText}.
 */
export function parseNodeSelector(text: string): { readonly selector: Record<string, string> } | { readonly error: string } {
    const selector: Record<string, string> = {};
    for (const pair of text.split(",")) {
        const eq = pair.indexOf("=");
        const [key, value] = eq < 0 ? [pair, undefined] : [pair.slice(0, eq).trim(), pair.slice(eq + 1).trim()];
        if (value === undefined || !LABEL_KEY.test(key) || !LABEL_VALUE.test(value)) return { error: `${JSON.stringify(pair.slice(0, 80))} is no label key=value` };
        if (Object.hasOwn(selector, key)) return { error: `the label ${key} is given twice` };
        selector[key] = value;
    }
    return { selector };
}

/**
 * Pure: why `url` cannot be GitHub's REST API for the agent, or undefined. It is a plain variable of
 * the Deployment and shown in errors, so it carries no credential, in its user part or its query:
 * the token is given apart (agentGitHubToken).
 */
export function githubApiUrlProblem(url: string): string | undefined {
    let u: URL;
    try {
        u = new URL(url);
    } catch {
        return "is not a URL";
    }
    if (u.protocol !== "https:" && u.protocol !== "http:") return `must be http(s), not ${u.protocol}`;
    if (u.username || u.password) return "carries credentials, which would be stored in plain text in the agent's Deployment; remove them (the token is given apart)";
    if (u.search || u.hash) return "has a query or fragment, which would be stored in plain text in the agent's Deployment (a token there is a credential in the open); remove it";
    return undefined;
}

/** Pure: a URL as an error may show it: no query or fragment (where a token could be); the user part is the caller's to redact. */
export function withoutQuery(url: string): string {
    return url.replace(/[?#][^]*$/, "?…");
}

/**
 * Pure: a size in whole bytes or binary units as Kubernetes writes them (50Mi), or undefined. Not
 * model/quantity.ts (which the image has: it copies model/): a quantity may be fractional or in
 * milli-units (0.5, 100m), which is no byte count.
 */
export function sizeBytes(v: string): number | undefined {
    const m = /^(\d{1,12})(Ki|Mi|Gi)?$/.exec(v);
    return m ? Number(m[1]) * { "": 1, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30 }[m[2] ?? ""]! : undefined;
}

/** What a size limit of the agent (AGENT_ARTIFACT_MAX_*) may be. */
export const LIMIT_EXPECTED = "expected a size from 1Ki to 16Gi, in bytes or with Ki, Mi or Gi";

/** Pure: a size limit of the agent in bytes, or undefined when it is no size from 1Ki to 16Gi. */
export function limitBytes(v: string): number | undefined {
    const n = sizeBytes(v);
    return n === undefined || n < 2 ** 10 || n > 16 * 2 ** 30 ? undefined : n;
}

/** A node taint's effects, which a toleration may name. */
export const TAINT_EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"] as const;

/** A pod's toleration of a node taint: of `key` with `value` (any value when unset), of `effect` (every effect when unset). */
export interface PreviewToleration {
    readonly key: string;
    readonly value?: string;
    readonly effect?: (typeof TAINT_EFFECTS)[number];
}

/** Pure: `tolerations` as AGENT_PREVIEW_TOLERATIONS writes them, in kubectl taint's form (`key=value:Effect`), which {@link parseTolerations} reads back. */
export function tolerationsText(tolerations: readonly PreviewToleration[]): string {
    return tolerations.map((t) => `${t.key}${t.value === undefined ? "" : `=${t.value}`}${t.effect === undefined ? "" : `:${t.effect}`}`).join(",");
}

/**
 * Pure: tolerations written as `key[=value][:Effect],...` (AGENT_PREVIEW_TOLERATIONS; a taint as
 * kubectl taint writes it), or why they are not. Keys and values follow the label rules.
 */
export function parseTolerations(text: string): { readonly tolerations: PreviewToleration[] } | { readonly error: string } {
    const tolerations: PreviewToleration[] = [];
    for (const item of text.split(",")) {
        const m = /^\s*([^=:\s]+)(?:=([^:\s]*))?(?::(\S+))?\s*$/.exec(item);
        const effect = m?.[3] as PreviewToleration["effect"] | undefined;
        if (!m || !LABEL_KEY.test(m[1]!) || (m[2] !== undefined && !LABEL_VALUE.test(m[2])) || (effect !== undefined && !TAINT_EFFECTS.includes(effect))) {
            return { error: `${JSON.stringify(item.slice(0, 80))} is no toleration key[=value][:${TAINT_EFFECTS.join("|")}]` };
        }
        tolerations.push({ key: m[1]!, ...(m[2] !== undefined ? { value: m[2] } : {}), ...(effect ? { effect } : {}) });
    }
    return { tolerations };
}

/** Pure: the agent's `--help`: every setting's flag, variable and meaning, from {@link FIELDS}. */
export function helpText(): string {
    const rows = Object.values(FIELDS).map((f: Field) => [`--${f.flag}`, f.env, f.doc] as const);
    const width = Math.max(...rows.map(([flag, env]) => flag.length + env.length + 3));
    return [
        "openfaas-gitops agent: applies the tracked revision of a Pulumi program and keeps the cluster at it.",
        "Every setting is a flag or an environment variable (the flag wins); docs/agent.md has the details.",
        "",
        ...rows.map(([flag, env, doc]) => `  ${`${flag} / ${env}`.padEnd(width)}  ${doc}`),
        "",
    ].join("\n");
}
