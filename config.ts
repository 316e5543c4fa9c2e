import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { CHARTS, CHART_NAMES, ChartName, ChartSource } from "./model/charts";
import { FluxNotification, githubRepositoryAddress, isSshUrl, NOTIFICATION_TYPES, setterMarker } from "./components/flux";
import { applyOverrides } from "./config/functions";
import { parseStackYml } from "./config/stack-yml/parse";
import { FunctionDef } from "./model/function";
import { imageProblem } from "./policies/shared/image";
import { keyPairProblems } from "./model/sealing-key";
import { isManifestFile, parseSealedSecretFile, SealedSecretFile } from "./sealing/manifests";
import { DNS_LABEL, DNS_SUBDOMAIN } from "./model/names";

/** The Pulumi project name, which is also the config namespace of every key below. */
export const PROJECT = "openfaas-gitops";

export type EnvoyServiceType = "LoadBalancer" | "NodePort";
export type TlsIssuer = "letsencrypt-prod" | "letsencrypt-staging" | "none";
export const ENVOY_SERVICE_TYPES: readonly EnvoyServiceType[] = ["LoadBalancer", "NodePort"];
export const TLS_ISSUERS: readonly TlsIssuer[] = ["letsencrypt-prod", "letsencrypt-staging", "none"];

/** Every stack config key this program reads, with its type as declared in Pulumi.yaml. */
export const CONFIG_KEYS = {
    domain: "string",
    envoyServiceType: "string",
    envoyHttpNodePort: "integer",
    envoyHttpsNodePort: "integer",
    tlsIssuer: "string",
    acmeEmail: "string",
    gatewayReplicas: "integer",
    queueWorkerReplicas: "integer",
    adminUser: "string",
    adminPassword: "string",
    proLicense: "string",
    sealingKeyPem: "string",
    sealingCertPem: "string",
    sealingCertValidityDays: "integer",
    charts: "object",
    networkPolicies: "boolean",
    functionsFile: "string",
    functions: "object",
    functionsEnv: "object",
    schedules: "boolean",
    sealedSecretsDir: "string",
    basicAuthFromSealedSecret: "boolean",
    agent: "object",
    agentDeployKey: "string",
    agentSyncToken: "string",
    agentWebhookSecret: "string",
    agentEngineEnv: "string",
    flux: "object",
    fluxWebhookSecret: "string",
    fluxNotificationSecrets: "string",
} as const;
export type ConfigKey = keyof typeof CONFIG_KEYS;

/** Keys whose value must be stored encrypted (`pulumi config set --secret`). */
export const SECRET_CONFIG_KEYS: ReadonlySet<ConfigKey> = new Set<ConfigKey>([
    "adminPassword", "proLicense", "sealingKeyPem", "agentDeployKey", "agentSyncToken", "agentWebhookSecret", "agentEngineEnv", "fluxWebhookSecret", "fluxNotificationSecrets",
]);

/** The reconcile agent's settings from the `agent` map (README, "The reconcile agent"). */
export interface AgentConfig {
    readonly image: string;
    readonly repoUrl: string;
    readonly branch: string;
    readonly projectPath: string;
    readonly githubRepository?: string;
    readonly deployKeyWrite: boolean;
    readonly webhookHost?: string;
    readonly pollIntervalSeconds: number;
    readonly driftIntervalSeconds: number;
    readonly driftMode: "correct" | "report";
    /** Apply nothing until resumed (agent/README: suspend). */
    readonly suspend: boolean;
    readonly backendUrl?: string;
    readonly secretsProvider?: string;
    readonly clusterAdmin: boolean;
    /** Bring-your-own deploy key (OpenSSH private key). */
    readonly deployKey?: pulumi.Output<string>;
    /** Bring-your-own bearer token of POST /sync; undefined means generate one. */
    readonly syncToken?: pulumi.Output<string>;
    /** Bring-your-own GitHub webhook secret; undefined means generate one (with a webhook host). */
    readonly webhookSecret?: pulumi.Output<string>;
    /** Backend and secrets-provider credentials for the agent's engine. */
    readonly engineEnv?: pulumi.Output<Record<string, string>>;
}

/** Flux's settings from the `flux` map (README, "Flux"); the repository and deploy key are the agent's. */
export interface FluxConfig {
    readonly namespace: string;
    /** GitRepository fetch interval, a Flux duration (e.g. 1m, 30s, 1h). */
    readonly interval: string;
    readonly kustomizeController: boolean;
    readonly helmController: boolean;
    /** Host of the GitHub push Receiver; undefined: no Receiver. */
    readonly webhookHost?: string;
    /** Bring-your-own Receiver token; undefined means generate one (with a webhook host). */
    readonly webhookSecret?: pulumi.Output<string>;
    /** Provider + Alert pairs, each with its credential from `fluxNotificationSecrets`. */
    readonly notifications: readonly FluxNotification[];
    /** Image automation; undefined when off. `path` is the functions file's directory in the repository. */
    readonly imageAutomation?: { readonly path: string };
}

