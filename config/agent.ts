/** The `agent` map and the agent's secrets: the reconcile agent's settings. */
import * as pulumi from "@pulumi/pulumi";
import { AGENT_DEFAULTS, FIELDS, githubApiUrlProblem, LIMIT_EXPECTED, limitBytes, PreviewToleration, TAINT_EFFECTS, withoutQuery } from "../agent/contract";
import { ENGINE_ENV_NAMES, engineEnvAllowed } from "../model/engine-env";
import { branchProblem, GITHUB_KNOWN_HOSTS, hasUrlCredentials, isSshUrl, knownHostsName, knownHostsProblem, projectPathProblem, redactUrl, sshHost } from "../model/git";
import { DNS_SUBDOMAIN, LABEL_KEY, LABEL_VALUE } from "../model/names";
import { imageProblem } from "../policies/shared/image";
import { checkToken } from "./checks";
import { Reader } from "./reader";
import { schemaProblems, Schema } from "./schema";
import { AgentConfig } from "./types";

/**
 * Namespaces whose pods may scrape the agent's /metrics when networkPolicies are on: a namespace
 * named `monitoring`, where kube-prometheus-stack and most Prometheus installs live. Every namespace
 * carries its name as this label (Kubernetes sets it).
 */
const DEFAULT_METRICS_NAMESPACE_SELECTOR: Readonly<Record<string, string>> = { "kubernetes.io/metadata.name": "monitoring" };
const NODE_SELECTOR_EXPECTED = 'expected a non-empty map of node labels the preview pods must match (a nodeSelector), e.g. {"pool": "previews"}';
const TOLERATIONS_EXPECTED = 'expected a list of the node taints the preview pods tolerate, each {key, value (optional: any), effect (optional: every)}, e.g. [{"key": "pool", "value": "previews", "effect": "NoSchedule"}]';
const METRICS_SELECTOR_EXPECTED = 'expected a non-empty map of namespace labels (a namespaceSelector\'s matchLabels), e.g. {"kubernetes.io/metadata.name": "monitoring"}';

/** A schema of a non-empty map of labels (a selector's matchLabels), each key and value as Kubernetes allows them. */
function labelMap(expected: string) {
    return {
        type: "object",
        minProperties: 1,
        propertyNames: { pattern: LABEL_KEY.source, expected },
        additionalProperties: { type: "string", pattern: LABEL_VALUE.source, expected },
        expected,
    } as const;
}

