import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { parseConfig } from "../config";
import { agentDeploymentSpec, agentRoleSpec, SECRETS_CHECKSUM_ANNOTATION, secretsChecksum } from "../components/gitops-agent";
import { GITHUB_KNOWN_HOSTS } from "../model/git";
import { parseSettings } from "../agent/settings";
import { PLACEHOLDER, valueOf } from "../tools/mock-engine";
import { one, raw, runProgram, runStack } from "./helpers";

const AGENT = { image: "ghcr.io/acme/openfaas-gitops-agent:0.1.0", repoUrl: "git@github.com:acme/platform.git" };
/** The component's args for the same agent (the config fills in the pinned host keys). */
const AGENT_ARGS = { ...AGENT, knownHosts: GITHUB_KNOWN_HOSTS };

/** The configuration error for these stack values, or "" when they are valid. */
function problems(values: Record<string, string>, secrets: string[] = []): string {
    try {
        parseConfig(raw(values, secrets));
    } catch (e) {
        return (e as Error).message;
    }
    return "";
}

describe("GitOpsAgent component", () => {
    it("RBAC: its own Role covers only Lease, status ConfigMap and Events; cluster-admin is bound for applying the platform", async () => {
        // get/update by name: the account could rewrite any ConfigMap of the namespace (the pinned known_hosts).
        assert.deepEqual(agentRoleSpec("ns").rules, [
            { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] },
            { apiGroups: ["coordination.k8s.io"], resources: ["leases"], resourceNames: ["openfaas-gitops-agent"], verbs: ["get", "update"] },
            { apiGroups: [""], resources: ["configmaps"], verbs: ["create"] },
            { apiGroups: [""], resources: ["configmaps"], resourceNames: ["openfaas-gitops-agent-status"], verbs: ["get", "update"] },
            { apiGroups: [""], resources: ["events"], verbs: ["get", "create", "update"] },
        ]);
        const { resources } = await runProgram(raw({ agent: JSON.stringify(AGENT) }));
        const crb = one(resources, "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding").inputs;
        assert.deepEqual(crb.roleRef, { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" });
        assert.deepEqual(crb.subjects, [{ kind: "ServiceAccount", name: "openfaas-gitops-agent", namespace: "openfaas-gitops" }]);
        const restricted = await runProgram(raw({ agent: JSON.stringify({ ...AGENT, clusterAdmin: false }) }));
        assert.equal(restricted.resources.filter((r) => r.type.endsWith("ClusterRoleBinding")).length, 0);
    });

    it("Secret keys: the generated ED25519 deploy key and sync token; the webhook secret only with a webhook host; host keys in a ConfigMap", async () => {
        const { resources, outputs } = await runProgram(raw({ agent: JSON.stringify(AGENT) }));
        assert.equal(one(resources, "tls:index/privateKey:PrivateKey", "agent-deploy-key").inputs.algorithm, "ED25519");
        const secret = one(resources, "kubernetes:core/v1:Secret", "agent-git");
        assert.deepEqual(Object.keys(secret.inputs.stringData).sort(), ["identity", "sync-token"]);
        assert.ok(secret.secretPaths.some((p) => p.startsWith("stringData")));
        assert.deepEqual(one(resources, "kubernetes:core/v1:ConfigMap", "agent-known-hosts").inputs.data, { known_hosts: GITHUB_KNOWN_HOSTS });
        assert.match((await valueOf(outputs.agentDeployPublicKey))!, /^ssh-ed25519 /);
        assert.equal(await pulumi.isSecret(outputs.agentSyncToken), true);
        assert.equal(await valueOf(outputs.agentWebhookUrl), undefined);

        const withHook = await runProgram(raw({ agent: JSON.stringify({ ...AGENT, webhookHost: "gitops.example.com" }) }));
        assert.deepEqual(Object.keys(one(withHook.resources, "kubernetes:core/v1:Secret", "agent-git").inputs.stringData).sort(), ["identity", "sync-token", "webhook-secret"]);
        assert.equal(one(withHook.resources, "random:index/randomPassword:RandomPassword", "agent-webhook-secret").inputs.length, 40);
        const ing = one(withHook.resources, "kubernetes:networking.k8s.io/v1:Ingress", "agent-webhook").inputs;
        assert.deepEqual(ing.spec.rules[0].http.paths, [{ path: "/webhook", pathType: "Exact", backend: { service: { name: "openfaas-gitops-agent", port: { name: "http" } } } }]);
        assert.equal(await valueOf(withHook.outputs.agentWebhookUrl), "http://gitops.example.com/webhook");
    });

    it("brings its own sync token and webhook secret: nothing generated, both secret", async () => {
        const sync = "s".repeat(24);
        const hook = "w".repeat(30);
        const { resources, outputs } = await runProgram(raw({ agent: JSON.stringify({ ...AGENT, webhookHost: "gitops.example.com" }), agentSyncToken: sync, agentWebhookSecret: hook }, ["agentSyncToken", "agentWebhookSecret"]));
        assert.deepEqual(resources.filter((r) => r.type.startsWith("random:") && r.name.startsWith("agent-")), []);
        const secret = one(resources, "kubernetes:core/v1:Secret", "agent-git");
        assert.equal(secret.inputs.stringData["sync-token"], sync);
        assert.equal(secret.inputs.stringData["webhook-secret"], hook);
        assert.ok(secret.secretPaths.some((p) => p.startsWith("stringData")));
        assert.equal(await valueOf(outputs.agentSyncToken), sync);
        assert.equal(await pulumi.isSecret(outputs.agentSyncToken), true);
    });

    it("GitHub: the deploy key is read-only by default; the webhook gets the generated secret", async () => {
        const { resources } = await runProgram(raw({ agent: JSON.stringify({ ...AGENT, githubRepository: "platform", webhookHost: "gitops.example.com" }) }));
        const key = one(resources, "github:index/repositoryDeployKey:RepositoryDeployKey").inputs;
        assert.equal(key.readOnly, true);
        assert.equal(key.repository, "platform");
        assert.match(key.key, /^ssh-ed25519 /);
        const hook = one(resources, "github:index/repositoryWebhook:RepositoryWebhook").inputs;
        assert.deepEqual(hook.events, ["push"]);
        assert.equal(hook.configuration.url, "http://gitops.example.com/webhook");
        assert.equal(hook.configuration.secret, `${PLACEHOLDER}:password:agent-webhook-secret`);
        assert.equal(hook.configuration.insecureSsl, false);
        const write = await runProgram(raw({ agent: JSON.stringify({ ...AGENT, githubRepository: "platform", deployKeyWrite: true }) }));
        assert.equal(one(write.resources, "github:index/repositoryDeployKey:RepositoryDeployKey").inputs.readOnly, false);
    });

    it("Deployment: non-root, read-only root, probes, bounded resources, grace for a running update", () => {
        const d = agentDeploymentSpec({ ...AGENT_ARGS, stack: "prod" }, "openfaas-gitops", { git: "g" });
        const pod = d.spec.template.spec;
        assert.deepEqual(pod.securityContext, { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, fsGroup: 10001, seccompProfile: { type: "RuntimeDefault" } });
        const c = pod.containers[0]!;
        assert.deepEqual(c.securityContext, { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } });
        assert.deepEqual(c.livenessProbe.httpGet, { path: "/healthz", port: "http" });
        assert.deepEqual(c.readinessProbe.httpGet, { path: "/readyz", port: "http" });
        assert.ok(c.resources.limits.memory && c.resources.requests.cpu);
        assert.equal(pod.terminationGracePeriodSeconds, 330);
        assert.deepEqual(d.spec.strategy, { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } });
    });

    it("the Deployment's environment is a valid agent configuration (settings.ts parses it)", () => {
        const d = agentDeploymentSpec({ ...AGENT_ARGS, stack: "prod", webhookHost: "h.example.com" }, "ns", { git: "g" });
        const env = Object.fromEntries((d.spec.template.spec.containers[0]!.env as { name: string; value?: string }[]).filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));
        const s = parseSettings({ ...env, POD_NAMESPACE: "ns", POD_NAME: "agent-0" }, [], () => true);
        assert.deepEqual([s.repoUrl, s.stack, s.branch, s.pollIntervalMs, s.driftMode], [AGENT.repoUrl, "prod", "main", 60_000, "correct"]);
        assert.ok(s.webhookSecretFile && s.syncTokenFile && s.sshKeyFile && s.knownHostsFile);
        assert.equal(s.suspend, false);
        const suspended = agentDeploymentSpec({ ...AGENT_ARGS, stack: "prod", suspend: true }, "ns", { git: "g" });
        assert.ok((suspended.spec.template.spec.containers[0]!.env as { name: string; value?: string }[]).some((e) => e.name === "AGENT_SUSPEND" && e.value === "true"));
    });

    it("flux mode: the environment selects the GitRepository and carries no git or ssh settings; settings.ts parses it", () => {
        const d = agentDeploymentSpec({ ...AGENT_ARGS, stack: "prod", flux: { namespace: "flux", gitRepository: "openfaas-gitops" } }, "ns", { git: "g" });
        const vars = d.spec.template.spec.containers[0]!.env as { name: string; value?: string }[];
        const env = Object.fromEntries(vars.filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));
        for (const gitOnly of ["AGENT_REPO_URL", "AGENT_SSH_KEY_FILE", "AGENT_KNOWN_HOSTS_FILE"]) assert.equal(env[gitOnly], undefined, gitOnly);
        const s = parseSettings({ ...env, POD_NAMESPACE: "ns", POD_NAME: "agent-0" }, [], () => true);
        assert.equal(s.source, "flux");
        assert.deepEqual(s.flux, { namespace: "flux", name: "openfaas-gitops", eventsUrl: "http://notification-controller.flux.svc.cluster.local./" });
        assert.equal(s.sshKeyFile, undefined);
        // No host keys mounted either: the agent connects to no git server.
        assert.deepEqual(d.spec.template.spec.volumes.map((v) => v.name), ["git", "work", "tmp"]);
    });

    it("agent.source: flux by default with the flux map, git without it or when asked; flux without the map is refused", async () => {
        const flux = JSON.stringify({});
        const envOf = async (values: Record<string, string>) => {
            const { resources } = await runProgram(raw(values));
            return (one(resources, "kubernetes:apps/v1:Deployment", "agent-deployment").inputs.spec.template.spec.containers[0].env as { name: string; value?: string }[]).find((e) => e.name === "AGENT_SOURCE")?.value;
        };
        assert.equal(await envOf({ agent: JSON.stringify(AGENT), flux }), "flux");
        assert.equal(await envOf({ agent: JSON.stringify({ ...AGENT, source: "git" }), flux }), "git");
        assert.equal(await envOf({ agent: JSON.stringify(AGENT) }), "git");
        assert.throws(() => parseConfig(raw({ agent: JSON.stringify({ ...AGENT, source: "flux" }) })), /agent\.source.*flux needs the flux map/);
        assert.throws(() => parseConfig(raw({ agent: JSON.stringify({ ...AGENT, source: "oci" }) })), /agent\.source.*expected git \| flux/);
    });

    it("shipped stacks: staging reports drift, prod corrects it behind a webhook", async () => {
        const staging = parseConfig((await import("../tools/mock-engine")).stackFileConfig("staging")).agent!;
        assert.equal(staging.driftMode, "report");
        const { resources } = await runStack("prod");
        one(resources, "kubernetes:apps/v1:Deployment", "agent-deployment");
        one(resources, "kubernetes:networking.k8s.io/v1:Ingress", "agent-webhook");
    });
});

