/**
 * Reads and validates ALL stack config into one typed object before a single resource is declared.
 * The entry of config/: each section has its own module, this one runs them in order and throws one
 * {@link ConfigError} listing every problem.
 */
import { readAgent } from "./agent";
import { readCharts } from "./charts";
import { CRD_MODES } from "../model/crds";
import { ConfigError } from "./errors";
import { RawConfig } from "./files";
import { readFlux } from "./flux";
import { readFunctions } from "./functions";
import { readIngress, readTls } from "./ingress";
import { readInvoker } from "./invoker";
import { isPro, readOpenFaaS } from "./openfaas";
import { Reader } from "./reader";
import { readSealing } from "./sealing";
import { PlatformConfig } from "./types";

export { ConfigError } from "./errors";
export { ProjectFiles, projectFiles, RawConfig } from "./files";
export { CONFIG_KEYS, ConfigKey, ENVOY_SERVICE_TYPES, EnvoyServiceType, PROJECT, SECRET_CONFIG_KEYS, TLS_ISSUERS, TlsIssuer } from "./keys";
export { rawConfigFromRuntime } from "./runtime";
export { AgentConfig, FluxConfig, PlatformConfig } from "./types";

/**
 * Pure: validates raw stack config into a {@link PlatformConfig}. Throws one {@link ConfigError}
 * listing every problem, so nothing is declared from a half-valid configuration.
 */
export function parseConfig(raw: RawConfig, now: Date = new Date()): PlatformConfig {
    const r = new Reader(raw);
    const ingress = readIngress(r);
    const tls = readTls(r, ingress.domain);
    const sealedSecrets = readSealing(r, raw, now);
    const openfaas = readOpenFaaS(r, raw, sealedSecrets.manifests);
    const charts = readCharts(r);
    const crds = r.oneOf("crds", CRD_MODES, "apply");
    const networkPolicies = r.bool("networkPolicies", true);
    const previewIdentity = r.bool("previewIdentity", false);
    const functions = readFunctions(r, raw, isPro(r));
    const invoker = readInvoker(r, raw);
    const agent = readAgent(r, r.get("flux") !== undefined, previewIdentity);
    const flux = readFlux(r, agent, raw, functions);

    r.unknownKeys();
    if (r.problems.length > 0) throw new ConfigError(raw.stack, r.problems);
    return { stack: raw.stack, ingress, tls, openfaas, sealedSecrets, charts, crds, networkPolicies, previewIdentity, functions, invoker: invoker!, agent, flux }; // no invoker means a problem above
}
