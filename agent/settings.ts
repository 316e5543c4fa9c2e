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
import { AGENT_DEFAULTS, DriftMode, Field, FIELDS, githubApiUrlProblem, LIMIT_EXPECTED, limitBytes, sizeBytes, parseNodeSelector, parseTolerations, PreviewToleration, SOURCE_MODES, SourceMode, withoutQuery } from "./contract";
import { eventsUrl } from "./flux-events";

export type SignatureMode = "off" | "ssh" | "gpg";

/** flux mode: what one artifact may take (agent/flux-source.ts enforces them). */
export interface ArtifactLimits {
    /** The whole download, from the request to the last byte. */
    readonly timeoutMs: number;
    /** Bytes downloaded (the compressed archive). */
    readonly maxBytes: number;
    /** Bytes of the unpacked archive: the tar stream as it is decompressed, and the files' sizes added up. */
    readonly maxExtractedBytes: number;
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
    /** Pull-request previews (agent/preview-loop.ts); undefined: off. */
    readonly previews?: PreviewSettings;
}

export interface PreviewSettings {
    /** `owner/name` on GitHub. */
    readonly repository: string;
    readonly githubTokenFile: string;
    readonly githubApiUrl: string;
    readonly image: string;
    readonly namespace: string;
    /** Where the preview pods reach this replica. */
    readonly agentUrl: string;
    readonly parallel: number;
    readonly writers: boolean;
    readonly label?: string;
    readonly policyConfig: string;
    readonly timeoutMs: number;
    readonly statusUrl?: string;
    /** Node labels the preview pods must match (a nodeSelector). */
    readonly nodeSelector?: Readonly<Record<string, string>>;
    /** Node taints the preview pods tolerate. */
    readonly tolerations?: readonly PreviewToleration[];
}

/** GitHub's rules for an owner and a repository name. */
const GITHUB_REPOSITORY = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})\/[A-Za-z0-9._-]{1,100}$/;