/** The validated configuration of one stack: everything environment-specific, in one typed object. */
export interface PlatformConfig {
    readonly stack: string;
    readonly ingress: {
        /** Public host name of the gateway; undefined: no host rule, reach it through Envoy's address. */
        readonly domain?: string;
        readonly envoyServiceType: EnvoyServiceType;
        readonly httpNodePort?: number;
        readonly httpsNodePort?: number;
    };
    readonly tls: {
        readonly issuer: TlsIssuer;
        readonly acmeEmail?: string;
    };
    readonly openfaas: {
        readonly gatewayReplicas: number;
        readonly queueWorkerReplicas: number;
        readonly adminUser: string;
        /** Supplied admin password; undefined means generate one. */
        readonly adminPassword?: pulumi.Output<string>;
        /** OpenFaaS Pro licence; its presence switches Pro mode (operator, Function CRs) on. */
        readonly proLicense?: pulumi.Output<string>;
        /** The `basic-auth` Secret comes from a committed SealedSecret instead of Pulumi. */
        readonly basicAuthFromSealedSecret: boolean;
    };
    readonly sealedSecrets: {
        /** Bring-your-own sealing key (migration); undefined means generate one in Pulumi state. */
        readonly key?: { readonly privateKeyPem: pulumi.Output<string>; readonly certPem: string };
        readonly certValidityDays: number;
        /** The committed SealedSecrets (`sealedSecretsDir`), applied after the controller. */
        readonly manifests: readonly SealedSecretFile[];
    };
    readonly charts: Readonly<Record<ChartName, ChartSource>>;
    readonly networkPolicies: boolean;
    /** The functions of `functionsFile` with this stack's overrides applied (schedules emptied when off). */
    readonly functions: readonly FunctionDef[];
    /** The reconcile agent; undefined when the stack has no `agent` map. */
    readonly agent?: AgentConfig;
    /** Flux; undefined when the stack has no `flux` map. */
    readonly flux?: FluxConfig;
}

/** One thing wrong with a stack's configuration. */
export interface ConfigProblem {
    /** Fully qualified key, e.g. `openfaas-gitops:gatewayReplicas`, or a place in the functions file. */
    readonly key: string;
    /** The offending value as given (secrets are shown as `[secret]`), or undefined when missing or not a single value. */
    readonly value?: string;
    /** What was expected, and how to fix it. */
    readonly expected: string;
}

/**
 * Thrown before any resource is declared; lists every problem at once. A `RunError`, so the engine
 * prints the message alone, without a stack trace. The stack is `stackName`: a field named `stack`
 * would shadow `Error.stack`, and the engine would print that field instead of the message.
 */
export class ConfigError extends pulumi.RunError {
    constructor(public readonly stackName: string, public readonly problems: readonly ConfigProblem[]) {
        super(
            `Stack "${stackName}" has ${problems.length} configuration problem${problems.length === 1 ? "" : "s"}; nothing was created:\n` +
                problems
                    .map((p) => `  - ${p.key}${p.value === undefined ? "" : ` = ${JSON.stringify(p.value)}`}: ${p.expected}`)
                    .join("\n"),
        );
        this.name = "ConfigError";
    }
}

/** Raw stack config as the engine hands it over: every value a string, plus which keys are secret. */
export interface RawConfig {
    readonly stack: string;
    /** Values by short key (without the `openfaas-gitops:` namespace). */
    readonly values: Readonly<Record<string, string>>;
    /** Short keys whose value is a Pulumi secret. */
    readonly secretKeys: ReadonlySet<string>;
    /** The project's files (functions file, sealed secrets). @default the current directory */
    readonly files?: ProjectFiles;
}

/** Read access to the project's files, by path relative to the project root. */
export interface ProjectFiles {
    read(relativePath: string): string;
    /** File names in a directory; [] when it does not exist. */
    list(relativeDir: string): string[];
}

/** The project files under a directory (the engine runs the program in the project root). */
export function projectFiles(dir: string): ProjectFiles {
    return {
        read: (rel) => fs.readFileSync(path.resolve(dir, rel), "utf8"),
        list: (rel) => (fs.existsSync(path.resolve(dir, rel)) ? fs.readdirSync(path.resolve(dir, rel)).sort() : []),
    };
}

const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
const EXACT_VERSION = /^v?\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$/;

/** Collects problems while reading typed values, so one run reports all of them. */
class Reader {
    readonly problems: ConfigProblem[] = [];
    private readonly seen = new Set<string>();

    constructor(private readonly raw: RawConfig) {}

    fq(key: string): string {
        return `${PROJECT}:${key}`;
    }

    private shown(key: string, value: string): string {
        return this.raw.secretKeys.has(key) ? "[secret]" : value;
    }

    /** A problem located in a file rather than under a config key. */
    at(location: string, expected: string): void {
        this.problems.push({ key: location, expected });
    }

    problem(key: string, expected: string, value?: string): void {
        this.problems.push({ key: this.fq(key), value: value === undefined ? undefined : this.shown(key, value), expected });
    }

    /** The raw string, or undefined when unset; an empty string counts as unset. */
    get(key: ConfigKey): string | undefined {
        this.seen.add(key);
        const v = this.raw.values[key];
        return v === undefined || v === "" ? undefined : v;
    }

    string(key: ConfigKey, def: string, check?: (v: string) => string | undefined): string {
        const v = this.get(key);
        if (v === undefined) return def;
        const err = check?.(v);
        if (err) this.problem(key, err, v);
        return v;
    }

