/** The stack config keys this program reads: names, types (as Pulumi.yaml declares them), which are secret. */

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
    crds: "string",
    networkPolicies: "boolean",
    previewIdentity: "boolean",
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
    agentGitHubToken: "string",
    flux: "object",
    fluxWebhookSecret: "string",
    fluxNotificationSecrets: "string",
} as const;
export type ConfigKey = keyof typeof CONFIG_KEYS;

/** Keys whose value must be stored encrypted (`pulumi config set --secret`). */
export const SECRET_CONFIG_KEYS: ReadonlySet<ConfigKey> = new Set<ConfigKey>([
    "adminPassword", "proLicense", "sealingKeyPem", "agentDeployKey", "agentSyncToken", "agentWebhookSecret", "agentEngineEnv", "agentGitHubToken", "fluxWebhookSecret", "fluxNotificationSecrets",
]);