describe("agent config validation", () => {
    it("names each bad field", () => {
        const m = problems({ agent: JSON.stringify({ image: "x/agent:latest", repoUrl: "ftp://x", pollIntervalSeconds: "60", driftMode: "fix", sshKey: "x" }) });
        assert.match(m, /openfaas-gitops:agent\.image = "x\/agent:latest": uses the tag latest, so every pull may bring a different image; pin a version tag or a digest/);
        assert.match(m, /openfaas-gitops:agent\.repoUrl = "ftp:\/\/x": expected an ssh URL/);
        assert.match(m, /openfaas-gitops:agent\.pollIntervalSeconds = "\\"60\\"": expected an integer/);
        assert.match(m, /openfaas-gitops:agent\.driftMode = "fix": expected correct \| report/);
        assert.match(m, /openfaas-gitops:agent\.sshKey = .*unknown field/);
        assert.match(problems({ agent: "{}" }), /openfaas-gitops:agent\.image: required/);
    });
    it("secrets: engine env must be a JSON object of variables; a BYO key cannot be registered on GitHub", () => {
        assert.match(problems({ agent: JSON.stringify(AGENT), agentEngineEnv: "passphrase" }, ["agentEngineEnv"]), /openfaas-gitops:agentEngineEnv = "\[secret\]": expected a JSON object/);
        for (const bad of [JSON.stringify({ PULUMI_CONFIG_PASSPHRASE: 1 }), "[]"]) {
            assert.match(problems({ agent: JSON.stringify(AGENT), agentEngineEnv: bad }, ["agentEngineEnv"]), /openfaas-gitops:agentEngineEnv = "\[secret\]": expected a JSON object of environment variables/, bad);
        }
        assert.equal(problems({ agent: JSON.stringify(AGENT), agentEngineEnv: JSON.stringify({ PULUMI_CONFIG_PASSPHRASE: "p" }) }, ["agentEngineEnv"]), "");
        const key = "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----";
        assert.match(problems({ agent: JSON.stringify({ ...AGENT, githubRepository: "r" }), agentDeployKey: key }, ["agentDeployKey"]), /openfaas-gitops:agentDeployKey: cannot be registered on GitHub/);
        assert.match(problems({ agentEngineEnv: "{}" }, ["agentEngineEnv"]), /need the agent map/);
    });

    it("engine env: a variable the engine would drop is refused, by name; proxy variables pass", () => {
        const env = (vars: Record<string, string>) => problems({ agent: JSON.stringify(AGENT), agentEngineEnv: JSON.stringify(vars) }, ["agentEngineEnv"]);
        const m = env({ PULUMI_CONFIG_PASSPHRASE: "p", B2_APPLICATION_KEY: "k", GITHUB_TOKEN: "t", "ghp_notaname": "x" });
        assert.match(m, /openfaas-gitops:agentEngineEnv = "\[secret\]": B2_APPLICATION_KEY, GITHUB_TOKEN, 1 name that is not an environment variable name would not reach the engine, which takes only PULUMI_CONFIG_PASSPHRASE, .*AWS_\*.*HTTPS_PROXY.*; remove them/);
        assert.ok(!m.includes("ghp_notaname"), "a name that may be a pasted value is not echoed");
        assert.equal(env({ HTTPS_PROXY: "http://proxy:3128", NO_PROXY: "10.0.0.0/8", https_proxy: "http://proxy:3128", AWS_ACCESS_KEY_ID: "a", AWS_SECRET_ACCESS_KEY: "s" }), "");
    });

    it("repoUrl: credentials are refused and never echoed; ssh login names and plain URLs pass", () => {
        for (const url of ["https://oauth2:glpat-SECRET@gitlab.com/acme/platform.git", "https://ghp_SECRET@github.com/acme/platform.git", "ssh://git:SECRET@github.com/acme/platform.git"]) {
            const m = problems({ agent: JSON.stringify({ ...AGENT, repoUrl: url }) });
            assert.match(m, /openfaas-gitops:agent\.repoUrl = "(https|ssh):\/\/\*\*\*@(gitlab|github)\.com\/acme\/platform\.git": carries credentials/);
            assert.ok(!m.includes("SECRET"), m);
        }
        assert.match(problems({ agent: JSON.stringify({ ...AGENT, repoUrl: "https://tok@github.com/a/p.git" }) }), /the agent takes an https token only from a file/);
        assert.match(problems({ agent: JSON.stringify({ ...AGENT, repoUrl: "ftp://u:SECRET@x/r" }) }), /carries credentials/);
        for (const url of ["git@github.com:acme/platform.git", "ssh://git@github.com/acme/platform.git", "https://github.com/acme/platform.git"]) {
            assert.equal(problems({ agent: JSON.stringify({ ...AGENT, repoUrl: url }) }), "", url);
        }
    });

    it("branch and projectPath: git's ref-name rules, and a directory inside the checkout", () => {
        const m = problems({ agent: JSON.stringify({ ...AGENT, branch: "main:refs/heads/evil", projectPath: "../../etc" }) });
        assert.match(m, /openfaas-gitops:agent\.branch = "main:refs\/heads\/evil": contains .* one of : .*; expected a branch name git accepts \(git check-ref-format --branch\), e.g\. main/);
        assert.match(m, /openfaas-gitops:agent\.projectPath = "\.\.\/\.\.\/etc": leaves the repository/);
        assert.match(problems({ agent: JSON.stringify({ ...AGENT, projectPath: "/srv" }) }), /agent\.projectPath = "\/srv": is absolute/);
        assert.equal(problems({ agent: JSON.stringify({ ...AGENT, branch: "release/1.2", projectPath: "infra/platform" }) }), "");
    });

    it("ssh host keys: GitHub's by default; any other server's must be given, valid and for its host; https takes none", async () => {
        const GITLAB = "gitlab.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAfuCHKVTjquxvt6CM6tdG4SLp1Btn/nOeHHE5UOzRdf";
        const gitlab = { ...AGENT, repoUrl: "git@gitlab.com:acme/platform.git" };
        assert.match(problems({ agent: JSON.stringify(gitlab) }), /openfaas-gitops:agent\.knownHosts: required for the ssh repoUrl on gitlab\.com: host keys are pinned, never trusted on first use/);
        assert.match(problems({ agent: JSON.stringify({ ...gitlab, knownHosts: GITHUB_KNOWN_HOSTS }) }), /agent\.knownHosts: has no key for gitlab\.com, the host of agent\.repoUrl/);
        assert.match(problems({ agent: JSON.stringify({ ...gitlab, knownHosts: "gitlab.com AAAA" }) }), /agent\.knownHosts: line 1 is not a known_hosts line/);
        // Another port is named [host]:port in known_hosts, as ssh looks it up.
        const onPort = { ...AGENT, repoUrl: "ssh://git@git.example.com:2222/acme/platform.git" };
        assert.match(problems({ agent: JSON.stringify({ ...onPort, knownHosts: GITLAB.replace("gitlab.com", "git.example.com") }) }), /has no key for \[git\.example\.com\]:2222/);
        assert.equal(problems({ agent: JSON.stringify({ ...onPort, knownHosts: GITLAB.replace("gitlab.com", "[git.example.com]:2222") }) }), "");
        assert.match(problems({ agent: JSON.stringify({ ...AGENT, repoUrl: "https://github.com/acme/platform.git", knownHosts: GITLAB }) }), /agent\.knownHosts: is used only with an ssh repoUrl/);

        // Given keys reach the client that connects: the agent (git mode) or source-controller (with Flux).
        const withKeys = { ...gitlab, knownHosts: `# GitLab.com, published\n${GITLAB}` };
        const git = await runProgram(raw({ agent: JSON.stringify(withKeys) }));
        assert.equal(one(git.resources, "kubernetes:core/v1:ConfigMap", "agent-known-hosts").inputs.data.known_hosts, `# GitLab.com, published\n${GITLAB}\n`);
        const flux = await runProgram(raw({ agent: JSON.stringify(withKeys), flux: "{}" }));
        assert.equal(one(flux.resources, "kubernetes:core/v1:Secret", "flux-git").inputs.stringData.known_hosts, `# GitLab.com, published\n${GITLAB}\n`);
    });
});