    optString(key: ConfigKey, check?: (v: string) => string | undefined): string | undefined {
        const v = this.get(key);
        if (v === undefined) return undefined;
        const err = check?.(v);
        if (err) this.problem(key, err, v);
        return v;
    }

    /** An optional integer; `unsetValue` is the value Pulumi.yaml declares as its default, meaning "not set". */
    optInt(key: ConfigKey, min: number, max: number, unsetValue?: number): number | undefined {
        const v = this.get(key);
        if (v === undefined || (unsetValue !== undefined && v.trim() === String(unsetValue))) return undefined;
        const n = Number(v);
        if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
            this.problem(key, `expected an integer from ${min} to ${max}`, v);
            return undefined;
        }
        return n;
    }

    int(key: ConfigKey, def: number, min: number, max: number): number {
        return this.optInt(key, min, max) ?? def;
    }

    bool(key: ConfigKey, def: boolean): boolean {
        const v = this.get(key);
        if (v === undefined) return def;
        if (v === "true") return true;
        if (v === "false") return false;
        this.problem(key, "expected a boolean: true or false", v);
        return def;
    }

    oneOf<T extends string>(key: ConfigKey, values: readonly T[], def: T): T {
        const v = this.get(key);
        if (v === undefined) return def;
        if ((values as readonly string[]).includes(v)) return v as T;
        this.problem(key, `expected one of ${values.join(" | ")}`, v);
        return def;
    }

    /** A value that must have been stored with `--secret`. */
    secret(key: ConfigKey, check?: (v: string) => string | undefined): pulumi.Output<string> | undefined {
        const v = this.get(key);
        if (v === undefined) return undefined;
        if (!this.raw.secretKeys.has(key)) {
            // Never echo it: it is a credential stored in plain text in the stack file.
            this.problem(key, `must be a secret; remove it and run: pulumi config set --secret ${key} <value>`, "[plaintext value hidden]");
            return undefined;
        }
        const err = check?.(v);
        if (err) this.problem(key, err, v);
        return pulumi.secret(v);
    }

    /** A structured value (YAML map in the stack file, JSON over the wire). */
    object(key: ConfigKey): Record<string, unknown> | undefined {
        const v = this.get(key);
        if (v === undefined) return undefined;
        let parsed: unknown;
        try {
            parsed = JSON.parse(v);
        } catch {
            this.problem(key, "expected a map (YAML object in the stack file)", v);
            return undefined;
        }
        if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
            this.problem(key, "expected a map (YAML object in the stack file)", v);
            return undefined;
        }
        return parsed as Record<string, unknown>;
    }

    /** Keys in our namespace that nothing reads: almost always a typo. */
    unknownKeys(): void {
        for (const key of Object.keys(this.raw.values)) {
            if (this.seen.has(key)) continue;
            const near = closest(key, Object.keys(CONFIG_KEYS));
            this.problem(key, `unknown key${near ? `; did you mean ${this.fq(near)}?` : ""} (see the README's config reference)`, this.raw.values[key]);
        }
    }
}

/** The known key nearest to a typo, if it is near enough to be a useful hint. */
function closest(word: string, candidates: readonly string[]): string | undefined {
    const distance = (a: string, b: string): number => {
        const row = Array.from({ length: b.length + 1 }, (_, i) => i);
        for (let i = 1; i <= a.length; i++) {
            let prev = row[0]!;
            row[0] = i;
            for (let j = 1; j <= b.length; j++) {
                const cur = row[j]!;
                row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1));
                prev = cur;
            }
        }
        return row[b.length]!;
    };
    let best: { c: string; d: number } | undefined;
    for (const c of candidates) {
        const d = distance(word, c);
        if (!best || d < best.d) best = { c, d };
    }
    return best && best.d <= Math.max(2, Math.floor(word.length / 4)) ? best.c : undefined;
}

function checkDomain(v: string): string | undefined {
    return DNS_SUBDOMAIN.test(v) && v.includes(".")
        ? undefined
        : "expected a fully qualified DNS name in lower case, e.g. openfaas.example.com (no scheme, no port)";
}

function checkEmail(v: string): string | undefined {
    return EMAIL.test(v) ? undefined : "expected an e-mail address for the Let's Encrypt account, e.g. ops@example.com";
}

function checkAdminUser(v: string): string | undefined {
    return /^[A-Za-z0-9._-]{1,64}$/.test(v) ? undefined : "expected 1-64 characters of A-Z a-z 0-9 . _ - (it is a basic-auth user name, so no ':')";
}

function checkPassword(v: string): string | undefined {
    return v.length >= 16 ? undefined : "expected at least 16 characters; or unset it and a random one is generated";
}

