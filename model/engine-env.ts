/**
 * Which variables of the agent's environment reach its Pulumi runs, and which proxy settings reach
 * git and npm: one list, which the stack config's `agentEngineEnv` check and the agent's engine
 * environment both use, so a variable the engine would drop is refused before it is deployed.
 */

/**
 * Backend and secrets-provider credentials, by exact name. PULUMI_BACKEND_URL too: a postgres
 * backend's URL holds its password, and agent.backendUrl is a plain value (refused with a password).
 */
const CREDENTIAL_NAMES = ["PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE", "PULUMI_ACCESS_TOKEN", "PULUMI_BACKEND_URL"] as const;
/** Backend and secrets-provider credentials, by family: S3 (and S3-compatible stores), Azure, GCS and KMS, Vault. */
const CREDENTIAL_PREFIXES = ["AWS_", "AZURE_", "ARM_", "GOOGLE_", "VAULT_"] as const;
/**
 * An egress proxy, in both spellings: Go (the CLI, the providers) reads either, curl (git) and npm
 * prefer lower case. Without them a cluster behind an egress proxy cannot reach its state backend.
 */
export const PROXY_ENV_NAMES = ["HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"] as const;

/** The allowed names as a person reads them, for messages and docs. */
export const ENGINE_ENV_NAMES = [...CREDENTIAL_NAMES, ...CREDENTIAL_PREFIXES.map((p) => `${p}*`), ...PROXY_ENV_NAMES].join(", ");

/** Pure: whether a variable of `agentEngineEnv` (or of the agent's environment) reaches an engine run. */
export function engineEnvAllowed(name: string): boolean {
    return (
        (CREDENTIAL_NAMES as readonly string[]).includes(name) ||
        (PROXY_ENV_NAMES as readonly string[]).includes(name) ||
        CREDENTIAL_PREFIXES.some((p) => name.startsWith(p) && /^[A-Z0-9_]+$/.test(name.slice(p.length)))
    );
}

/**
 * Pure: the proxy variables of an environment. With a proxy set, `direct` hosts (the in-cluster
 * apiserver) are added to the no-proxy list, in every spelling given (both when none is), since an
 * egress proxy cannot reach the cluster's own service addresses.
 */
export function proxyEnvironment(env: Readonly<Record<string, string | undefined>>, direct: readonly string[] = []): Record<string, string> {
    const out: Record<string, string> = {};
    for (const k of PROXY_ENV_NAMES) if (env[k]) out[k] = env[k]!;
    const proxied = ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"].some((k) => out[k] !== undefined);
    const hosts = direct.filter((h) => h !== "");
    if (!proxied || hosts.length === 0) return out;
    const spellings = ["NO_PROXY", "no_proxy"].filter((k) => out[k] !== undefined);
    for (const k of spellings.length > 0 ? spellings : ["NO_PROXY", "no_proxy"]) {
        const listed = (out[k] ?? "").split(",").map((h) => h.trim()).filter(Boolean);
        out[k] = [...listed, ...hosts.filter((h) => !listed.includes(h))].join(",");
    }
    return out;
}