/** The `agent` map. Defaults are applied in {@link readAgent}; rules across fields and secrets are code there. */
export const AGENT_SCHEMA: Schema = {
    type: "object",
    expected: "expected a map (YAML object in the stack file)",
    required: ["image", "repoUrl"],
    additionalProperties: false,
    properties: {
        image: {
            type: "string",
            minLength: 1,
            description: "the agent image built from agent/Dockerfile, pinned, e.g. ghcr.io/acme/openfaas-gitops-agent:0.1.0",
            expected: "required: the agent image built from agent/Dockerfile, pinned, e.g. ghcr.io/acme/openfaas-gitops-agent:0.1.0",
        },
        // Its form is checked in readRepoUrl, which never echoes a credential.
        repoUrl: { type: "string", minLength: 1, description: "the git URL the agent follows, e.g. git@github.com:acme/platform.git" },
        branch: { type: "string" },
        projectPath: { type: "string" },
        knownHosts: { type: "string", minLength: 1, description: "known_hosts lines pinning the git server's SSH host keys (default: GitHub's, for github.com)" },
        githubRepository: { type: "string", pattern: "^[A-Za-z0-9_.-]+$", expected: "expected the repository name only (the owner comes from github:owner)" },
        deployKeyWrite: { type: "boolean" },
        webhookHost: { type: "string", pattern: DNS_SUBDOMAIN.source, expected: "expected a DNS name in lower case" },
        pollIntervalSeconds: { type: "integer", minimum: 5, maximum: 86400 },
        driftIntervalSeconds: { type: "integer", minimum: 0, maximum: 604800 },
        driftMode: { type: "string", enum: ["correct", "report"], expected: "expected correct | report" },
        backendUrl: { type: "string" },
        // Checked in readAgent against the agent's own rule (limitBytes in agent/contract.ts).
        artifactMaxBytes: { type: "string" },
        artifactMaxExtractedBytes: { type: "string" },
        secretsProvider: { type: "string" },
        clusterAdmin: { type: "boolean" },
        suspend: { type: "boolean" },
        source: { type: "string", enum: ["git", "flux"], expected: "expected git | flux" },
        previews: {
            type: "object",
            expected: "expected a map: repository (owner/name, required), writers, label, parallel, timeoutSeconds, policyConfig, statusUrl, apiUrl, nodeSelector, tolerations",
            required: ["repository"],
            additionalProperties: false,
            properties: {
                repository: { type: "string", pattern: "^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$", expected: "required: the GitHub repository as owner/name, e.g. acme/platform" },
                writers: { type: "boolean" },
                label: { type: "string", minLength: 1, maxLength: 50, pattern: "^[^,\\x00-\\x1f]+$", expected: "expected a GitHub label name (1 to 50 characters, no comma)" },
                parallel: { type: "integer", minimum: 1, maximum: 8 },
                timeoutSeconds: { type: "integer", minimum: 60, maximum: 7200 },
                policyConfig: { type: "string", pattern: DNS_SUBDOMAIN.source, expected: "expected the name of a policies/config/<name>.json" },
                statusUrl: { type: "string", pattern: "^https?://[^\\s]+$", expected: "expected an http(s) URL" },
                // Its form is checked in readApiUrl, which never echoes a credential.
                apiUrl: { type: "string", minLength: 1 },
                nodeSelector: labelMap(NODE_SELECTOR_EXPECTED),
                tolerations: {
                    type: "array",
                    minItems: 1,
                    maxItems: 20,
                    expected: TOLERATIONS_EXPECTED,
                    items: {
                        type: "object",
                        required: ["key"],
                        additionalProperties: false,
                        expected: TOLERATIONS_EXPECTED,
                        properties: {
                            key: { type: "string", pattern: LABEL_KEY.source, expected: TOLERATIONS_EXPECTED },
                            value: { type: "string", pattern: LABEL_VALUE.source, expected: TOLERATIONS_EXPECTED },
                            effect: { type: "string", enum: [...TAINT_EFFECTS], expected: `expected one of ${TAINT_EFFECTS.join(" | ")}` },
                        },
                    },
                },
            },
        },
        metricsNamespaceSelector: labelMap(METRICS_SELECTOR_EXPECTED),
    },
};

/**
 * Reads the `agent` map and its secrets `agentDeployKey`, `agentSyncToken`, `agentWebhookSecret`,
 * `agentEngineEnv` and `agentGitHubToken`. `previewIdentity`: whether the stack makes the identity
 * previews run as.
 */