describe("GitOpsAgent operations: upgrade, rotation, isolation", () => {
    type Env = { name: string; value?: string }[];
    const deployment = (resources: Awaited<ReturnType<typeof runProgram>>["resources"]) => one(resources, "kubernetes:apps/v1:Deployment", "agent-deployment");
    const checksumOf = async (values: Record<string, string>, secrets: string[] = []) =>
        deployment((await runProgram(raw(values, secrets))).resources).inputs.spec.template.metadata.annotations[SECRETS_CHECKSUM_ANNOTATION] as string;

    it("upgrade: the agent's own Deployment, and no other object of the program, is not awaited; it rolls with a surge", async () => {
        const { resources } = await runProgram(raw({ agent: JSON.stringify({ ...AGENT, webhookHost: "gitops.example.com" }), flux: "{}" }));
        const skipping = resources.filter((r) => JSON.stringify(r.inputs).includes("pulumi.com/skipAwait")).map((r) => r.name);
        assert.deepEqual(skipping, ["agent-deployment"]);
        const d = deployment(resources).inputs;
        assert.deepEqual(d.metadata.annotations, { "pulumi.com/skipAwait": "true" });
        assert.deepEqual(d.spec.strategy, { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } });
    });

    it("rotation: the pod template's checksum changes with any consumed secret, stays with unchanged ones, and is neither secret nor reversible", async () => {
        const sync = "s".repeat(24);
        const hook = "w".repeat(30);
        const agent = JSON.stringify({ ...AGENT, webhookHost: "gitops.example.com" });
        const base = { agent, agentSyncToken: sync, agentWebhookSecret: hook, agentEngineEnv: JSON.stringify({ PULUMI_CONFIG_PASSPHRASE: "old-passphrase" }) };
        const secrets = ["agentSyncToken", "agentWebhookSecret", "agentEngineEnv"];
        const first = await checksumOf(base, secrets);
        assert.match(first, /^[0-9a-f]{64}$/);
        assert.equal(await checksumOf(base, secrets), first, "unchanged values keep the pod");
        const changed: string[] = [];
        for (const rotated of [{ agentEngineEnv: JSON.stringify({ PULUMI_CONFIG_PASSPHRASE: "new-passphrase" }) }, { agentSyncToken: "t".repeat(24) }, { agentWebhookSecret: "v".repeat(30) }]) {
            changed.push(await checksumOf({ ...base, ...rotated }, secrets)); // one program at a time: the mocks are global
        }
        for (const c of changed) assert.notEqual(c, first);
        assert.equal(new Set(changed).size, 3);
        // Rendered in the clear (a hash), so the Deployment is not a secret; the values are not in it.
        const d = deployment((await runProgram(raw(base, secrets))).resources);
        assert.deepEqual(d.secretPaths.filter((p) => p.startsWith("spec.template.metadata")), []);
        assert.ok(!JSON.stringify(d.inputs).includes("old-passphrase") && !JSON.stringify(d.inputs).includes(sync));
        // Key order and an undefined Secret do not matter; a key moved between Secrets does.
        assert.equal(secretsChecksum({ a: { x: "1", y: "2" }, b: undefined }), secretsChecksum({ a: { y: "2", x: "1" } }));
        assert.notEqual(secretsChecksum({ a: { x: "1" }, b: {} }), secretsChecksum({ a: {}, b: { x: "1" } }));
    });

    it("flux mode: AGENT_BRANCH is the GitRepository's branch, so the agent's own webhook compares pushes with it", async () => {
        const { resources } = await runProgram(raw({ agent: JSON.stringify({ ...AGENT, branch: "release" }), flux: "{}" }));
        const vars = deployment(resources).inputs.spec.template.spec.containers[0].env as Env;
        const env = Object.fromEntries(vars.filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));
        assert.equal(env.AGENT_SOURCE, "flux");
        assert.equal(env.AGENT_BRANCH, "release");
        const repo = one(resources, "kubernetes:source.toolkit.fluxcd.io/v1:GitRepository").inputs;
        assert.deepEqual(repo.spec.ref, { branch: "release" });
        assert.equal(parseSettings({ ...env, POD_NAMESPACE: "ns", POD_NAME: "agent-0" }, [], () => true).branch, "release");
    });

    describe("NetworkPolicy of the agent's namespace", () => {
        const policyOf = async (values: Record<string, string>) => {
            const { resources } = await runProgram(raw(values));
            return resources.filter((r) => r.type === "kubernetes:networking.k8s.io/v1:NetworkPolicy" && r.inputs.metadata.namespace === "openfaas-gitops");
        };
        const port = [{ protocol: "TCP", port: "http" }];
        const labels = { "app.kubernetes.io/name": "openfaas-gitops-agent", "app.kubernetes.io/part-of": "openfaas-gitops" };

        it("ingress only from Contour's namespace (the webhook) and the monitoring namespace (metrics), to the agent's port; egress open", async () => {
            const [policy, ...more] = await policyOf({ agent: JSON.stringify({ ...AGENT, webhookHost: "gitops.example.com" }) });
            assert.deepEqual(more, []);
            assert.deepEqual(policy!.inputs, {
                apiVersion: "networking.k8s.io/v1",
                kind: "NetworkPolicy",
                metadata: { name: "openfaas-gitops-agent", namespace: "openfaas-gitops", labels },
                spec: {
                    podSelector: {},
                    policyTypes: ["Ingress"],
                    ingress: [
                        { from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "contour" } } }], ports: port },
                        { from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } }], ports: port },
                    ],
                },
            });
        });

        it("without a webhook host nothing but the scrapers; their namespaces are configurable; off with networkPolicies", async () => {
            const selector = { "monitoring.example.com/scrape": "agents" };
            const [policy] = await policyOf({ agent: JSON.stringify({ ...AGENT, metricsNamespaceSelector: selector }) });
            assert.deepEqual(policy!.inputs.spec.ingress, [{ from: [{ namespaceSelector: { matchLabels: selector } }], ports: port }]);
            assert.deepEqual(await policyOf({ agent: JSON.stringify(AGENT), networkPolicies: "false" }), []);
        });

        it("a bad metricsNamespaceSelector is refused, naming the key, the value and the fix", () => {
            assert.throws(() => parseConfig(raw({ agent: JSON.stringify({ ...AGENT, metricsNamespaceSelector: { ok: 1 } }) })), /openfaas-gitops:agent\.metricsNamespaceSelector\.ok = "1": expected a string/);
            for (const bad of [{}, { "bad key!": "x" }, { ok: "not a value!" }, "monitoring"]) {
                assert.throws(
                    () => parseConfig(raw({ agent: JSON.stringify({ ...AGENT, metricsNamespaceSelector: bad }) })),
                    /openfaas-gitops:agent\.metricsNamespaceSelector.*expected a non-empty map of namespace labels/,
                    JSON.stringify(bad),
                );
            }
        });
    });
});

