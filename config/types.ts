/** The typed model of a validated stack configuration: what config/ produces and platform.ts consumes. */
import * as pulumi from "@pulumi/pulumi";
import type { PreviewToleration } from "../agent/contract";
import type { FluxNotification } from "../model/flux";
import { ChartName, ChartSource } from "../model/charts";
import { CrdMode } from "../model/crds";
import { FunctionDef } from "../model/function";
import { SealedSecretFile } from "../sealing/manifests";
import type { Invoker } from "./invoker";
import { EnvoyServiceType, TlsIssuer } from "./keys";

/** The reconcile agent's settings from the `agent` map (docs/agent.md). */
export interface AgentConfig {
    readonly image: string;
    readonly repoUrl: string;
    readonly branch: string;
    readonly projectPath: string;
    /** Pinned SSH host keys of the repository's server (known_hosts lines); GitHub's by default. */
    readonly knownHosts: string;
    readonly githubRepository?: string;
    readonly deployKeyWrite: boolean;
    readonly webhookHost?: string;
    readonly pollIntervalSeconds: number;
    readonly driftIntervalSeconds: number;
    readonly driftMode: "correct" | "report";
    /** Apply nothing until resumed (docs/agent.md, suspend). */
    readonly suspend: boolean;
    readonly backendUrl?: string;
    /** The agent's size limits of a source (flux mode's artifact, a pull request's): AGENT_ARTIFACT_MAX_BYTES and _EXTRACTED_BYTES. */
    readonly artifactMaxBytes?: string;
    readonly artifactMaxExtractedBytes?: string;
    readonly secretsProvider?: string;
    readonly clusterAdmin: boolean;
    /** Where the agent takes revisions from: its own git client, or Flux's GitRepository artifact. @default flux with the flux map, else git */
    readonly source: "git" | "flux";
    /** Namespaces that may scrape /metrics when networkPolicies are on (matchLabels). @default a namespace named monitoring */
    readonly metricsNamespaceSelector: Readonly<Record<string, string>>;
    /** Bring-your-own deploy key (OpenSSH private key). */
    readonly deployKey?: pulumi.Output<string>;
    /** Bring-your-own bearer token of POST /sync; undefined means generate one. */
    readonly syncToken?: pulumi.Output<string>;
    /** Bring-your-own GitHub webhook secret; undefined means generate one (with a webhook host). */
    readonly webhookSecret?: pulumi.Output<string>;
    /** Backend and secrets-provider credentials for the agent's engine. */
    readonly engineEnv?: pulumi.Output<Record<string, string>>;
    /** Pull-request previews in the cluster (`agent.previews`); undefined: off. */
    readonly previews?: AgentPreviewsConfig;
}

/** The `agent.previews` map and the `agentGitHubToken` secret (docs/policies-and-previews.md). */
export interface AgentPreviewsConfig {
    /** `owner/name` of the GitHub repository whose pull requests are previewed. */
    readonly repository: string;
    readonly writers: boolean;
    readonly label?: string;
    readonly parallel: number;
    readonly timeoutSeconds: number;
    readonly policyConfig?: string;
    readonly statusUrl?: string;
    /** GitHub's REST API; undefined: api.github.com (GitHub Enterprise Server: https://<host>/api/v3). */
    readonly apiUrl?: string;
    /** Node labels the preview pods must match; undefined: any node. */
    readonly nodeSelector?: Readonly<Record<string, string>>;
    /** Node taints the preview pods tolerate; undefined: none. */
    readonly tolerations?: readonly PreviewToleration[];
    readonly githubToken: pulumi.Output<string>;
}

/** Flux's settings from the `flux` map (docs/flux.md); the repository and deploy key are the agent's. */
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
    /** What the program does with the charts' CRDs (model/crds.ts, docs/crds.md). */
    readonly crds: CrdMode;
    readonly networkPolicies: boolean;
    /** The identity pull-request previews run as: it reads and dry-runs, never writes (components/preview-identity.ts). */
    readonly previewIdentity: boolean;
    /** The functions of `functionsFile` with this stack's overrides applied (schedules emptied when off). */
    readonly functions: readonly FunctionDef[];
    /** The cron jobs' invoke image, from functions/invoker.yml. */
    readonly invoker: Invoker;
    /** The reconcile agent; undefined when the stack has no `agent` map. */
    readonly agent?: AgentConfig;
    /** Flux; undefined when the stack has no `flux` map. */
    readonly flux?: FluxConfig;
}