export function readAgent(r: Reader, fluxOn: boolean, previewIdentity = false): AgentConfig | undefined {
    const a = r.object("agent");
    const deployKey = r.secret("agentDeployKey", (v) => (/^-----BEGIN OPENSSH PRIVATE KEY-----/.test(v.trim()) ? undefined : "expected an OpenSSH private key (-----BEGIN OPENSSH PRIVATE KEY-----)"));
    const syncToken = r.secret("agentSyncToken", checkToken);
    const webhookSecret = r.secret("agentWebhookSecret", checkToken);
    const ENV_EXPECTED = 'expected a JSON object of environment variables, e.g. {"PULUMI_CONFIG_PASSPHRASE":"..."}';
    const envMap = r.secretObject("agentEngineEnv", ENV_EXPECTED);
    const envOk = envMap && Object.values(envMap).every((v) => typeof v === "string") && engineEnvNamesOk(r, Object.keys(envMap));
    if (envMap && Object.values(envMap).some((v) => typeof v !== "string")) r.problem("agentEngineEnv", ENV_EXPECTED, r.get("agentEngineEnv"));
    const engineEnv = envOk ? pulumi.secret(envMap as Record<string, string>) : undefined;
    const githubToken = r.secret("agentGitHubToken", (v) => (/^[\x21-\x7e]{20,}$/.test(v.trim()) ? undefined : "expected a GitHub token (a fine-grained token, github_pat_..., or a GitHub App installation token, ghs_...)"));
    if (!a) {
        if (deployKey || syncToken || webhookSecret || engineEnv || githubToken) {
            r.problem("agent", "agentDeployKey, agentSyncToken, agentWebhookSecret, agentEngineEnv and agentGitHubToken need the agent map; add openfaas-gitops:agent with at least image and repoUrl");
        }
        return undefined;
    }
    const invalid = new Set(r.addAll(schemaProblems(AGENT_SCHEMA, a, r.fullKey("agent"))).map((p) => p.key));
    // A field with a problem reads as unset, so the rules below never pile onto it.
    const field = <T>(f: string, type: "string" | "number" | "boolean"): T | undefined =>
        typeof a[f] === type && a[f] !== "" && !invalid.has(r.fullKey(`agent.${f}`)) ? (a[f] as T) : undefined;
    const str = (f: string) => field<string>(f, "string");
    const image = str("image");
    if (image && imageProblem(image)) r.problem("agent.image", `${imageProblem(image)}; pin a version tag or a digest (@sha256:...)`, image);
    const repoUrl = readRepoUrl(r, str("repoUrl"));
    const knownHosts = readKnownHosts(r, repoUrl, str("knownHosts"));
    const githubRepository = str("githubRepository");
    if (githubRepository && deployKey) r.problem("agentDeployKey", "cannot be registered on GitHub by this program (it needs the public half); register it yourself and unset agent.githubRepository, or unset agentDeployKey to have one generated and registered");
    const webhookHost = str("webhookHost");
    if (webhookSecret && !webhookHost) r.problem("agentWebhookSecret", "is used only with agent.webhookHost (the webhook is off without it); set agent.webhookHost or unset agentWebhookSecret");
    const backendUrl = readBackendUrl(r, str("backendUrl"), envOk === true && "PULUMI_BACKEND_URL" in envMap!);
    const source = str("source") ?? (fluxOn ? "flux" : "git");
    if (source === "flux" && !fluxOn) r.problem("agent.source", "flux needs the flux map (Flux's GitRepository is the source); add openfaas-gitops:flux or set agent.source to git", source);
    return {
        image: image ?? "",
        repoUrl: repoUrl ?? "",
        branch: checked(r, "agent.branch", str("branch"), branchProblem) ?? AGENT_DEFAULTS.branch,
        projectPath: checked(r, "agent.projectPath", str("projectPath"), projectPathProblem) ?? AGENT_DEFAULTS.projectPath,
        knownHosts,
        githubRepository,
        deployKeyWrite: field<boolean>("deployKeyWrite", "boolean") === true,
        webhookHost,
        pollIntervalSeconds: field<number>("pollIntervalSeconds", "number") ?? AGENT_DEFAULTS.pollIntervalSeconds,
        driftIntervalSeconds: field<number>("driftIntervalSeconds", "number") ?? AGENT_DEFAULTS.driftIntervalSeconds,
        driftMode: (str("driftMode") as "correct" | "report" | undefined) ?? AGENT_DEFAULTS.driftMode,
        suspend: field<boolean>("suspend", "boolean") === true,
        backendUrl,
        artifactMaxBytes: checked(r, FIELDS.artifactMaxBytes.config, str("artifactMaxBytes"), limitProblem),
        artifactMaxExtractedBytes: checked(r, FIELDS.artifactMaxExtractedBytes.config, str("artifactMaxExtractedBytes"), limitProblem),
        secretsProvider: str("secretsProvider"),
        clusterAdmin: field<boolean>("clusterAdmin", "boolean") !== false,
        source: source === "flux" ? "flux" : "git",
        metricsNamespaceSelector: invalid.has(r.fullKey("agent.metricsNamespaceSelector")) || typeof a.metricsNamespaceSelector !== "object" || a.metricsNamespaceSelector === null
            ? DEFAULT_METRICS_NAMESPACE_SELECTOR
            : (a.metricsNamespaceSelector as Record<string, string>),
        deployKey,
        syncToken,
        webhookSecret,
        engineEnv,
        previews: readPreviews(r, a.previews, invalid.has(r.fullKey("agent.previews")), githubToken, previewIdentity, str("secretsProvider")),
    };
}

