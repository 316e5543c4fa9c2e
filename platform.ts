import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { PlatformConfig } from "./config";
import { CHART_NAMES, ChartName, ChartSource } from "./model/charts";
import { INVOKER_IMAGE_POLICY } from "./config/invoker";
import { CertManager } from "./components/cert-manager";
import { OpenFaaSFunction } from "./components/function";
import { Flux } from "./components/flux/flux";
import { FLUX_SOURCE_NAME } from "./components/flux/shared";
import { AGENT_NAMESPACE, AGENT_POD_SELECTOR, AGENT_SERVICE_ACCOUNT, GitOpsAgent } from "./components/gitops-agent";
import { NetworkPolicies } from "./components/network-policies";
import { FunctionSchedule } from "./components/schedule";
import { Contour } from "./components/contour";
import { PlatformNamespaces } from "./components/namespaces";
import { OpenFaaS } from "./components/openfaas";
import { PreviewIdentity } from "./components/preview-identity";
import { AGENT_DEFAULTS } from "./agent/contract";
import { SealedSecrets } from "./components/sealed-secrets";

/** The stack outputs. */
export interface PlatformOutputs {
    readonly gatewayUrl: pulumi.Output<string>;
    /** Undefined when basic auth comes from a SealedSecret. */
    readonly adminUser: pulumi.Output<string | undefined>;
    /** Secret; undefined when basic auth comes from a SealedSecret. */
    readonly adminPassword: pulumi.Output<string | undefined>;
    readonly sealingCertPem: pulumi.Output<string>;
    readonly namespaces: pulumi.Output<Record<string, string>>;
    /** Public half of the deploy key the program generated (none when the key was brought); with `githubRepository` the program also registers it. */
    readonly agentDeployPublicKey: pulumi.Output<string | undefined>;
    readonly agentWebhookUrl: pulumi.Output<string | undefined>;
    /** Secret: bearer token for the agent's POST /sync. */
    readonly agentSyncToken: pulumi.Output<string | undefined>;
    /** URL to configure as the repository's push webhook for Flux's Receiver (with `flux.webhookHost`). */
    readonly fluxWebhookUrl: pulumi.Output<string | undefined>;
}

/**
 * The one provider of every object, chart contents included, and of the CRD step's rendering. With
 * the default provider, the engine puts a chart's objects on an unversioned default provider at the
 * first update and moves them (deleting that provider) at the next one: noise in the first real
 * change's diff.
 */
export function clusterProvider(): k8s.Provider {
    return new k8s.Provider("kubernetes", {});
}

/**
 * The stack's Flux settings when it installs Flux: with a `flux` map, which config/flux.ts accepts
 * only beside the `agent` map (Flux follows the agent's repository with its key).
 */
function fluxOf(cfg: PlatformConfig): PlatformConfig["flux"] {
    return cfg.agent ? cfg.flux : undefined;
}

/** The charts a stack installs, for the CRD step. */
export function stackCharts(cfg: PlatformConfig): { name: ChartName; source: ChartSource }[] {
    return CHART_NAMES.filter((name) => name !== "flux2" || fluxOf(cfg) !== undefined).map((name) => ({ name, source: cfg.charts[name] }));
}

/**
 * Declares the whole platform from a validated config, on `kubernetes`. Only composition here: the
 * objects are built in components/. The CRDs are not declared: the CRD step applied them (index.ts).
 */
