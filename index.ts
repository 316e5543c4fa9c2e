import { parseConfig, rawConfigFromRuntime } from "./config";
import { buildPlatform } from "./platform";

// Validate every key before declaring anything: a bad stack fails whole, never half-applied.
const platform = buildPlatform(parseConfig(rawConfigFromRuntime()));

export const gatewayUrl = platform.gatewayUrl;
export const adminUser = platform.adminUser;
export const adminPassword = platform.adminPassword;
export const sealingCertPem = platform.sealingCertPem;
export const namespaces = platform.namespaces;
export const agentDeployPublicKey = platform.agentDeployPublicKey;
export const agentWebhookUrl = platform.agentWebhookUrl;
export const agentSyncToken = platform.agentSyncToken;
export const fluxWebhookUrl = platform.fluxWebhookUrl;