/** Reads the `charts` override map: `{ <chart>: { repo?, version?, path? } }`. */
function readCharts(r: Reader): Record<ChartName, ChartSource> {
    const charts: Record<ChartName, ChartSource> = { ...CHARTS };
    const given = r.object("charts");
    if (!given) return charts;
    for (const [name, override] of Object.entries(given)) {
        const key = `charts.${name}`;
        if (!(CHART_NAMES as string[]).includes(name)) {
            r.problem(key, `unknown chart; expected one of ${CHART_NAMES.join(", ")}`, JSON.stringify(override));
            continue;
        }
        if (override === null || typeof override !== "object" || Array.isArray(override)) {
            r.problem(key, "expected a map with repo, version and/or path", JSON.stringify(override));
            continue;
        }
        const src: { -readonly [K in keyof ChartSource]: ChartSource[K] } = { ...charts[name as ChartName] };
        for (const [field, value] of Object.entries(override as Record<string, unknown>)) {
            const fkey = `${key}.${field}`;
            if (typeof value !== "string" || value === "") {
                r.problem(fkey, "expected a non-empty string", JSON.stringify(value));
                continue;
            }
            if (field === "repo") {
                if (!/^(https|oci):\/\/\S+$/.test(value)) r.problem(fkey, "expected an https:// or oci:// chart repository URL", value);
                src.repo = value;
            } else if (field === "version") {
                if (!EXACT_VERSION.test(value)) r.problem(fkey, "expected an exact chart version such as 1.2.3 (ranges are not allowed: every apply must render the same objects)", value);
                src.version = value;
            } else if (field === "path") {
                src.path = value;
            } else {
                r.problem(fkey, "unknown field; expected repo, version or path", value);
            }
        }
        charts[name as ChartName] = src;
    }
    return charts;
}

/** Checks a bring-your-own sealing key pair (model/sealing-key.ts has the rule). */
function checkSealingKey(r: Reader, keyPem: string, certPem: string, now: Date): void {
    for (const p of keyPairProblems(keyPem, certPem, now)) {
        if (p.part === "key") r.problem("sealingKeyPem", p.expected, keyPem);
        else r.problem("sealingCertPem", p.expected, certPem.slice(0, 40) + "...");
    }
}

/**
 * Pure: validates raw stack config into a {@link PlatformConfig}. Throws one {@link ConfigError}
 * listing every problem, so nothing is declared from a half-valid configuration.
 */
export function parseConfig(raw: RawConfig, now: Date = new Date()): PlatformConfig {
    const r = new Reader(raw);

    const domain = r.optString("domain", checkDomain);
    const envoyServiceType = r.oneOf("envoyServiceType", ENVOY_SERVICE_TYPES, "LoadBalancer");
    // 0 = let Kubernetes assign the port (Pulumi.yaml needs a default for an optional integer).
    const httpNodePort = r.optInt("envoyHttpNodePort", 30000, 32767, 0);
    const httpsNodePort = r.optInt("envoyHttpsNodePort", 30000, 32767, 0);
    if (envoyServiceType !== "NodePort") {
        const ports = { envoyHttpNodePort: httpNodePort, envoyHttpsNodePort: httpsNodePort };
        for (const [key, port] of Object.entries(ports)) {
            if (port !== undefined) r.problem(key, "node ports apply only with envoyServiceType NodePort; remove it or set envoyServiceType: NodePort", String(port));
        }
    }
    if (httpNodePort !== undefined && httpNodePort === httpsNodePort) {
        r.problem("envoyHttpsNodePort", "must differ from envoyHttpNodePort", String(httpsNodePort));
    }

    const issuer = r.oneOf("tlsIssuer", TLS_ISSUERS, "none");
    const acmeEmail = r.optString("acmeEmail", checkEmail);
    if (issuer !== "none") {
        if (acmeEmail === undefined) r.problem("acmeEmail", `required when tlsIssuer is ${issuer}: Let's Encrypt needs an account e-mail`);
        if (domain === undefined) r.problem("domain", `required when tlsIssuer is ${issuer}: the certificate is issued for this host`);
    }

    const gatewayReplicas = r.int("gatewayReplicas", 1, 1, 20);
    const queueWorkerReplicas = r.int("queueWorkerReplicas", 1, 1, 20);
    const adminUser = r.string("adminUser", "admin", checkAdminUser);
    const adminPassword = r.secret("adminPassword", checkPassword);
    const proLicense = r.secret("proLicense");

    const keyPemRaw = r.get("sealingKeyPem");
    const certPem = r.optString("sealingCertPem");
    const keyPem = r.secret("sealingKeyPem");
    if ((keyPemRaw === undefined) !== (certPem === undefined)) {
        r.problem(keyPemRaw === undefined ? "sealingKeyPem" : "sealingCertPem", "sealingKeyPem and sealingCertPem go together: set both (bring your own key) or neither (generate one)");
    } else if (keyPemRaw !== undefined && certPem !== undefined && keyPem) {
        checkSealingKey(r, keyPemRaw, certPem, now);
    }
    const certValidityDays = r.int("sealingCertValidityDays", 3650, 30, 36500);
    const manifests = readSealedSecrets(r, raw);
    const basicAuthFromSealedSecret = r.bool("basicAuthFromSealedSecret", false);
    if (basicAuthFromSealedSecret) {
        const pw = r.get("adminPassword");
        if (pw !== undefined) r.problem("adminPassword", "conflicts with basicAuthFromSealedSecret: the password is in the SealedSecret; unset one of them", pw);
        const found = manifests.some((m) => m.object.metadata.name === "basic-auth" && m.object.metadata.namespace === "openfaas");
        if (!found) {
            r.problem("basicAuthFromSealedSecret", `no SealedSecret basic-auth in namespace openfaas under sealedSecretsDir; create it with: npm run -s seal -- --stack ${raw.stack} --name basic-auth -n openfaas --from-literal basic-auth-user=admin --from-file basic-auth-password=<file> -w secrets/${raw.stack}/basic-auth.yaml`, "true");
        }
    }

    const charts = readCharts(r);
    const networkPolicies = r.bool("networkPolicies", true);
    const functions = readFunctions(r, raw, proLicense !== undefined || r.get("proLicense") !== undefined);
    const agent = readAgent(r);
    const flux = readFlux(r, agent, raw, functions);

    r.unknownKeys();
    if (r.problems.length > 0) throw new ConfigError(raw.stack, r.problems);

    return {
        stack: raw.stack,
        ingress: { domain, envoyServiceType, httpNodePort, httpsNodePort },
        tls: { issuer, acmeEmail },
        openfaas: { gatewayReplicas, queueWorkerReplicas, adminUser, adminPassword, proLicense, basicAuthFromSealedSecret },
        sealedSecrets: {
            key: keyPem && certPem ? { privateKeyPem: keyPem, certPem } : undefined,
            certValidityDays,
            manifests,
        },
        charts,
        networkPolicies,
        functions,
        agent,
        flux,
    };
}