describe("agent.previews: in-cluster pull-request previews", () => {
    const TOKEN = "github_pat_" + "x".repeat(40);
    const PREVIEWS = { repository: "acme/platform", label: "preview", parallel: 2 };

    it("needs the preview identity, the GitHub token and the passphrase provider, each named; a token without previews is refused", () => {
        const agent = (extra: object) => JSON.stringify({ ...AGENT, previews: PREVIEWS, ...extra });
        assert.match(problems({ agent: agent({}), agentGitHubToken: TOKEN }, ["agentGitHubToken"]), /openfaas-gitops:agent\.previews: needs previewIdentity: true/);
        assert.match(problems({ agent: agent({}), previewIdentity: "true" }), /openfaas-gitops:agentGitHubToken: is required with agent\.previews/);
        assert.match(problems({ agent: agent({ secretsProvider: "awskms://alias/x" }), previewIdentity: "true", agentGitHubToken: TOKEN }, ["agentGitHubToken"]), /agent\.previews: needs the passphrase secrets provider \(agent\.secretsProvider is awskms:\/\/alias\/x\)/);
        assert.match(problems({ agent: JSON.stringify(AGENT), agentGitHubToken: TOKEN }, ["agentGitHubToken"]), /agentGitHubToken: is used only with agent\.previews/);
        assert.match(problems({ agent: JSON.stringify({ ...AGENT, previews: { repository: "acme" } }), previewIdentity: "true", agentGitHubToken: TOKEN }, ["agentGitHubToken"]), /agent\.previews\.repository = "acme": required: the GitHub repository as owner\/name/);
        assert.match(problems({ agent: JSON.stringify({ ...AGENT, previews: { ...PREVIEWS, label: undefined, writers: false } }), previewIdentity: "true", agentGitHubToken: TOKEN }, ["agentGitHubToken"]), /agent\.previews\.writers = "false": is false with no agent\.previews\.label/);
        assert.match(problems({ agent: JSON.stringify({ ...AGENT, previews: { ...PREVIEWS, parallel: 9 } }), previewIdentity: "true", agentGitHubToken: TOKEN }, ["agentGitHubToken"]), /agent\.previews\.parallel/);
        assert.match(problems({ agent: JSON.stringify({ ...AGENT, previews: { ...PREVIEWS, apiUrl: "https://x:pw@ghe.example.com/api/v3" } }), previewIdentity: "true", agentGitHubToken: TOKEN }, ["agentGitHubToken"]), /agent\.previews\.apiUrl = "https:\/\/\*\*\*@ghe\.example\.com\/api\/v3": carries credentials/);
        const queried = problems({ agent: JSON.stringify({ ...AGENT, previews: { ...PREVIEWS, apiUrl: "https://ghe.example.com/api/v3?access_token=ghp_secret123" } }), previewIdentity: "true", agentGitHubToken: TOKEN }, ["agentGitHubToken"]);
        assert.match(queried, /agent\.previews\.apiUrl = "https:\/\/ghe\.example\.com\/api\/v3\?…": has a query or fragment/);
        assert.ok(!queried.includes("ghp_secret123"), "the query is never echoed");
        assert.match(problems({ agent: JSON.stringify({ ...AGENT, previews: { ...PREVIEWS, apiUrl: "ghe.example.com" } }), previewIdentity: "true", agentGitHubToken: TOKEN }, ["agentGitHubToken"]), /agent\.previews\.apiUrl = "ghe\.example\.com": is not a URL; expected GitHub's REST API as an http\(s\) URL/);
        assert.match(problems({ agent: JSON.stringify({ ...AGENT, previews: { ...PREVIEWS, nodeSelector: { "pool=x": "a,b" } } }), previewIdentity: "true", agentGitHubToken: TOKEN }, ["agentGitHubToken"]), /agent\.previews\.nodeSelector.*expected a non-empty map of node labels the preview pods must match/);
        assert.match(problems({ agent: JSON.stringify({ ...AGENT, previews: { ...PREVIEWS, tolerations: [{ key: "pool", effect: "Sometimes" }] } }), previewIdentity: "true", agentGitHubToken: TOKEN }, ["agentGitHubToken"]), /agent\.previews\.tolerations\[0\]\.effect = "Sometimes": expected one of NoSchedule \| PreferNoSchedule \| NoExecute/);
        for (const [k, v] of [["artifactMaxBytes", "50MB"], ["artifactMaxExtractedBytes", "32Gi"], ["artifactMaxBytes", "1"]]) {
            assert.match(problems({ agent: JSON.stringify({ ...AGENT, [k]: v }) }), new RegExp(`agent\\.${k} = "${v}": expected a size from 1Ki to 16Gi, in bytes or with Ki, Mi or Gi, e\\.g\\. 50Mi`));
        }
        assert.match(problems({ agent: agent({}), previewIdentity: "true", agentGitHubToken: "short" }, ["agentGitHubToken"]), /agentGitHubToken = "\[secret\]": expected a GitHub token/);
        assert.equal(problems({ agent: agent({}), previewIdentity: "true", agentGitHubToken: TOKEN }, ["agentGitHubToken"]), "");
    });

    it("the Deployment's settings parse as the agent's, the token is a file of the git Secret, and preview pods may reach the agent", async () => {
        const { resources } = await runProgram(raw({ agent: JSON.stringify({ ...AGENT, artifactMaxBytes: "20Mi", artifactMaxExtractedBytes: "1Gi", previews: { ...PREVIEWS, apiUrl: "https://ghe.example.com/api/v3", nodeSelector: { pool: "previews", "kubernetes.io/os": "linux" }, tolerations: [{ key: "pool", value: "previews", effect: "NoSchedule" }, { key: "untrusted" }] }, webhookHost: "gitops.example.com" }), previewIdentity: "true", agentGitHubToken: TOKEN }, ["agentGitHubToken"]));
        const secret = one(resources, "kubernetes:core/v1:Secret", "agent-git");
        assert.equal(secret.inputs.stringData["github-token"], TOKEN);
        const container = one(resources, "kubernetes:apps/v1:Deployment", "agent-deployment").inputs.spec.template.spec.containers[0];
        const env = Object.fromEntries((container.env as { name: string; value?: string }[]).filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));
        assert.ok((container.env as { name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[]).some((e) => e.name === "POD_IP" && e.valueFrom?.fieldRef?.fieldPath === "status.podIP"));
        assert.ok(!JSON.stringify(container.env).includes(TOKEN), "the token is never a variable");
        const settings = parseSettings({ ...env, POD_IP: "10.1.2.3", POD_NAMESPACE: "openfaas-gitops", POD_NAME: "agent-0" }, [], () => true);
        // The limits a pull request's source is held to (and flux mode's artifact), as the agent reads them.
        assert.deepEqual(settings.artifact, { timeoutMs: 120_000, maxBytes: 20 * 2 ** 20, maxExtractedBytes: 2 ** 30 });
        assert.deepEqual(settings.previews, {
            repository: "acme/platform", githubTokenFile: "/etc/openfaas-gitops-agent/git/github-token", githubApiUrl: "https://ghe.example.com/api/v3", image: AGENT.image, namespace: "openfaas-gitops-previews",
            agentUrl: "http://10.1.2.3:8080", parallel: 2, writers: true, label: "preview", policyConfig: "test", timeoutMs: 1_200_000, statusUrl: undefined,
            nodeSelector: { pool: "previews", "kubernetes.io/os": "linux" },
            tolerations: [{ key: "pool", value: "previews", effect: "NoSchedule" }, { key: "untrusted" }],
        });
        const policy = one(resources, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "agent-network-policy").inputs;
        assert.deepEqual(policy.spec.ingress.at(-1).from, [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "openfaas-gitops-previews" } }, podSelector: { matchLabels: { "app.kubernetes.io/name": "openfaas-gitops-preview" } } }]);
        assert.ok(resources.some((r) => r.type === "kubernetes:core/v1:ServiceAccount" && r.name.includes("preview")), "the preview identity is made");
    });

    it("an agent without cluster-admin gets exactly what previews need in the preview namespace", async () => {
        const { resources } = await runProgram(raw({ agent: JSON.stringify({ ...AGENT, previews: PREVIEWS, clusterAdmin: false }), previewIdentity: "true", agentGitHubToken: TOKEN }, ["agentGitHubToken"]));
        const role = one(resources, "kubernetes:rbac.authorization.k8s.io/v1:Role", "agent-previews-role").inputs;
        assert.equal(role.metadata.namespace, "openfaas-gitops-previews");
        assert.deepEqual(role.rules, [
            { apiGroups: ["batch"], resources: ["jobs"], verbs: ["create", "get", "delete"] },
            { apiGroups: [""], resources: ["secrets"], verbs: ["create"] },
            { apiGroups: [""], resources: ["serviceaccounts"], resourceNames: ["openfaas-gitops-preview"], verbs: ["impersonate"] },
        ]);
    });
});
