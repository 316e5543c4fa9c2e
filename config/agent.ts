/** The `agent` map and the agent's secrets: the reconcile agent's settings. */
import * as pulumi from "@pulumi/pulumi";
import { DNS_SUBDOMAIN } from "../model/names";
import { imageProblem } from "../policies/shared/image";
import { checkToken } from "./checks";
import { Reader } from "./reader";
import { AgentConfig } from "./types";

const AGENT_FIELDS: Record<string, "string" | "boolean" | "integer"> = {
    image: "string", repoUrl: "string", branch: "string", projectPath: "string", githubRepository: "string", deployKeyWrite: "boolean",
    webhookHost: "string", pollIntervalSeconds: "integer", driftIntervalSeconds: "integer", driftMode: "string", backendUrl: "string",
    secretsProvider: "string", clusterAdmin: "boolean", suspend: "boolean",
};

/** Reads the `agent` map and its secrets `agentDeployKey`, `agentSyncToken`, `agentWebhookSecret` and `agentEngineEnv`. */
export function readAgent(r: Reader): AgentConfig | undefined {
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