const AGENT_FIELDS: Record<string, "string" | "boolean" | "integer"> = {
    image: "string", repoUrl: "string", branch: "string", projectPath: "string", githubRepository: "string", deployKeyWrite: "boolean",
    webhookHost: "string", pollIntervalSeconds: "integer", driftIntervalSeconds: "integer", driftMode: "string", backendUrl: "string",
    secretsProvider: "string", clusterAdmin: "boolean", suspend: "boolean",
};

/** A generated-or-supplied token: long enough that guessing it is hopeless, and safe in a header. */
function checkToken(v: string): string | undefined {
    return /^[\x21-\x7e]{24,}$/.test(v) ? undefined : "expected at least 24 printable characters without spaces; or unset it and one is generated";
}

/** Reads the `agent` map and its secrets `agentDeployKey`, `agentSyncToken`, `agentWebhookSecret` and `agentEngineEnv`. */
function readAgent(r: Reader): AgentConfig | undefined {
    const a = r.object("agent");
    const deployKey = r.secret("agentDeployKey", (v) => (/^-----BEGIN OPENSSH PRIVATE KEY-----/.test(v.trim()) ? undefined : "expected an OpenSSH private key (-----BEGIN OPENSSH PRIVATE KEY-----)"));
    const syncToken = r.secret("agentSyncToken", checkToken);
    const webhookSecret = r.secret("agentWebhookSecret", checkToken);
    let engineEnv: pulumi.Output<Record<string, string>> | undefined;
    const envRaw = r.get("agentEngineEnv");
    const envSecret = r.secret("agentEngineEnv");
    if (envRaw !== undefined && envSecret) {
        let parsed: unknown;
        try {
            parsed = JSON.parse(envRaw);
        } catch {
            parsed = undefined;
        }
        if (!parsed || typeof parsed !== "object" || Array.isArray(parsed) || !Object.entries(parsed).every(([k, v]) => /^[A-Z_][A-Z0-9_]*$/.test(k) && typeof v === "string")) {
            r.problem("agentEngineEnv", 'expected a JSON object of environment variables, e.g. {"PULUMI_CONFIG_PASSPHRASE":"..."}', envRaw);
        } else {
            engineEnv = pulumi.secret(parsed as Record<string, string>);
        }
    }
    if (!a) {
        if (deployKey || syncToken || webhookSecret || engineEnv) {
            r.problem("agent", "agentDeployKey, agentSyncToken, agentWebhookSecret and agentEngineEnv need the agent map; add openfaas-gitops:agent with at least image and repoUrl");
        }
        return undefined;
    }
    const key = (f: string) => `agent.${f}`;
    for (const [f, v] of Object.entries(a)) {
        const t = AGENT_FIELDS[f];
        if (!t) r.problem(key(f), `unknown field; expected ${Object.keys(AGENT_FIELDS).join(", ")}`, JSON.stringify(v));
        else if (t === "integer" ? !Number.isInteger(v) : typeof v !== t) r.problem(key(f), `expected ${t === "integer" ? "an integer" : `a ${t}`}`, JSON.stringify(v));
    }
    const str = (f: string) => (typeof a[f] === "string" && a[f] !== "" ? (a[f] as string) : undefined);
    const int = (f: string, def: number, min: number, max: number) => {
        const v = a[f];
        if (v === undefined) return def;
        if (!Number.isInteger(v) || (v as number) < min || (v as number) > max) {
            if (Number.isInteger(v)) r.problem(key(f), `expected an integer from ${min} to ${max}`, String(v));
            return def;
        }
        return v as number;
    };
    const image = str("image");
    if (!image) r.problem(key("image"), "required: the agent image built from agent/Dockerfile, pinned, e.g. ghcr.io/acme/openfaas-gitops-agent:0.1.0");
    else if (imageProblem(image)) r.problem(key("image"), `${imageProblem(image)}; pin a version tag or a digest (@sha256:...)`, image);
    const repoUrl = str("repoUrl");
    if (!repoUrl) r.problem(key("repoUrl"), "required: the git URL the agent follows, e.g. git@github.com:acme/platform.git");
    else if (!/^(ssh:\/\/|[\w.-]+@[\w.-]+:|https:\/\/)/.test(repoUrl)) r.problem(key("repoUrl"), "expected an ssh URL (git@host:org/repo.git) or https://...", repoUrl);
    const githubRepository = str("githubRepository");
    if (githubRepository && !/^[A-Za-z0-9_.-]+$/.test(githubRepository)) r.problem(key("githubRepository"), "expected the repository name only (the owner comes from github:owner)", githubRepository);
    if (githubRepository && deployKey) r.problem("agentDeployKey", "cannot be registered on GitHub by this program (it needs the public half); register it yourself and unset agent.githubRepository, or unset agentDeployKey to have one generated and registered");
    const webhookHost = str("webhookHost");
    if (webhookHost && !DNS_SUBDOMAIN.test(webhookHost)) r.problem(key("webhookHost"), "expected a DNS name in lower case", webhookHost);
    if (webhookSecret && !webhookHost) r.problem("agentWebhookSecret", "is used only with agent.webhookHost (the webhook is off without it); set agent.webhookHost or unset agentWebhookSecret");
    const driftMode = a.driftMode ?? "correct";
    if (driftMode !== "correct" && driftMode !== "report") r.problem(key("driftMode"), "expected correct | report", String(driftMode));
    return {
        image: image ?? "",
        repoUrl: repoUrl ?? "",
        branch: str("branch") ?? "main",
        projectPath: str("projectPath") ?? ".",
        githubRepository,
        deployKeyWrite: a.deployKeyWrite === true,
        webhookHost,
        pollIntervalSeconds: int("pollIntervalSeconds", 60, 5, 86400),
        driftIntervalSeconds: int("driftIntervalSeconds", 600, 0, 604800),
        driftMode: driftMode as "correct" | "report",
        suspend: a.suspend === true,
        backendUrl: str("backendUrl"),
        secretsProvider: str("secretsProvider"),
        clusterAdmin: a.clusterAdmin !== false,
        deployKey,
        syncToken,
        webhookSecret,
        engineEnv,
    };
}

