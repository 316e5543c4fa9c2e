/**
 * The agent's settings: environment variables (what the Deployment sets) overridden by flags (for
 * running by hand), validated at start. Every bad setting is reported at once, by its variable and
 * flag name, and the agent does not start.
 */
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import { parseArgs } from "node:util";
import { branchProblem, hasUrlCredentials, isSshUrl, projectPathProblem, redactUrl } from "../model/git";
import { DNS_LABEL, DNS_SUBDOMAIN } from "../model/names";
import { eventsUrl } from "./flux-events";

export type DriftMode = "correct" | "report";
export type SignatureMode = "off" | "ssh" | "gpg";
/** Where revisions come from: the agent's own git client, or Flux's GitRepository artifact. */
export type SourceMode = "git" | "flux";
export const SOURCE_MODES: readonly SourceMode[] = ["git", "flux"];
/**
 * The agent's names and defaults, written once: the settings below default to them, and the
 * component that deploys the agent (components/gitops-agent.ts) and the stack config's `agent` map
 * (config/agent.ts) import them from here, never the other way.
 */
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
} as const;
const D = AGENT_DEFAULTS;

/** flux mode: what one artifact may take (agent/flux-source.ts enforces them). */
export interface ArtifactLimits {
    /** The whole download, from the request to the last byte. */
    readonly timeoutMs: number;
    /** Bytes downloaded (the compressed archive). */
    readonly maxBytes: number;
    /** Bytes of the unpacked archive: the tar stream as it is decompressed, and the files' sizes added up. */
    readonly maxExtractedBytes: number;
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

/** The AGENT_ARTIFACT_* defaults, in milliseconds and bytes. */
export const DEFAULT_ARTIFACT_LIMITS: ArtifactLimits = {
    timeoutMs: AGENT_DEFAULTS.artifactTimeoutSeconds * 1000,
    maxBytes: sizeBytes(AGENT_DEFAULTS.artifactMaxBytes)!,
    maxExtractedBytes: sizeBytes(AGENT_DEFAULTS.artifactMaxExtractedBytes)!,
};

export interface AgentSettings {
    readonly source: SourceMode;
    /** flux mode: the GitRepository to follow, and notification-controller's event endpoint (undefined: no events). */
    readonly flux?: { readonly namespace: string; readonly name: string; readonly eventsUrl?: string };
    /** flux mode: the limits of one artifact. */
    readonly artifact: ArtifactLimits;
    /** git mode: git URL: ssh (`git@host:org/repo.git`, `ssh://...`) or `https://...`. */
    readonly repoUrl: string;
    readonly branch: string;
    /** Directory of the Pulumi project inside the repository. */
    readonly projectPath: string;
    readonly stack: string;
    readonly pollIntervalMs: number;
    readonly sshKeyFile?: string;
    readonly knownHostsFile?: string;
    readonly httpsTokenFile?: string;
    /** CA bundle for an https git server with a private CA. */
    readonly httpsCaFile?: string;
    readonly verifySignatures: SignatureMode;
    /** ssh mode: git's gpg.ssh.allowedSignersFile. */
    readonly allowedSignersFile?: string;
    /** gpg mode: a GNUPGHOME holding the trusted public keys. */
    readonly gpgHome?: string;
    /** Checkout, dependency cache and state of the agent. */
    readonly workDir: string;
    readonly webhookSecretFile?: string;
    /** Bearer token for POST /sync; without it /sync is off. */
    readonly syncTokenFile?: string;
    readonly listenHost: string;
    readonly listenPort: number;
    readonly driftIntervalMs: number;
    readonly driftMode: DriftMode;
    readonly backoffBaseMs: number;
    readonly backoffCapMs: number;
    /** Consecutive failures of one revision before it is Stalled. */
    readonly stalledAfter: number;
    readonly shutdownGraceMs: number;
    /** The longest one run (checkout, install, engine) may take; then it is stopped as a failure. */
    readonly runTimeoutMs: number;
    /** Start suspended: nothing is applied until resumed (POST /resume) or the setting is dropped. */
    readonly suspend: boolean;
    /** Pulumi backend URL (PULUMI_BACKEND_URL), e.g. s3://bucket or file:///state. */
    readonly backendUrl?: string;
    /** Pulumi secrets provider of the stack, e.g. passphrase or awskms://... */
    readonly secretsProvider?: string;
    /** Preinstalled Pulumi plugins (the image's), linked as $PULUMI_HOME/plugins: runs never download one. */
    readonly pulumiPlugins?: string;
    readonly namespace: string;
    readonly identity: string;
    readonly leaseName: string;
    readonly statusConfigMap: string;
    readonly logLevel: string;
}

/** One setting: its environment variable, flag, and parser. */
interface Field {
    readonly env: string;
    readonly flag: string;
    readonly doc: string;
}

export const FIELDS = {
    source: { env: "AGENT_SOURCE", flag: "source", doc: "git | flux: the agent's own git client, or Flux's GitRepository artifact (default git)" },
    fluxNamespace: { env: "AGENT_FLUX_NAMESPACE", flag: "flux-namespace", doc: `flux mode: namespace of the GitRepository and of Flux (default ${D.fluxNamespace})` },
    fluxSource: { env: "AGENT_FLUX_SOURCE", flag: "flux-source", doc: `flux mode: name of the GitRepository (default ${D.fluxSource})` },
    fluxEventsUrl: { env: "AGENT_FLUX_EVENTS_URL", flag: "flux-events-url", doc: "flux mode: notification-controller's event endpoint, or off (default http://notification-controller.<flux namespace>.svc.cluster.local./)" },
    artifactTimeout: { env: "AGENT_ARTIFACT_TIMEOUT", flag: "artifact-timeout", doc: `flux mode: seconds one artifact download may take in all (default ${D.artifactTimeoutSeconds})` },
    artifactMaxBytes: { env: "AGENT_ARTIFACT_MAX_BYTES", flag: "artifact-max-bytes", doc: `flux mode: largest artifact to download, in bytes or with Ki, Mi or Gi (default ${D.artifactMaxBytes})` },
    artifactMaxExtractedBytes: { env: "AGENT_ARTIFACT_MAX_EXTRACTED_BYTES", flag: "artifact-max-extracted-bytes", doc: `flux mode: largest artifact once unpacked, in bytes or with Ki, Mi or Gi (default ${D.artifactMaxExtractedBytes})` },
    repoUrl: { env: "AGENT_REPO_URL", flag: "repo-url", doc: "git URL of the repository (required)" },
    branch: { env: "AGENT_BRANCH", flag: "branch", doc: `branch to follow (default ${D.branch})` },
    projectPath: { env: "AGENT_PROJECT_PATH", flag: "project-path", doc: `Pulumi project directory in the repository (default ${D.projectPath})` },
    stack: { env: "AGENT_STACK", flag: "stack", doc: "stack to apply (required)" },
    pollInterval: { env: "AGENT_POLL_INTERVAL", flag: "poll-interval", doc: `seconds between checks of the branch head (default ${D.pollIntervalSeconds})` },
    sshKeyFile: { env: "AGENT_SSH_KEY_FILE", flag: "ssh-key-file", doc: "private deploy key (required for ssh URLs)" },
    knownHostsFile: { env: "AGENT_KNOWN_HOSTS_FILE", flag: "known-hosts-file", doc: "pinned known_hosts (required for ssh URLs)" },
    httpsTokenFile: { env: "AGENT_HTTPS_TOKEN_FILE", flag: "https-token-file", doc: "file holding a token for https URLs" },
    httpsCaFile: { env: "AGENT_HTTPS_CA_FILE", flag: "https-ca-file", doc: "CA bundle of an https git server with a private CA" },
    verifySignatures: { env: "AGENT_VERIFY_SIGNATURES", flag: "verify-signatures", doc: "off | ssh | gpg (default off)" },
    allowedSignersFile: { env: "AGENT_ALLOWED_SIGNERS_FILE", flag: "allowed-signers-file", doc: "allowed SSH signers (with verify-signatures ssh)" },
    gpgHome: { env: "AGENT_GPG_HOME", flag: "gpg-home", doc: "GNUPGHOME with trusted keys (with verify-signatures gpg)" },
    workDir: { env: "AGENT_WORK_DIR", flag: "work-dir", doc: `checkout and cache directory (default ${D.workDir})` },
    webhookSecretFile: { env: "AGENT_WEBHOOK_SECRET_FILE", flag: "webhook-secret-file", doc: "GitHub webhook secret; without it the webhook is off" },
    syncTokenFile: { env: "AGENT_SYNC_TOKEN_FILE", flag: "sync-token-file", doc: "bearer token for POST /sync; without it /sync is off" },
    listen: { env: "AGENT_LISTEN", flag: "listen", doc: `host:port of the HTTP server (default 0.0.0.0:${D.port})` },
    driftInterval: { env: "AGENT_DRIFT_INTERVAL", flag: "drift-interval", doc: `seconds between drift checks, 0 = off (default ${D.driftIntervalSeconds})` },
    driftMode: { env: "AGENT_DRIFT_MODE", flag: "drift-mode", doc: `correct | report (default ${D.driftMode})` },
    backoffBase: { env: "AGENT_BACKOFF_BASE", flag: "backoff-base", doc: "seconds before the first retry of a failed revision (default 30)" },
    backoffCap: { env: "AGENT_BACKOFF_CAP", flag: "backoff-cap", doc: "longest wait between retries, seconds (default 900)" },
    stalledAfter: { env: "AGENT_STALLED_AFTER", flag: "stalled-after", doc: "failures of one revision before Stalled (default 5)" },
    shutdownGrace: { env: "AGENT_SHUTDOWN_GRACE", flag: "shutdown-grace", doc: `seconds a running update may finish after SIGTERM (default ${D.shutdownGraceSeconds})` },
    runTimeout: { env: "AGENT_RUN_TIMEOUT", flag: "run-timeout", doc: `seconds one run (checkout, install, engine) may take before it is stopped as a failure (default ${D.runTimeoutSeconds})` },
    suspend: { env: "AGENT_SUSPEND", flag: "suspend", doc: "true: apply nothing until resumed (default false)" },
    backendUrl: { env: "PULUMI_BACKEND_URL", flag: "backend-url", doc: "Pulumi state backend" },
    secretsProvider: { env: "AGENT_SECRETS_PROVIDER", flag: "secrets-provider", doc: "Pulumi secrets provider of the stack" },
    pulumiPlugins: { env: "AGENT_PULUMI_PLUGINS", flag: "pulumi-plugins", doc: "directory of preinstalled Pulumi plugins, linked as $PULUMI_HOME/plugins (the image sets it)" },
    namespace: { env: "POD_NAMESPACE", flag: "namespace", doc: `namespace of the Lease, status ConfigMap and Events (default ${D.namespace})` },
    identity: { env: "POD_NAME", flag: "identity", doc: "leader-election identity (default the host name)" },
    leaseName: { env: "AGENT_LEASE_NAME", flag: "lease-name", doc: `Lease name (default ${D.name})` },
    statusConfigMap: { env: "AGENT_STATUS_CONFIGMAP", flag: "status-configmap", doc: `status ConfigMap name (default ${D.statusConfigMap})` },
    logLevel: { env: "AGENT_LOG_LEVEL", flag: "log-level", doc: "trace | debug | info | warn | error (default info)" },
} as const satisfies Record<string, Field>;

export class SettingsError extends Error {
    constructor(public readonly problems: readonly string[]) {
        super(`the agent cannot start; ${problems.length} bad setting${problems.length === 1 ? "" : "s"}:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
        this.name = "SettingsError";
    }
}

/** A host name (RFC 1123), which the agent may listen on once it resolves. */
const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** A value as a message shows it: at most 100 characters, so a pasted file does not become the message. */
function shown(v: string): string {
    return JSON.stringify(v.length > 100 ? `${v.slice(0, 100)}...` : v);
}

/**
 * Pure: the address of AGENT_LISTEN, or why it is none: `host:port` with an IPv4 address, a host name
 * or an IPv6 address in brackets (`[::1]:8080` listens on ::1), and a port from 1 to 65535.
 */
export function parseListen(value: string): { readonly host: string; readonly port: number } | { readonly problem: string } {
    const m = /^(?:\[([^\]]*)\]|([^:[\]]*)):(\d{1,5})$/.exec(value);
    if (!m) {
        const bare = /^(.*):\d+$/.exec(value)?.[1];
        if (bare !== undefined && net.isIPv6(bare)) return { problem: `an IPv6 address goes in brackets: [${bare}]:${value.slice(bare.length + 1)}` };
        return { problem: "expected host:port, e.g. 0.0.0.0:8080, or [::]:8080 for IPv6" };
    }
    const port = Number(m[3]);
    if (port < 1 || port > 65535) return { problem: "expected a port from 1 to 65535" };
    if (m[1] !== undefined) return net.isIPv6(m[1]) ? { host: m[1], port } : { problem: `[${m[1]}] is not an IPv6 address` };
    const host = m[2]!;
    // All digits and dots is meant as an IPv4 address, never looked up as a name.
    if (net.isIPv4(host) || (HOST_NAME.test(host) && !/^[\d.]+$/.test(host))) return { host, port };
    return { problem: `${host === "" ? "the host is empty" : `${host} is neither an IPv4 address nor a host name`}; expected e.g. 0.0.0.0:8080, or [::]:8080 for IPv6` };
}

/**
 * Pure: whether `url` is an http(s) URL Node can send a request to. The prefix alone let
 * `http://[::1` through, and every event post then failed with "Invalid URL".
 */
function requestableUrl(url: string): boolean {
    if (!/^https?:\/\/[^/]+/.test(url)) return false;
    try {
        return ["http:", "https:"].includes(new URL(url).protocol);
    } catch {
        return false;
    }
}

/** Pure: settings from an environment and argv; throws {@link SettingsError} listing every problem. */
export function parseSettings(env: Readonly<Record<string, string | undefined>>, argv: readonly string[] = [], fileExists: (p: string) => boolean = fs.existsSync): AgentSettings {
    const options = Object.fromEntries(Object.values(FIELDS).map((f) => [f.flag, { type: "string" as const }]));
    let flags: Record<string, string | undefined>;
    try {
        flags = parseArgs({ args: [...argv], options, strict: true }).values as Record<string, string | undefined>;
    } catch (e) {
        throw new SettingsError([(e as Error).message]);
    }
    const problems: string[] = [];
    const name = (f: Field) => `${f.env} (--${f.flag})`;
    const raw = (f: Field): string | undefined => {
        const v = flags[f.flag] ?? env[f.env];
        return v === undefined || v.trim() === "" ? undefined : v.trim();
    };
    const str = (f: Field, def?: string) => raw(f) ?? def;
    const seconds = (f: Field, def: number, min: number, max: number): number => {
        const v = raw(f);
        if (v === undefined) return def * 1000;
        if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
            problems.push(`${name(f)} = "${v}": expected whole seconds from ${min} to ${max}`);
            return def * 1000;
        }
        return Number(v) * 1000;
    };
    const oneOf = <T extends string>(f: Field, values: readonly T[], def: T): T => {
        const v = raw(f);
        if (v === undefined) return def;
        if (!(values as readonly string[]).includes(v)) problems.push(`${name(f)} = "${v}": expected one of ${values.join(" | ")}`);
        return v as T;
    };
    const k8sName = (f: Field, def: string, pattern: RegExp, what: string): string => {
        const v = raw(f) ?? def;
        if (!pattern.test(v)) problems.push(`${name(f)} = "${v}": expected ${what} (lower-case letters, digits and '-')`);
        return v;
    };
    const bytes = (f: Field, def: string): number => {
        const v = raw(f) ?? def;
        const n = sizeBytes(v);
        if (n === undefined || n < 2 ** 10 || n > 16 * 2 ** 30) {
            problems.push(`${name(f)} = "${v.slice(0, 40)}": expected a size from 1Ki to 16Gi, in bytes or with Ki, Mi or Gi, e.g. ${def}`);
            return sizeBytes(def)!;
        }
        return n;
    };
    const file = (f: Field): string | undefined => {
        const v = raw(f);
        if (v !== undefined && !fileExists(v)) problems.push(`${name(f)} = "${v}": no such file`);
        return v;
    };

    const source = oneOf(FIELDS.source, SOURCE_MODES, "git");
    const repoUrl = raw(FIELDS.repoUrl);
    if (repoUrl === undefined) {
        if (source === "git") problems.push(`${name(FIELDS.repoUrl)} is required`);
    } else if (hasUrlCredentials(repoUrl)) {
        // git would strip them from its messages, but the URL itself is shown in the log, the status page and Events.
        const fix = isSshUrl(repoUrl) ? `ssh signs in with the deploy key of ${name(FIELDS.sshKeyFile)}, never a password` : `put the token in the file named by ${name(FIELDS.httpsTokenFile)}`;
        problems.push(`${name(FIELDS.repoUrl)} = ${shown(redactUrl(repoUrl))}: carries credentials, which would be shown wherever the URL is; remove them from the URL: ${fix}`);
    } else if (!isSshUrl(repoUrl) && !/^https:\/\/[^/]/.test(repoUrl) && !/^file:\/\//.test(repoUrl)) {
        problems.push(`${name(FIELDS.repoUrl)} = ${shown(redactUrl(repoUrl))}: expected an ssh URL (git@host:org/repo.git, ssh://...) or https://...`);
    }
    const branch = str(FIELDS.branch, D.branch)!;
    const badBranch = branchProblem(branch);
    if (badBranch) problems.push(`${name(FIELDS.branch)} = ${shown(branch)}: ${badBranch}`);
    const projectPath = str(FIELDS.projectPath, D.projectPath)!;
    const badPath = projectPathProblem(projectPath);
    if (badPath) problems.push(`${name(FIELDS.projectPath)} = ${shown(projectPath)}: ${badPath}`);
    const stack = raw(FIELDS.stack);
    if (stack === undefined) problems.push(`${name(FIELDS.stack)} is required`);
    const sshKeyFile = file(FIELDS.sshKeyFile);
    const knownHostsFile = file(FIELDS.knownHostsFile);
    const httpsTokenFile = file(FIELDS.httpsTokenFile);
    if (repoUrl && isSshUrl(repoUrl)) {
        if (!sshKeyFile) problems.push(`${name(FIELDS.sshKeyFile)} is required for the ssh URL ${redactUrl(repoUrl)}`);
        if (!knownHostsFile) problems.push(`${name(FIELDS.knownHostsFile)} is required for the ssh URL ${redactUrl(repoUrl)}: host keys are pinned, never accepted on first use`);
    }
    const verifySignatures = oneOf(FIELDS.verifySignatures, ["off", "ssh", "gpg"] as const, "off");
    const allowedSignersFile = file(FIELDS.allowedSignersFile);
    const gpgHome = str(FIELDS.gpgHome);
    if (verifySignatures === "ssh" && !allowedSignersFile) problems.push(`${name(FIELDS.allowedSignersFile)} is required with verify-signatures ssh`);
    if (verifySignatures === "gpg" && !gpgHome) problems.push(`${name(FIELDS.gpgHome)} is required with verify-signatures gpg`);

    const listen = str(FIELDS.listen, `0.0.0.0:${D.port}`)!;
    const address = parseListen(listen);
    if ("problem" in address) problems.push(`${name(FIELDS.listen)} = ${shown(listen)}: ${address.problem}`);

    const backoffBaseMs = seconds(FIELDS.backoffBase, 30, 1, 86400);
    const backoffCapMs = seconds(FIELDS.backoffCap, 900, 1, 86400);
    if (backoffCapMs < backoffBaseMs) problems.push(`${name(FIELDS.backoffCap)} must be at least ${name(FIELDS.backoffBase)}`);
    const stalledRaw = raw(FIELDS.stalledAfter);
    let stalledAfter = 5;
    if (stalledRaw !== undefined) {
        if (!/^\d+$/.test(stalledRaw) || Number(stalledRaw) < 1 || Number(stalledRaw) > 100) problems.push(`${name(FIELDS.stalledAfter)} = "${stalledRaw}": expected a whole number from 1 to 100`);
        else stalledAfter = Number(stalledRaw);
    }
    let flux: AgentSettings["flux"];
    if (source === "flux") {
        const namespace = k8sName(FIELDS.fluxNamespace, D.fluxNamespace, DNS_LABEL, "a namespace name");
        const events = str(FIELDS.fluxEventsUrl, eventsUrl(namespace))!;
        if (events !== "off" && !requestableUrl(events)) problems.push(`${name(FIELDS.fluxEventsUrl)} = ${shown(redactUrl(events))}: expected an http(s) URL or off`);
        flux = { namespace, name: k8sName(FIELDS.fluxSource, D.fluxSource, DNS_SUBDOMAIN, "a GitRepository name"), eventsUrl: events === "off" ? undefined : events };
    }
    const artifact = {
        timeoutMs: seconds(FIELDS.artifactTimeout, D.artifactTimeoutSeconds, 5, 3600),
        maxBytes: bytes(FIELDS.artifactMaxBytes, D.artifactMaxBytes),
        maxExtractedBytes: bytes(FIELDS.artifactMaxExtractedBytes, D.artifactMaxExtractedBytes),
    };
    const settings: AgentSettings = {
        source,
        flux,
        artifact,
        repoUrl: repoUrl ?? "",
        branch,
        projectPath,
        stack: stack ?? "",
        pollIntervalMs: seconds(FIELDS.pollInterval, D.pollIntervalSeconds, 5, 86400),
        sshKeyFile,
        knownHostsFile,
        httpsTokenFile,
        httpsCaFile: file(FIELDS.httpsCaFile),
        verifySignatures,
        allowedSignersFile,
        gpgHome,
        workDir: str(FIELDS.workDir, D.workDir)!,
        webhookSecretFile: file(FIELDS.webhookSecretFile),
        syncTokenFile: file(FIELDS.syncTokenFile),
        listenHost: "host" in address ? address.host : "0.0.0.0",
        listenPort: "port" in address ? address.port : D.port,
        driftIntervalMs: seconds(FIELDS.driftInterval, D.driftIntervalSeconds, 0, 604800),
        driftMode: oneOf(FIELDS.driftMode, ["correct", "report"] as const, D.driftMode),
        backoffBaseMs,
        backoffCapMs,
        stalledAfter,
        shutdownGraceMs: seconds(FIELDS.shutdownGrace, D.shutdownGraceSeconds, 0, 3600),
        runTimeoutMs: seconds(FIELDS.runTimeout, D.runTimeoutSeconds, 60, 86400),
        backendUrl: str(FIELDS.backendUrl),
        secretsProvider: str(FIELDS.secretsProvider),
        pulumiPlugins: file(FIELDS.pulumiPlugins),
        suspend: oneOf(FIELDS.suspend, ["true", "false"] as const, "false") === "true",
        namespace: k8sName(FIELDS.namespace, D.namespace, DNS_LABEL, "a namespace name"),
        identity: str(FIELDS.identity, os.hostname())!,
        leaseName: k8sName(FIELDS.leaseName, D.name, DNS_SUBDOMAIN, "a Lease name"),
        statusConfigMap: k8sName(FIELDS.statusConfigMap, D.statusConfigMap, DNS_SUBDOMAIN, "a ConfigMap name"),
        logLevel: oneOf(FIELDS.logLevel, ["trace", "debug", "info", "warn", "error"] as const, "info"),
    };
    if (problems.length > 0) throw new SettingsError(problems);
    return settings;
}