export function buildPlatform(cfg: PlatformConfig, kubernetes: k8s.Provider = clusterProvider()): PlatformOutputs {
    const withClusterProvider = (opts: pulumi.ComponentResourceOptions = {}): pulumi.ComponentResourceOptions => ({ ...opts, providers: [kubernetes] });
    // Functions with a namespace of their own (Pro; config/ refuses it in CE) get it declared here.
    const ownFunctionNamespaces = [...new Set(cfg.functions.flatMap((f) => (f.namespace ? [f.namespace] : [])))].sort();
    const ns = new PlatformNamespaces("platform", { ownFunctionNamespaces }, withClusterProvider());

    const sealed = new SealedSecrets("sealed-secrets", {
        namespace: ns.names.sealedSecrets,
        chart: cfg.charts["sealed-secrets"],
        key: cfg.sealedSecrets.key,
        certValidityDays: cfg.sealedSecrets.certValidityDays,
        manifests: cfg.sealedSecrets.manifests.map((m) => m.object),
        namespaces: ns.byName,
    }, withClusterProvider());

    const contour = new Contour("contour", {
        namespace: ns.names.contour,
        chart: cfg.charts.contour,
        serviceType: cfg.ingress.envoyServiceType,
        httpNodePort: cfg.ingress.httpNodePort,
        httpsNodePort: cfg.ingress.httpsNodePort,
    }, withClusterProvider());

    const tlsIssuer = cfg.tls.issuer === "none" ? undefined : cfg.tls.issuer;
    const certManager = new CertManager("cert-manager", {
        namespace: ns.names.certManager,
        chart: cfg.charts["cert-manager"],
        issuer: tlsIssuer,
        acmeEmail: cfg.tls.acmeEmail,
        ingressClass: contour.ingressClass,
    }, withClusterProvider());
    // The issuer's output, not its name: an Ingress with TLS then waits for its ClusterIssuer.
    const issuerName = tlsIssuer ? certManager.issuerName.apply((n) => n ?? tlsIssuer) : undefined;

    const openfaas = new OpenFaaS("openfaas", {
        namespace: ns.names.core,
        functionNamespace: ns.names.functions,
        multipleNamespaces: ownFunctionNamespaces.length > 0,
        chart: cfg.charts.openfaas,
        gatewayReplicas: cfg.openfaas.gatewayReplicas,
        queueWorkerReplicas: cfg.openfaas.queueWorkerReplicas,
        adminUser: cfg.openfaas.adminUser,
        adminPassword: cfg.openfaas.adminPassword,
        basicAuthFromSealedSecret: cfg.openfaas.basicAuthFromSealedSecret,
        proLicense: cfg.openfaas.proLicense,
        ingressClass: contour.ingressClass,
        domain: cfg.ingress.domain,
        tlsIssuer: issuerName,
    }, withClusterProvider({ dependsOn: cfg.openfaas.basicAuthFromSealedSecret ? [sealed] : [] }));

    const pro = cfg.openfaas.proLicense !== undefined;
    for (const fn of cfg.functions) {
        // Not after OpenFaaS: the CRD step put the Function kind in, the operator reconciles a Function
        // whenever it starts, and a CE function is a Deployment the gateway finds when it asks.
        // Waiting for the chart held the first up for its Services' awaits (about 10 s).
        const namespace = fn.namespace ? ns.ownFunctionNamespaces[fn.namespace]! : ns.names.functions;
        new OpenFaaSFunction(`fn-${fn.name}`, { definition: fn, namespace, pro }, withClusterProvider());
        for (const schedule of fn.schedules) {
            new FunctionSchedule(`fn-${fn.name}-${schedule.name}`, { functionName: fn.name, functionNamespace: fn.namespace, schedule, namespace: ns.names.core, image: cfg.invoker.image }, withClusterProvider());
        }
    }

    if (cfg.networkPolicies) {
        new NetworkPolicies("network-policies", { core: ns.names.core, functions: ns.names.functions, ownFunctionNamespaces: ns.ownFunctionNamespaces }, withClusterProvider());
    }

    // A namespace of its own: previews run unmerged code, which the platform's namespaces must not admit.
    const previewIdentity = cfg.previewIdentity ? new PreviewIdentity("preview-identity", { namespace: AGENT_DEFAULTS.previewNamespace, networkPolicy: cfg.networkPolicies }, withClusterProvider()) : undefined;

    const fluxCfg = fluxOf(cfg);
    const fluxAgent = fluxCfg && cfg.agent?.source === "flux";
    const agent = cfg.agent
        ? new GitOpsAgent("agent", {
              image: cfg.agent.image,
              flux: fluxAgent ? { namespace: fluxCfg.namespace, gitRepository: FLUX_SOURCE_NAME } : undefined,
              repoUrl: cfg.agent.repoUrl,
              branch: cfg.agent.branch,
              projectPath: cfg.agent.projectPath,
              knownHosts: cfg.agent.knownHosts,
              stack: cfg.stack,
              deployKey: cfg.agent.deployKey,
              syncToken: cfg.agent.syncToken,
              webhookSecret: cfg.agent.webhookSecret,
              github: cfg.agent.githubRepository ? { repository: cfg.agent.githubRepository } : undefined,
              // Write access only for image automation, which pushes tag commits with this key.
              deployKeyWrite: cfg.agent.deployKeyWrite || fluxCfg?.imageAutomation !== undefined,
              webhookHost: cfg.agent.webhookHost,
              ingressClass: contour.ingressClass,
              tlsIssuer: issuerName,
              pollIntervalSeconds: cfg.agent.pollIntervalSeconds,
              driftIntervalSeconds: cfg.agent.driftIntervalSeconds,
              driftMode: cfg.agent.driftMode,
              suspend: cfg.agent.suspend,
              backendUrl: cfg.agent.backendUrl,
              artifactMaxBytes: cfg.agent.artifactMaxBytes,
              artifactMaxExtractedBytes: cfg.agent.artifactMaxExtractedBytes,
              secretsProvider: cfg.agent.secretsProvider,
              engineEnv: cfg.agent.engineEnv,
              clusterAdmin: cfg.agent.clusterAdmin,
              networkPolicy: cfg.networkPolicies ? { ingressNamespace: ns.names.contour, metricsNamespaceSelector: cfg.agent.metricsNamespaceSelector } : undefined,
              previews: cfg.agent.previews && { ...cfg.agent.previews, namespace: AGENT_DEFAULTS.previewNamespace },
              // Its preview Role lives in the preview namespace, and its previews need the identity.
          }, withClusterProvider(cfg.agent.previews && previewIdentity ? { dependsOn: [previewIdentity] } : {}))
        : undefined;

    const flux = fluxCfg && cfg.agent && agent
        ? new Flux("flux", {
              namespace: fluxCfg.namespace,
              chart: cfg.charts.flux2,
              kustomizeController: fluxCfg.kustomizeController,
              helmController: fluxCfg.helmController,
              repoUrl: cfg.agent.repoUrl,
              branch: cfg.agent.branch,
              interval: fluxCfg.interval,
              deployKey: agent.deployKey,
              knownHosts: cfg.agent.knownHosts,
              webhookHost: fluxCfg.webhookHost,
              webhookSecret: fluxCfg.webhookSecret,
              github: cfg.agent.githubRepository ? { repository: cfg.agent.githubRepository } : undefined,
              notifications: fluxCfg.notifications,
              imageAutomation: fluxCfg.imageAutomation && {
                  path: fluxCfg.imageAutomation.path,
                  images: [
                      ...cfg.functions.flatMap((f) => (f.imagePolicy ? [{ name: f.name, image: f.image, policy: f.imagePolicy }] : [])),
                      { name: INVOKER_IMAGE_POLICY, image: cfg.invoker.image, policy: cfg.invoker.imagePolicy },
                  ],
              },
              ingressClass: contour.ingressClass,
              tlsIssuer: issuerName,
              agent: fluxAgent ? { namespace: AGENT_NAMESPACE, serviceAccount: AGENT_SERVICE_ACCOUNT, podLabels: AGENT_POD_SELECTOR } : undefined,
              networkPolicies: cfg.networkPolicies,
          }, withClusterProvider())
        : undefined;

    return {
        fluxWebhookUrl: flux?.webhookUrl ?? pulumi.output(undefined),
        agentDeployPublicKey: agent?.deployPublicKey ?? pulumi.output(undefined),
        agentWebhookUrl: agent?.webhookUrl ?? pulumi.output(undefined),
        agentSyncToken: agent?.syncToken ?? pulumi.secret(undefined),
        gatewayUrl: openfaas.gatewayUrl,
        adminUser: openfaas.adminUser,
        adminPassword: openfaas.adminPassword,
        sealingCertPem: sealed.certPem,
        namespaces: pulumi.all(ns.names).apply((n) => ({ ...n })),
    };
}