const FLUX_FIELDS: Record<string, "string" | "boolean" | "list"> = {
    namespace: "string", interval: "string", kustomizeController: "boolean", helmController: "boolean", webhookHost: "string", notifications: "list",
    imageAutomation: "boolean",
};
const NOTIFICATION_FIELDS = ["name", "type", "channel", "severity"];
/** A Flux duration as its CRDs accept it (Go's time.ParseDuration units, no fractions). */
const FLUX_DURATION = /^([0-9]+(ms|s|m|h))+$/;

/** Reads the `flux` map and its secret `fluxWebhookSecret`; Flux follows the agent's repository with the agent's deploy key. */
function readFlux(r: Reader, agent: AgentConfig | undefined, raw: RawConfig, functions: readonly FunctionDef[]): FluxConfig | undefined {
    const f = r.object("flux");
    const webhookSecret = r.secret("fluxWebhookSecret", checkToken);
    if (!f) {
        if (webhookSecret) r.problem("fluxWebhookSecret", "is used only with the flux map and flux.webhookHost; add them or unset fluxWebhookSecret");
        if (r.get("fluxNotificationSecrets") !== undefined) r.problem("fluxNotificationSecrets", "is used only with the flux map and flux.notifications; add them or unset fluxNotificationSecrets");
        return undefined;
    }
    if (!agent) r.problem("flux", "needs the agent map: Flux follows agent.repoUrl and agent.branch with the agent's deploy key; add openfaas-gitops:agent");
    const key = (field: string) => `flux.${field}`;
    for (const [field, v] of Object.entries(f)) {
        const t = FLUX_FIELDS[field];
        if (!t) r.problem(key(field), `unknown field; expected ${Object.keys(FLUX_FIELDS).join(", ")}`, JSON.stringify(v));
        else if (t === "list" ? !Array.isArray(v) : typeof v !== t) r.problem(key(field), `expected a ${t}`, JSON.stringify(v));
    }
    const str = (field: string) => (typeof f[field] === "string" && f[field] !== "" ? (f[field] as string) : undefined);
    const notifications = readNotifications(r, Array.isArray(f.notifications) ? f.notifications : [], agent?.repoUrl);
    const namespace = str("namespace") ?? "flux-system";
    if (!DNS_LABEL.test(namespace)) r.problem(key("namespace"), "expected a namespace name (DNS-1123 label)", namespace);
    const interval = str("interval") ?? "1m";
    if (!FLUX_DURATION.test(interval)) r.problem(key("interval"), "expected a Flux duration such as 30s, 1m or 1h", interval);
    const webhookHost = str("webhookHost");
    if (webhookHost && !DNS_SUBDOMAIN.test(webhookHost)) r.problem(key("webhookHost"), "expected a DNS name in lower case", webhookHost);
    // One host per certificate: the agent's Ingress and Flux's live in different namespaces, each with its own TLS Secret.
    if (webhookHost && webhookHost === agent?.webhookHost) r.problem(key("webhookHost"), "must differ from agent.webhookHost (each Ingress gets its own certificate); use another host, or unset agent.webhookHost since the Receiver replaces the agent's webhook", webhookHost);
    if (webhookSecret && !webhookHost) r.problem("fluxWebhookSecret", "is used only with flux.webhookHost (the Receiver is off without it); set flux.webhookHost or unset fluxWebhookSecret");
    let imageAutomation: FluxConfig["imageAutomation"];
    if (f.imageAutomation === true) {
        // Pushing needs the deploy key (with write access); a token for https pushes is not modelled.
        if (agent && !isSshUrl(agent.repoUrl)) r.problem(key("imageAutomation"), `pushes tag commits with the deploy key, so agent.repoUrl must be an ssh URL, not ${agent.repoUrl}`, "true");
        const file = r.string("functionsFile", "functions/stack.yml");
        checkSetterMarkers(r, raw, file, namespace, functions);
        const dir = path.posix.join(agent?.projectPath ?? ".", path.posix.dirname(file));
        imageAutomation = { path: dir === "." ? "./" : `./${dir}` };
    }
    return {
        namespace,
        interval,
        kustomizeController: f.kustomizeController === true,
        helmController: f.helmController === true,
        webhookHost,
        webhookSecret,
        notifications,
        imageAutomation,
    };
}