export class SettingsError extends Error {
    constructor(public readonly problems: readonly string[]) {
        super(`the agent cannot start; ${problems.length} bad setting${problems.length === 1 ? "" : "s"}:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
        this.name = "SettingsError";
    }
}

/** A host name (RFC 1123), which the agent may listen on once it resolves. */
const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** A value as a message shows it: at most 100 characters, so a pasted file does not become the message. */
function quotedValue(v: string): string {
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
        const n = limitBytes(v);
        if (n === undefined) {
            problems.push(`${name(f)} = "${v.slice(0, 40)}": ${LIMIT_EXPECTED}, e.g. ${def}`);
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
        problems.push(`${name(FIELDS.repoUrl)} = ${quotedValue(redactUrl(repoUrl))}: carries credentials, which would be shown wherever the URL is; remove them from the URL: ${fix}`);
    } else if (!isSshUrl(repoUrl) && !/^https:\/\/[^/]/.test(repoUrl) && !/^file:\/\//.test(repoUrl)) {
        problems.push(`${name(FIELDS.repoUrl)} = ${quotedValue(redactUrl(repoUrl))}: expected an ssh URL (git@host:org/repo.git, ssh://...) or https://...`);
    }
    const branch = str(FIELDS.branch, AGENT_DEFAULTS.branch)!;
    const badBranch = branchProblem(branch);
    if (badBranch) problems.push(`${name(FIELDS.branch)} = ${quotedValue(branch)}: ${badBranch}`);
    const projectPath = str(FIELDS.projectPath, AGENT_DEFAULTS.projectPath)!;
    const badPath = projectPathProblem(projectPath);
    if (badPath) problems.push(`${name(FIELDS.projectPath)} = ${quotedValue(projectPath)}: ${badPath}`);
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

    const listen = str(FIELDS.listen, `0.0.0.0:${AGENT_DEFAULTS.port}`)!;
    const address = parseListen(listen);
    if ("problem" in address) problems.push(`${name(FIELDS.listen)} = ${quotedValue(listen)}: ${address.problem}`);

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
        const namespace = k8sName(FIELDS.fluxNamespace, AGENT_DEFAULTS.fluxNamespace, DNS_LABEL, "a namespace name");
        const events = str(FIELDS.fluxEventsUrl, eventsUrl(namespace))!;
        if (events !== "off" && !requestableUrl(events)) problems.push(`${name(FIELDS.fluxEventsUrl)} = ${quotedValue(redactUrl(events))}: expected an http(s) URL or off`);
        flux = { namespace, name: k8sName(FIELDS.fluxSource, AGENT_DEFAULTS.fluxSource, DNS_SUBDOMAIN, "a GitRepository name"), eventsUrl: events === "off" ? undefined : events };
    }
    /** The preview settings, checked together: only when AGENT_PREVIEW_REPOSITORY turns previews on. */
    function previewSettings(): PreviewSettings | undefined {
        const repository = raw(FIELDS.previewRepository);
        const others = [FIELDS.githubTokenFile, FIELDS.previewImage, FIELDS.previewLabel, FIELDS.previewAgentUrl, FIELDS.previewNodeSelector, FIELDS.previewTolerations].filter((f) => raw(f) !== undefined);
        if (repository === undefined) {
            if (others.length > 0) problems.push(`${others.map(name).join(", ")} ${others.length === 1 ? "is" : "are"} set but ${name(FIELDS.previewRepository)} is not: set it to turn previews on, or drop ${others.length === 1 ? "it" : "them"}`);
            return undefined;
        }
        if (!GITHUB_REPOSITORY.test(repository)) problems.push(`${name(FIELDS.previewRepository)} = ${quotedValue(repository)}: expected owner/name as GitHub writes it, e.g. acme/platform`);
        const githubTokenFile = file(FIELDS.githubTokenFile);
        if (githubTokenFile === undefined && raw(FIELDS.githubTokenFile) === undefined) problems.push(`${name(FIELDS.githubTokenFile)} is required with previews: a fine-grained token or GitHub App installation token with commit statuses and pull requests write, contents read`);
        const image = raw(FIELDS.previewImage);
        if (image === undefined) problems.push(`${name(FIELDS.previewImage)} is required with previews: the agent's own image (the Deployment sets it)`);
        const apiUrl = str(FIELDS.githubApiUrl, AGENT_DEFAULTS.githubApiUrl)!;
        const apiUrlProblem = githubApiUrlProblem(apiUrl) ?? (requestableUrl(apiUrl) ? undefined : "cannot be requested");
        if (apiUrlProblem) problems.push(`${name(FIELDS.githubApiUrl)} = ${quotedValue(withoutQuery(redactUrl(apiUrl)))}: ${apiUrlProblem}; expected GitHub's REST API, e.g. ${AGENT_DEFAULTS.githubApiUrl} (GitHub Enterprise Server: https://<host>/api/v3)`);
        const podIp = raw(FIELDS.podIp);
        const agentUrl = raw(FIELDS.previewAgentUrl) ?? (podIp && net.isIP(podIp) ? `http://${net.isIPv6(podIp) ? `[${podIp}]` : podIp}:${"port" in address ? address.port : AGENT_DEFAULTS.port}` : undefined);
        if (agentUrl === undefined) problems.push(`${name(FIELDS.previewAgentUrl)} or a valid ${name(FIELDS.podIp)} is required with previews: the preview pods fetch their job from this replica`);
        else if (!requestableUrl(agentUrl)) problems.push(`${name(FIELDS.previewAgentUrl)} = ${quotedValue(redactUrl(agentUrl))}: expected an http(s) URL`);
        const parallelRaw = raw(FIELDS.previewParallel);
        let parallel: number = AGENT_DEFAULTS.previewParallel;
        if (parallelRaw !== undefined) {
            if (!/^[1-8]$/.test(parallelRaw)) problems.push(`${name(FIELDS.previewParallel)} = ${quotedValue(parallelRaw)}: expected a whole number from 1 to 8`);
            else parallel = Number(parallelRaw);
        }
        const label = raw(FIELDS.previewLabel);
        if (label !== undefined && (label.length > 50 || /[,\x00-\x1f]/.test(label))) problems.push(`${name(FIELDS.previewLabel)} = ${quotedValue(label)}: expected a GitHub label name (at most 50 characters, no comma)`);
        const writers = oneOf(FIELDS.previewWriters, ["true", "false"] as const, "true") === "true";
        if (!writers && label === undefined) problems.push(`${name(FIELDS.previewWriters)} = "false" with no ${name(FIELDS.previewLabel)}: no pull request could ever be previewed; set a label, or allow writers`);
        const policyConfig = k8sName(FIELDS.previewPolicyConfig, stack ?? "default", DNS_SUBDOMAIN, "a policy config name (policies/config/<name>.json)");
        const secretsProvider = str(FIELDS.secretsProvider);
        if (secretsProvider !== undefined && secretsProvider !== "passphrase") problems.push(`${name(FIELDS.secretsProvider)} = ${quotedValue(secretsProvider)} with previews: a preview pod decrypts the config with the stack's passphrase and holds no other credential; previews need the passphrase secrets provider`);
        const statusUrl = raw(FIELDS.statusUrl);
        if (statusUrl !== undefined && !requestableUrl(statusUrl)) problems.push(`${name(FIELDS.statusUrl)} = ${quotedValue(redactUrl(statusUrl))}: expected an http(s) URL`);
        const selectorRaw = raw(FIELDS.previewNodeSelector);
        const selector = selectorRaw === undefined ? undefined : parseNodeSelector(selectorRaw);
        if (selector && "error" in selector) problems.push(`${name(FIELDS.previewNodeSelector)} = ${quotedValue(selectorRaw!)}: ${selector.error}; expected node labels as key=value,key=value, e.g. pool=previews`);
        const tolerationsRaw = raw(FIELDS.previewTolerations);
        const tolerations = tolerationsRaw === undefined ? undefined : parseTolerations(tolerationsRaw);
        if (tolerations && "error" in tolerations) problems.push(`${name(FIELDS.previewTolerations)} = ${quotedValue(tolerationsRaw!)}: ${tolerations.error}; expected taints as kubectl taint writes them, e.g. pool=previews:NoSchedule`);
        return {
            repository,
            githubTokenFile: githubTokenFile ?? "",
            githubApiUrl: apiUrl,
            image: image ?? "",
            namespace: k8sName(FIELDS.previewNamespace, AGENT_DEFAULTS.previewNamespace, DNS_LABEL, "a namespace name"),
            agentUrl: agentUrl ?? "",
            parallel,
            writers,
            label,
            policyConfig,
            timeoutMs: seconds(FIELDS.previewTimeout, AGENT_DEFAULTS.previewTimeoutSeconds, 60, 7200),
            statusUrl,
            ...(selector && "selector" in selector ? { nodeSelector: selector.selector } : {}),
            ...(tolerations && "tolerations" in tolerations ? { tolerations: tolerations.tolerations } : {}),
        };
    }
    const artifact = {
        timeoutMs: seconds(FIELDS.artifactTimeout, AGENT_DEFAULTS.artifactTimeoutSeconds, 5, 3600),
        maxBytes: bytes(FIELDS.artifactMaxBytes, AGENT_DEFAULTS.artifactMaxBytes),
        maxExtractedBytes: bytes(FIELDS.artifactMaxExtractedBytes, AGENT_DEFAULTS.artifactMaxExtractedBytes),
    };
    const previews = previewSettings();
    const settings: AgentSettings = {
        previews,
        source,
        flux,
        artifact,
        repoUrl: repoUrl ?? "",
        branch,
        projectPath,
        stack: stack ?? "",
        pollIntervalMs: seconds(FIELDS.pollInterval, AGENT_DEFAULTS.pollIntervalSeconds, 5, 86400),
        sshKeyFile,
        knownHostsFile,
        httpsTokenFile,
        httpsCaFile: file(FIELDS.httpsCaFile),
        verifySignatures,
        allowedSignersFile,
        gpgHome,
        workDir: str(FIELDS.workDir, AGENT_DEFAULTS.workDir)!,
        webhookSecretFile: file(FIELDS.webhookSecretFile),
        syncTokenFile: file(FIELDS.syncTokenFile),
        listenHost: "host" in address ? address.host : "0.0.0.0",
        listenPort: "port" in address ? address.port : AGENT_DEFAULTS.port,
        driftIntervalMs: seconds(FIELDS.driftInterval, AGENT_DEFAULTS.driftIntervalSeconds, 0, 604800),
        driftMode: oneOf(FIELDS.driftMode, ["correct", "report"] as const, AGENT_DEFAULTS.driftMode),
        backoffBaseMs,
        backoffCapMs,
        stalledAfter,
        shutdownGraceMs: seconds(FIELDS.shutdownGrace, AGENT_DEFAULTS.shutdownGraceSeconds, 0, 3600),
        runTimeoutMs: seconds(FIELDS.runTimeout, AGENT_DEFAULTS.runTimeoutSeconds, 60, 86400),
        backendUrl: str(FIELDS.backendUrl),
        secretsProvider: str(FIELDS.secretsProvider),
        pulumiPlugins: file(FIELDS.pulumiPlugins),
        suspend: oneOf(FIELDS.suspend, ["true", "false"] as const, "false") === "true",
        namespace: k8sName(FIELDS.namespace, AGENT_DEFAULTS.namespace, DNS_LABEL, "a namespace name"),
        identity: str(FIELDS.identity, os.hostname())!,
        leaseName: k8sName(FIELDS.leaseName, AGENT_DEFAULTS.name, DNS_SUBDOMAIN, "a Lease name"),
        statusConfigMap: k8sName(FIELDS.statusConfigMap, AGENT_DEFAULTS.statusConfigMap, DNS_SUBDOMAIN, "a ConfigMap name"),
        logLevel: oneOf(FIELDS.logLevel, ["trace", "debug", "info", "warn", "error"] as const, "info"),
    };
    if (problems.length > 0) throw new SettingsError(problems);
    return settings;
}