/**
 * `agent.previews` with `agentGitHubToken`: previews run as the preview identity, decrypt with the
 * passphrase and post with the token, so each of those is required and named when missing.
 */
function readPreviews(r: Reader, raw: unknown, invalid: boolean, githubToken: pulumi.Output<string> | undefined, previewIdentity: boolean, secretsProvider: string | undefined): AgentConfig["previews"] {
    if (raw === undefined) {
        if (githubToken) r.problem("agentGitHubToken", "is used only with agent.previews; set agent.previews or unset agentGitHubToken");
        return undefined;
    }
    if (invalid || typeof raw !== "object" || raw === null) return undefined;
    const p = raw as Record<string, unknown>;
    if (!githubToken) r.problem("agentGitHubToken", "is required with agent.previews: a fine-grained token (or GitHub App installation token) with commit statuses and pull requests write, contents read; pulumi config set --secret agentGitHubToken <token>");
    if (!previewIdentity) r.problem("agent.previews", "needs previewIdentity: true: a preview runs the pull request's program as the identity that can only read and dry-run");
    if (secretsProvider !== undefined && secretsProvider !== "passphrase") r.problem("agent.previews", `needs the passphrase secrets provider (agent.secretsProvider is ${secretsProvider}): the preview pod decrypts the config with the passphrase and holds no other credential`);
    if (p.writers === false && p.label === undefined) r.problem("agent.previews.writers", "is false with no agent.previews.label: no pull request could ever be previewed; set a label a maintainer adds, or allow writers", "false");
    const apiUrl = readApiUrl(r, typeof p.apiUrl === "string" && !invalid ? p.apiUrl : undefined);
    if (!githubToken || !previewIdentity) return undefined;
    return {
        repository: p.repository as string,
        writers: p.writers !== false,
        label: p.label as string | undefined,
        parallel: (p.parallel as number | undefined) ?? AGENT_DEFAULTS.previewParallel,
        timeoutSeconds: (p.timeoutSeconds as number | undefined) ?? AGENT_DEFAULTS.previewTimeoutSeconds,
        policyConfig: p.policyConfig as string | undefined,
        statusUrl: p.statusUrl as string | undefined,
        apiUrl,
        nodeSelector: p.nodeSelector as Record<string, string> | undefined,
        tolerations: p.tolerations as PreviewToleration[] | undefined,
        githubToken,
    };
}

/**
 * `agent.previews.apiUrl`: GitHub's REST API (GitHub Enterprise Server's /api/v3). A plain variable
 * of the Deployment, so it is refused with credentials in it (the token is agentGitHubToken), and
 * shown redacted.
 */
function readApiUrl(r: Reader, url: string | undefined): string | undefined {
    if (url === undefined) return undefined;
    const problem = githubApiUrlProblem(url) ?? (/\s/.test(url) ? "holds white space" : undefined);
    if (!problem) return url;
    r.problem("agent.previews.apiUrl", `${problem}; expected GitHub's REST API as an http(s) URL, e.g. ${AGENT_DEFAULTS.githubApiUrl} (GitHub Enterprise Server: https://<host>/api/v3; the token is agentGitHubToken)`, withoutQuery(redactUrl(url)));
    return undefined;
}

/** Why `v` is no size limit the agent takes (AGENT_ARTIFACT_MAX_*), or undefined. */
const limitProblem = (v: string) => (limitBytes(v) === undefined ? `${LIMIT_EXPECTED}, e.g. 50Mi` : undefined);

/** A value that passes `problem`, else undefined with the problem reported. */
function checked(r: Reader, key: string, value: string | undefined, problem: (v: string) => string | undefined): string | undefined {
    const p = value === undefined ? undefined : problem(value);
    if (p) r.problem(key, p, value);
    return p ? undefined : value;
}

/**
 * `agent.repoUrl`, refused with credentials in it: the URL is a plain environment variable of the
 * Deployment and is shown in the agent's log and status page. Its value is shown redacted.
 */