/**
 * Each function with an imagePolicy must carry Flux's setter marker on its image line, or the
 * automation would never update it: `image: <ref> # {"$imagepolicy": "<flux namespace>:<function>"}`.
 */
function checkSetterMarkers(r: Reader, raw: RawConfig, file: string, namespace: string, functions: readonly FunctionDef[]): void {
    let text: string;
    try {
        text = (raw.files ?? projectFiles(process.cwd())).read(file);
    } catch {
        return; // readFunctions reported it
    }
    const lines = text.split("\n");
    for (const fn of functions.filter((f) => f.imagePolicy)) {
        const marker = setterMarker(namespace, fn.name);
        const marked = lines.filter((l) => /^\s*image:\s*\S+\s+#/.test(l) && l.trimEnd().endsWith(marker));
        if (marked.length !== 1) {
            r.at(`${file} functions.${fn.name}.image`, `${marked.length === 0 ? "has no" : "has more than one"} Flux setter marker; end the image line with ${marker} (flux.imageAutomation commits new tags only on marked lines)`);
        }
    }
}

/**
 * Reads `flux.notifications` and their credentials from the secret `fluxNotificationSecrets`, a JSON
 * object of notification name to webhook URL (or, for `github`, a token allowed to set commit statuses).
 */
function readNotifications(r: Reader, list: unknown[], repoUrl: string | undefined): FluxNotification[] {
    const secretsRaw = r.get("fluxNotificationSecrets");
    const secretsOk = r.secret("fluxNotificationSecrets") !== undefined;
    let secrets: Record<string, unknown> = {};
    if (secretsRaw !== undefined && secretsOk) {
        let parsed: unknown;
        try {
            parsed = JSON.parse(secretsRaw);
        } catch {
            parsed = undefined;
        }
        if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) secrets = parsed as Record<string, unknown>;
        else r.problem("fluxNotificationSecrets", 'expected a JSON object of notification name to webhook URL or token, e.g. {"ops-slack":"https://hooks.slack.com/services/..."}', secretsRaw);
    }
    const out: FluxNotification[] = [];
    const names = new Set<string>();
    list.forEach((item, i) => {
        const at = (field?: string) => `flux.notifications[${i}]${field ? `.${field}` : ""}`;
        if (!item || typeof item !== "object" || Array.isArray(item)) {
            r.problem(at(), "expected a map with name and type", JSON.stringify(item));
            return;
        }
        const n = item as Record<string, unknown>;
        for (const field of Object.keys(n)) if (!NOTIFICATION_FIELDS.includes(field)) r.problem(at(field), `unknown field; expected ${NOTIFICATION_FIELDS.join(", ")}`, JSON.stringify(n[field]));
        const name = typeof n.name === "string" ? n.name : "";
        if (!DNS_LABEL.test(name)) r.problem(at("name"), "required: a DNS-1123 label naming the Provider and Alert, e.g. ops-slack", JSON.stringify(n.name));
        else if (names.has(name)) r.problem(at("name"), "another notification has this name", name);
        names.add(name);
        const type = n.type as FluxNotification["type"];
        if (!(NOTIFICATION_TYPES as readonly unknown[]).includes(type)) r.problem(at("type"), `expected one of ${NOTIFICATION_TYPES.join(" | ")}`, JSON.stringify(n.type));
        if (n.channel !== undefined && (type !== "slack" || typeof n.channel !== "string")) r.problem(at("channel"), "a channel name (string) applies to slack only", JSON.stringify(n.channel));
        const severity = n.severity ?? "info";
        if (severity !== "info" && severity !== "error") r.problem(at("severity"), "expected info (everything) | error (failures only)", JSON.stringify(n.severity));
        if (type === "github" && repoUrl && !githubRepositoryAddress(repoUrl)) r.problem(at("type"), `github commit status needs agent.repoUrl on github.com, not ${repoUrl}`, "github");
        const secret = secrets[name];
        if (secretsOk || secretsRaw === undefined) {
            if (typeof secret !== "string" || secret === "") {
                r.problem("fluxNotificationSecrets", `has no ${type === "github" ? "token" : "webhook URL"} for notification ${name}; run: pulumi config set --secret --path 'fluxNotificationSecrets.${name}' <value>`);
            } else if (type !== "github" && !/^https:\/\/\S+$/.test(secret)) {
                r.problem("fluxNotificationSecrets", `the value for ${name} must be the https:// webhook URL of the ${type} channel`, "[secret]");
            }
        }
        out.push({ name, type, channel: typeof n.channel === "string" ? n.channel : undefined, severity: severity as "info" | "error", secret: pulumi.secret(typeof secret === "string" ? secret : "") });
    });
    for (const extra of Object.keys(secrets).filter((k) => !names.has(k))) {
        r.problem("fluxNotificationSecrets", `has a value for ${extra}, which is no entry of flux.notifications; remove it or add the notification`);
    }
    return out;
}

