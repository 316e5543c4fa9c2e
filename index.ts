import * as pulumi from "@pulumi/pulumi";
import { applyChartCrds } from "./components/crds";
import { parseConfig, rawConfigFromRuntime } from "./config";
import { buildPlatform, clusterProvider, PlatformOutputs, stackCharts } from "./platform";

// Validate every key before declaring anything: a bad stack fails whole, never half-applied.
const cfg = parseConfig(rawConfigFromRuntime());
const kubernetes = clusterProvider();
// The charts' CRDs before any object (docs/crds.md): a failed CRD step declares nothing.
const platform = (cfg.crds === "apply"
    ? applyChartCrds({ charts: stackCharts(cfg), provider: kubernetes, dryRun: pulumi.runtime.isDryRun(), log: { info: (m) => pulumi.log.info(m), warn: (m) => pulumi.log.warn(m) } })
    : Promise.resolve()
).then(() => buildPlatform(cfg, kubernetes));
/** One output of the platform, keeping its own secrecy (a whole-object output would make every one secret). */
const out = <K extends keyof PlatformOutputs>(k: K) => pulumi.output(platform.then((p) => p[k]));

export const gatewayUrl = out("gatewayUrl");
export const adminUser = out("adminUser");
export const adminPassword = out("adminPassword");
export const sealingCertPem = out("sealingCertPem");
export const namespaces = out("namespaces");
export const agentDeployPublicKey = out("agentDeployPublicKey");
export const agentWebhookUrl = out("agentWebhookUrl");
export const agentSyncToken = out("agentSyncToken");
export const fluxWebhookUrl = out("fluxWebhookUrl");