function readRepoUrl(r: Reader, url: string | undefined): string | undefined {
    if (url === undefined) return undefined;
    if (hasUrlCredentials(url)) {
        const fix = isSshUrl(url)
            ? "ssh signs in with the deploy key (generated, or agentDeployKey), never a password"
            : "use the ssh URL (git@host:org/repo.git) with the deploy key; the agent takes an https token only from a file (AGENT_HTTPS_TOKEN_FILE), never from the URL";
        r.problem("agent.repoUrl", `carries credentials, which would be stored in plain text in the agent's Deployment and shown in its log and status page; remove them: ${fix}`, redactUrl(url));
        return undefined;
    }
    if (!isSshUrl(url) && !/^https:\/\/[^/]/.test(url)) {
        r.problem("agent.repoUrl", "expected an ssh URL (git@host:org/repo.git, ssh://git@host/org/repo.git) or https://...", url);
        return undefined;
    }
    return url;
}

/**
 * `agent.backendUrl`, a plain config value that becomes a plain variable of the agent's Deployment:
 * never with a credential (a postgres backend's password), which goes with the whole URL in
 * `agentEngineEnv` as PULUMI_BACKEND_URL instead; and not beside that one, which it would override
 * (a container's env wins over its envFrom).
 */
function readBackendUrl(r: Reader, url: string | undefined, inEngineEnv: boolean): string | undefined {
    if (url === undefined) return undefined;
    if (hasUrlCredentials(url)) {
        r.problem("agent.backendUrl", "carries credentials, which would be stored in plain text in the stack file and the agent's Deployment; unset it and give the whole URL as PULUMI_BACKEND_URL in agentEngineEnv (a secret)", redactUrl(url));
        return undefined;
    }
    if (inEngineEnv) {
        r.problem("agent.backendUrl", "and agentEngineEnv's PULUMI_BACKEND_URL both name the backend; keep one of the two", url);
        return undefined;
    }
    return url;
}

/**
 * Whether every `agentEngineEnv` name reaches the engine (model/engine-env.ts, the list the agent
 * filters with); the others are refused, not dropped in silence. Only names shaped as environment
 * variables are echoed: anything else may be a value pasted in the wrong place.
 */
function engineEnvNamesOk(r: Reader, names: readonly string[]): boolean {
    const dropped = names.filter((n) => !engineEnvAllowed(n));
    if (dropped.length === 0) return true;
    const named = dropped.filter((n) => /^[A-Z_][A-Z0-9_]{0,63}$/.test(n));
    const others = dropped.length - named.length;
    const what = [...named, ...(others > 0 ? [`${others} name${others === 1 ? "" : "s"} that ${others === 1 ? "is not an environment variable name" : "are not environment variable names"}`] : [])].join(", ");
    r.problem("agentEngineEnv", `${what} would not reach the engine, which takes only ${ENGINE_ENV_NAMES}; remove ${dropped.length === 1 ? "it" : "them"} (an S3-compatible store takes AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)`, "[secret]");
    return false;
}

/**
 * The pinned host keys of an ssh repoUrl (the agent and Flux connect with them and nothing else):
 * `agent.knownHosts`, or GitHub's published key for github.com. Any other host must have its keys
 * given, since a key taken on first use is no pin at all.
 */
function readKnownHosts(r: Reader, repoUrl: string | undefined, given: string | undefined): string {
    const ssh = repoUrl ? sshHost(repoUrl) : undefined;
    if (!ssh) {
        if (given !== undefined && repoUrl) r.problem("agent.knownHosts", `is used only with an ssh repoUrl, not ${repoUrl}; unset it`);
        return GITHUB_KNOWN_HOSTS;
    }
    if (given === undefined) {
        if (knownHostsName(ssh) !== "github.com") {
            r.problem("agent.knownHosts", `required for the ssh repoUrl on ${knownHostsName(ssh)}: host keys are pinned, never trusted on first use; give the server's published host keys as known_hosts lines (compare ssh-keyscan ${ssh.port ? `-p ${ssh.port} ` : ""}${ssh.host} with what the server's operator publishes)`);
        }
        return GITHUB_KNOWN_HOSTS;
    }
    const problem = knownHostsProblem(given, ssh);
    if (problem) r.problem("agent.knownHosts", problem);
    return given.endsWith("\n") ? given : `${given}\n`;
}