/** Reads every SealedSecret manifest under `sealedSecretsDir`; a malformed file is a problem naming its path. */
function readSealedSecrets(r: Reader, raw: RawConfig): SealedSecretFile[] {
    // Per stack by default: each stack has its own sealing key, so its secrets are sealed for it alone.
    const dir = r.string("sealedSecretsDir", `secrets/${raw.stack}`);
    const files = raw.files ?? projectFiles(process.cwd());
    const out: SealedSecretFile[] = [];
    const seen = new Map<string, string>();
    for (const name of files.list(dir).filter(isManifestFile)) {
        const file = `${dir}/${name}`;
        const parsed = parseSealedSecretFile(files.read(file), file);
        for (const p of parsed.problems) r.at(p.slice(0, p.indexOf(":")), p.slice(p.indexOf(":") + 2));
        for (const o of parsed.objects) {
            const id = `${o.object.metadata.namespace}/${o.object.metadata.name}`;
            if (seen.has(id)) r.at(o.file, `SealedSecret ${id} is also defined in ${seen.get(id)}; keep one (npm run -s seal -- --merge-into merges keys)`);
            seen.set(id, o.file);
            out.push(o);
        }
    }
    return out;
}

/** Reads `functionsFile` and applies the `functions` overrides and the `schedules` switch. */
function readFunctions(r: Reader, raw: RawConfig, pro: boolean): FunctionDef[] {
    const file = r.string("functionsFile", "functions/stack.yml");
    const overrides = r.object("functions") ?? {};
    const schedules = r.bool("schedules", true);
    const env = readFunctionsEnv(r);
    const files = raw.files ?? projectFiles(process.cwd());
    let text: string;
    try {
        text = files.read(file);
    } catch (e) {
        r.problem("functionsFile", `cannot read it (${(e as NodeJS.ErrnoException).code ?? String(e)}); give a path relative to the project root`, file);
        return [];
    }
    const parsed = parseStackYml(text, file, { env, readFile: (rel) => files.read(rel) });
    const applied = applyOverrides(parsed.functions, overrides, { pro, schedules, file, configKey: r.fq("functions") });
    for (const p of [...parsed.problems, ...applied.problems]) r.at(p.key, p.expected);
    return applied.functions;
}

/** Reads `functionsEnv`, the values of `${VAR}` in the functions file: a map of names to strings. */
function readFunctionsEnv(r: Reader): Record<string, string> {
    const given = r.object("functionsEnv") ?? {};
    const env: Record<string, string> = {};
    for (const [name, value] of Object.entries(given)) {
        if (!/^[A-Za-z0-9_]+$/.test(name)) r.problem(`functionsEnv.${name}`, "expected a variable name of letters, digits and _ (what ${NAME} can refer to)");
        else if (typeof value !== "string") r.problem(`functionsEnv.${name}`, "expected a string; quote numbers and booleans so they are substituted as written", JSON.stringify(value));
        else env[name] = value;
    }
    return env;
}

/**
 * The SDK knows which keys are secret but marks the function @internal; without it a secret
 * supplied correctly would be refused as plaintext, so fail loudly if an upgrade removes it.
 */
function isConfigSecret(fqKey: string): boolean {
    const fn = (pulumi.runtime as unknown as { isConfigSecret?: (k: string) => boolean }).isConfigSecret;
    if (typeof fn !== "function") throw new Error("@pulumi/pulumi no longer exposes runtime.isConfigSecret; pin the version in package.json");
    return fn(fqKey);
}

/** Reads this program's namespace out of the running engine's config. */
export function rawConfigFromRuntime(): RawConfig {
    const prefix = `${PROJECT}:`;
    const values: Record<string, string> = {};
    const secretKeys = new Set<string>();
    for (const [fq, value] of Object.entries(pulumi.runtime.allConfig())) {
        if (!fq.startsWith(prefix)) continue;
        const key = fq.slice(prefix.length);
        values[key] = value;
        if (isConfigSecret(fq)) secretKeys.add(key);
    }
    return { stack: pulumi.getStack(), values, secretKeys, files: projectFiles(process.cwd()) };
}
