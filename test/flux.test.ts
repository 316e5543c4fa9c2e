import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, parseConfig } from "../config";
import { agentAccessSpecs, fluxAgentNetworkPolicySpec } from "../components/flux/agent-access";
import { imagePolicySpec, imageRepository, imageRepositorySpec, imageUpdateAutomationSpec } from "../components/flux/image-automation";
import { alertSpec, providerSpec } from "../components/flux/notifications";
import { receiverIngressSpec, receiverPath, receiverSpec } from "../components/flux/receiver";
import { fluxGitUrl, gitRepositorySpec } from "../components/flux/source";
import { fluxValues } from "../components/flux/values";
import { NOTIFICATION_TYPES, githubRepositoryAddress, setterMarker } from "../model/flux";
import { GITHUB_KNOWN_HOSTS, isSshUrl } from "../model/git";
import { PLACEHOLDER } from "../tools/mock-engine";
import { INVOKER_FILE, INVOKER_IMAGE_POLICY, parseInvokerYml } from "../config/invoker";
import * as fs from "node:fs";
import * as path from "node:path";
import { projectFiles } from "../config";
import { chartFile, chartInputs, one, raw, ROOT, runProgram, runStack } from "./helpers";

const AGENT = JSON.stringify({ image: "ghcr.io/acme/agent:1.0.0", repoUrl: "git@github.com:acme/platform.git", branch: "release" });

function problems(values: Record<string, string>, secretKeys: string[] = []): string {
    try {
        parseConfig(raw(values, secretKeys));
    } catch (e) {
        assert.ok(e instanceof ConfigError, String(e));
        return e.message;
    }
    assert.fail("accepted");
}

/** Resolves an output under the mock engine (its value is known there). */
function value<T>(o: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => o.apply(resolve));
}

describe("flux spec functions", () => {
    it("turns on source, notification and the image controllers; kustomize and helm only when asked", () => {
        const v = fluxValues({}) as Record<string, { create: boolean }>;
        assert.equal(v.sourceController!.create, true);
        assert.equal(v.notificationController!.create, true);
        assert.equal(v.imageReflectionController!.create, true);
        assert.equal(v.imageAutomationController!.create, true);
        assert.equal(v.kustomizeController!.create, false);
        assert.equal(v.helmController!.create, false);
        const asked = fluxValues({ kustomizeController: true, helmController: true }) as Record<string, { create: boolean }>;
        assert.equal(asked.kustomizeController!.create, true);
        assert.equal(asked.helmController!.create, true);
        // The chart's own network policies (flux install's set) follow the stack's networkPolicies.
        assert.deepEqual((fluxValues({ networkPolicies: true }) as Record<string, unknown>).policies, { create: true });
        assert.deepEqual((fluxValues({ networkPolicies: false }) as Record<string, unknown>).policies, { create: false });
    });

    it("rewrites scp-like ssh URLs to ssh:// (the only ssh form source-controller takes) and keeps the others", () => {
        assert.equal(fluxGitUrl("git@github.com:acme/platform.git"), "ssh://git@github.com/acme/platform.git");
        assert.equal(fluxGitUrl("ssh://git@github.com/acme/platform.git"), "ssh://git@github.com/acme/platform.git");
        assert.equal(fluxGitUrl("https://github.com/acme/platform.git"), "https://github.com/acme/platform.git");
        assert.equal(isSshUrl("git@github.com:acme/platform.git"), true);
        assert.equal(isSshUrl("https://github.com/acme/platform.git"), false);
    });

    it("the GitRepository follows the branch on an interval, with credentials only for ssh", () => {
        const ssh = gitRepositorySpec("flux-system", { repoUrl: "git@github.com:acme/platform.git" });
        assert.deepEqual(ssh.spec, { url: "ssh://git@github.com/acme/platform.git", ref: { branch: "main" }, interval: "1m", secretRef: { name: "openfaas-gitops" } });
        const https = gitRepositorySpec("flux", { repoUrl: "https://github.com/acme/platform.git", branch: "release", interval: "30s" });
        assert.deepEqual(https.spec, { url: "https://github.com/acme/platform.git", ref: { branch: "release" }, interval: "30s" });
        assert.equal(https.metadata.namespace, "flux");
    });

    it("the Receiver takes GitHub pushes for the GitRepository", () => {
        const r = receiverSpec("flux-system", "github-receiver-token");
        assert.deepEqual(r.spec, {
            type: "github",
            events: ["ping", "push"],
            secretRef: { name: "github-receiver-token" },
            resources: [{ apiVersion: "source.toolkit.fluxcd.io/v1", kind: "GitRepository", name: "openfaas-gitops" }],
        });
    });

    it("the receiver path is notification-controller's /hook/sha256(token+name+namespace)", () => {
        // A fixed vector, computed independently with: printf %s 'tokengithub-pushflux-system' | sha256sum
        assert.equal(receiverPath("token", "flux-system"), "/hook/5d69f146cedb44afbde84895472ee4ab47873f753566a6e38988dd62dccf32b4");
        assert.notEqual(receiverPath("token", "flux-system"), receiverPath("token", "other"));
    });

    it("the Ingress routes only /hook/ to the chart's webhook-receiver Service, with TLS when an issuer is set", () => {
        const plain = receiverIngressSpec("flux-system", "flux.example.com", "contour");
        assert.deepEqual(plain.spec.rules[0]!.http.paths, [{ path: "/hook/", pathType: "Prefix", backend: { service: { name: "webhook-receiver", port: { name: "http" } } } }]);
        assert.equal("tls" in plain.spec, false);
        const tls = receiverIngressSpec("flux-system", "flux.example.com", "contour", "letsencrypt-prod");
        assert.deepEqual(tls.spec.tls, [{ hosts: ["flux.example.com"], secretName: "flux-webhook-receiver-tls" }]);
        assert.equal(tls.metadata.annotations?.["cert-manager.io/cluster-issuer"], "letsencrypt-prod");
    });
});

describe("notification spec functions", () => {
    it("derives the GitHub repository address from every git URL form, and nothing off github.com", () => {
        for (const url of ["git@github.com:acme/platform.git", "ssh://git@github.com/acme/platform.git", "https://github.com/acme/platform.git", "https://github.com/acme/platform"]) {
            assert.equal(githubRepositoryAddress(url), "https://github.com/acme/platform", url);
        }
        assert.equal(githubRepositoryAddress("git@gitlab.com:acme/platform.git"), undefined);
    });

    it("a Provider per type, its credential only in the Secret it names", () => {
        const repo = "git@github.com:acme/platform.git";
        assert.deepEqual(providerSpec("flux-system", { name: "ops", type: "slack", channel: "#ops" }, repo).spec, { type: "slack", channel: "#ops", secretRef: { name: "notify-ops" } });
        for (const type of ["msteams", "discord", "generic"] as const) {
            assert.deepEqual(providerSpec("flux-system", { name: "n", type }, repo).spec, { type, secretRef: { name: "notify-n" } });
        }
        const gh = providerSpec("flux-system", { name: "status", type: "github" }, repo);
        assert.deepEqual(gh.spec, { type: "github", address: "https://github.com/acme/platform", secretRef: { name: "notify-status" } });
        assert.equal(gh.apiVersion, "notification.toolkit.fluxcd.io/v1beta3");
        assert.throws(() => providerSpec("flux-system", { name: "status", type: "github" }, "git@gitlab.com:a/b.git"), /github\.com repository/);
        assert.deepEqual([...NOTIFICATION_TYPES], ["slack", "msteams", "discord", "generic", "github"]);
    });

    it("an Alert forwards every Flux object's events at its severity", () => {
        const a = alertSpec("flux-system", { name: "ops" });
        assert.deepEqual(a.spec.providerRef, { name: "ops" });
        assert.equal(a.spec.eventSeverity, "info");
        assert.deepEqual(a.spec.eventSources.map((e) => `${e.kind}/${e.name}`), ["GitRepository/*", "ImageRepository/*", "ImagePolicy/*", "ImageUpdateAutomation/*"]);
        assert.equal(alertSpec("flux-system", { name: "pager", severity: "error" }).spec.eventSeverity, "error");
    });
});

describe("the agent's access to Flux", () => {
    const agent = { namespace: "openfaas-gitops", serviceAccount: "openfaas-gitops-agent", podLabels: { "app.kubernetes.io/name": "openfaas-gitops-agent" } };

    it("the agent may get, list and watch GitRepositories in the Flux namespace, nothing else", () => {
        const { role, binding } = agentAccessSpecs("flux-system", agent);
        assert.deepEqual(role.rules, [{ apiGroups: ["source.toolkit.fluxcd.io"], resources: ["gitrepositories"], verbs: ["get", "list", "watch"] }]);
        assert.deepEqual(binding.subjects, [{ kind: "ServiceAccount", name: "openfaas-gitops-agent", namespace: "openfaas-gitops" }]);
        assert.equal(binding.roleRef.name, role.metadata.name);
    });

    it("network policies: the chart's own set, plus the agent's pods to storage and events only (no object declared twice)", () => {
        const forAgent = fluxAgentNetworkPolicySpec("flux-system", agent);
        assert.deepEqual(forAgent.spec.podSelector, { matchExpressions: [{ key: "app", operator: "In", values: ["source-controller", "notification-controller"] }] });
        assert.deepEqual(forAgent.spec.ingress, [{
            from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "openfaas-gitops" } }, podSelector: { matchLabels: { "app.kubernetes.io/name": "openfaas-gitops-agent" } } }],
            ports: [{ protocol: "TCP", port: "http" }],
        }]);
        // The named port is the one the chart gives both controllers' 9090 (their Services' port 80 targets it).
        for (const controller of ["source-controller", "notification-controller"]) {
            const text = fs.readFileSync(chartFile("flux2", `templates/${controller}.yaml`), "utf8");
            assert.match(text, /containerPort: 9090\n\s+name: http\n/, controller);
            assert.match(text, new RegExp(`app: ${controller}`));
        }
        // Declaring a policy the chart also renders is a server-side apply conflict on the first up.
        const chartPolicies = [...fs.readFileSync(chartFile("flux2", "templates/policies.yaml"), "utf8").matchAll(/^  name: (\S+)$/gm)].map((m) => m[1]);
        assert.deepEqual(chartPolicies, ["allow-egress", "allow-scraping", "allow-webhooks"]);
        assert.ok(!chartPolicies.includes(forAgent.metadata.name));
    });

    it("the agent's events reach every Alert: they name the GitRepository, a kind each Alert selects", () => {
        assert.ok(alertSpec("flux-system", { name: "status" }).spec.eventSources.some((s) => s.kind === "GitRepository" && s.name === "*"));
    });

    it("a stack with Flux and network policies declares the agent's Role, binding and policies in the Flux namespace", async () => {
        const { resources } = await runProgram(raw({ agent: JSON.stringify({ image: "ghcr.io/acme/agent:1.0.0", repoUrl: "git@github.com:acme/platform.git" }), flux: JSON.stringify({ namespace: "flux" }) }));
        assert.equal(one(resources, "kubernetes:rbac.authorization.k8s.io/v1:Role", "flux-agent-role").inputs.metadata.namespace, "flux");
        // The chart renders flux install's policies; the program adds the agent's one.
        assert.deepEqual(resources.filter((r) => r.type === "kubernetes:networking.k8s.io/v1:NetworkPolicy" && r.inputs.metadata.namespace === "flux").map((r) => r.inputs.metadata.name), ["allow-openfaas-gitops-agent"]);
        assert.deepEqual(one(resources, "kubernetes:helm.sh/v4:Chart", "flux-chart").inputs.values.policies, { create: true });
        const gitOnly = await runProgram(raw({ agent: JSON.stringify({ image: "ghcr.io/acme/agent:1.0.0", repoUrl: "git@github.com:acme/platform.git", source: "git" }), flux: JSON.stringify({}), networkPolicies: "false" }));
        assert.equal(gitOnly.resources.filter((r) => r.inputs.metadata?.namespace === "flux-system" && /Role|NetworkPolicy/.test(r.type)).length, 0);
    });
});

describe("the cron jobs' invoke image", () => {
    it("lives in functions/invoker.yml on a line with Flux's setter marker, so image automation can update it", () => {
        const text = fs.readFileSync(path.join(ROOT, INVOKER_FILE), "utf8");
        const line = text.split("\n").find((l) => l.startsWith("image:"))!;
        assert.equal(line, `image: curlimages/curl:8.11.1 ${setterMarker("flux-system", INVOKER_IMAGE_POLICY)}`);
        assert.deepEqual(parseInvokerYml(text, INVOKER_FILE), { invoker: { image: "curlimages/curl:8.11.1", imagePolicy: { semver: ">=8.11.1 <9.0.0" } }, problems: [] });
    });

    it("a bad invoker file is refused with the file and field named", () => {
        const where = (text: string) => parseInvokerYml(text, "f.yml").problems.map((p) => p.key);
        assert.deepEqual(where("image: curlimages/curl:latest\nimagePolicy: {semver: '>=8'}\n"), ["f.yml image"]);
        assert.deepEqual(where("image: curlimages/curl:8.11.1\nimagePolicy: {semver: '>=8'}\ntag: x\n"), ["f.yml tag"]);
        assert.deepEqual(where("image: curlimages/curl:8.11.1\n"), ["f.yml imagePolicy"]);
    });

    it("the CronJobs run it, and with image automation it gets its ImageRepository and ImagePolicy", async () => {
        const { resources } = await runStack("prod");
        const cron = resources.find((r) => r.type === "kubernetes:batch/v1:CronJob")!;
        assert.equal(cron.inputs.spec.jobTemplate.spec.template.spec.containers[0].image, "curlimages/curl:8.11.1");
        assert.equal(one(resources, "kubernetes:image.toolkit.fluxcd.io/v1:ImageRepository", "flux-image-cron-invoker").inputs.spec.image, "curlimages/curl");
        assert.deepEqual(one(resources, "kubernetes:image.toolkit.fluxcd.io/v1:ImagePolicy", "flux-policy-cron-invoker").inputs.spec.policy, { semver: { range: ">=8.11.1 <9.0.0" } });
    });

    it("image automation refuses an invoker line without the marker", () => {
        const files = projectFiles(ROOT);
        const unmarked = files.read(INVOKER_FILE).replace(/ # \{"\$imagepolicy".*$/m, "");
        const rawCfg = { ...raw({ agent: AGENT, flux: JSON.stringify({ imageAutomation: true }) }), files: { ...files, read: (rel: string) => (rel === INVOKER_FILE ? unmarked : files.read(rel)) } };
        assert.throws(() => parseConfig(rawCfg), /functions\/invoker\.yml image.*has no Flux setter marker; end the image line with # \{"\$imagepolicy": "flux-system:cron-invoker"\}/s);
    });
});

describe("image automation spec functions", () => {
    it("the setter marker is the one Flux's image-automation documents", () => {
        assert.equal(setterMarker("flux-system", "nodeinfo"), '# {"$imagepolicy": "flux-system:nodeinfo"}');
    });

    it("an ImageRepository scans the image without its tag or digest (registry ports kept)", () => {
        assert.equal(imageRepository("ghcr.io/openfaas/nodeinfo:0.2.0"), "ghcr.io/openfaas/nodeinfo");
        assert.equal(imageRepository("registry.local:5000/acme/fn:1.0.0"), "registry.local:5000/acme/fn");
        assert.equal(imageRepository("registry.local:5000/acme/fn"), "registry.local:5000/acme/fn");
        assert.equal(imageRepository("ghcr.io/acme/fn:1.0.0@sha256:" + "a".repeat(64)), "ghcr.io/acme/fn");
        assert.deepEqual(imageRepositorySpec("flux-system", { name: "nodeinfo", image: "ghcr.io/openfaas/nodeinfo:0.2.0" }).spec, { image: "ghcr.io/openfaas/nodeinfo", interval: "5m" });
    });

    it("an ImagePolicy from a semver range or a tag pattern", () => {
        assert.deepEqual(imagePolicySpec("flux-system", { name: "a", policy: { semver: ">=1.0.0 <2.0.0" } }).spec, { imageRepositoryRef: { name: "a" }, policy: { semver: { range: ">=1.0.0 <2.0.0" } } });
        assert.deepEqual(imagePolicySpec("flux-system", { name: "b", policy: { pattern: "^main-(?P<ts>[0-9]+)$", extract: "$ts", order: "numerical" } }).spec, {
            imageRepositoryRef: { name: "b" },
            filterTags: { pattern: "^main-(?P<ts>[0-9]+)$", extract: "$ts" },
            policy: { numerical: { order: "asc" } },
        });
        assert.deepEqual(imagePolicySpec("flux-system", { name: "c", policy: { pattern: "^v", order: "alphabetical" } }).spec.policy, { alphabetical: { order: "asc" } });
    });

    it("one ImageUpdateAutomation: checkout and push the branch, Setters under the functions directory", () => {
        assert.deepEqual(imageUpdateAutomationSpec("flux-system", { branch: "release", path: "./functions" }).spec, {
            interval: "5m",
            sourceRef: { kind: "GitRepository", name: "openfaas-gitops" },
            git: { checkout: { ref: { branch: "release" } }, commit: { author: { name: "fluxcdbot", email: "fluxcdbot@users.noreply.github.com" } }, push: { branch: "release" } },
            update: { path: "./functions", strategy: "Setters" },
        });
    });
});

describe("flux config", () => {
    it("is off without the flux map", () => {
        assert.equal(parseConfig(raw({ agent: AGENT })).flux, undefined);
    });

    it("defaults: flux-system, 1m, no Receiver, kustomize and helm off", () => {
        const f = parseConfig(raw({ agent: AGENT, flux: "{}" })).flux!;
        assert.deepEqual({ ...f }, { namespace: "flux-system", interval: "1m", kustomizeController: false, helmController: false, webhookHost: undefined, webhookSecret: undefined, notifications: [], imageAutomation: undefined });
    });

    it("refuses bad input naming the key", () => {
        assert.match(problems({ flux: "{}" }), /openfaas-gitops:flux: needs the agent map/);
        assert.match(problems({ agent: AGENT, flux: JSON.stringify({ interval: "1 minute" }) }), /openfaas-gitops:flux\.interval = "1 minute": expected a Flux duration/);
        assert.match(problems({ agent: AGENT, flux: JSON.stringify({ intervall: "1m" }) }), /openfaas-gitops:flux\.intervall = .*unknown field/);
        assert.match(problems({ agent: AGENT, flux: JSON.stringify({ helmController: "yes" }) }), /openfaas-gitops:flux\.helmController = "\\"yes\\"": expected a boolean/);
        assert.match(problems({ agent: AGENT, flux: JSON.stringify({ namespace: "Flux_System" }) }), /openfaas-gitops:flux\.namespace = "Flux_System": expected a namespace name/);
        assert.match(problems({ agent: AGENT, flux: JSON.stringify({ webhookHost: "https://x" }) }), /openfaas-gitops:flux\.webhookHost = "https:\/\/x": expected a DNS name/);
        const same = JSON.stringify({ image: "ghcr.io/acme/agent:1.0.0", repoUrl: "git@github.com:acme/platform.git", webhookHost: "hooks.example.com" });
        assert.match(problems({ agent: same, flux: JSON.stringify({ webhookHost: "hooks.example.com" }) }), /flux\.webhookHost = "hooks\.example\.com": must differ from agent\.webhookHost/);
    });

    it("fluxWebhookSecret: secret only, long enough, and only with flux.webhookHost", () => {
        const token = "t".repeat(30);
        assert.match(problems({ agent: AGENT, flux: JSON.stringify({ webhookHost: "flux.example.com" }), fluxWebhookSecret: token }), /fluxWebhookSecret = "\[plaintext value hidden\]": must be a secret/);
        assert.match(problems({ agent: AGENT, flux: JSON.stringify({ webhookHost: "flux.example.com" }), fluxWebhookSecret: "short" }, ["fluxWebhookSecret"]), /fluxWebhookSecret = "\[secret\]": expected at least 24/);
        assert.match(problems({ agent: AGENT, flux: "{}", fluxWebhookSecret: token }, ["fluxWebhookSecret"]), /fluxWebhookSecret: is used only with flux\.webhookHost/);
        assert.match(problems({ fluxWebhookSecret: token }, ["fluxWebhookSecret"]), /fluxWebhookSecret: is used only with the flux map/);
    });
});

describe("flux notification config", () => {
    const flux = (notifications: unknown) => JSON.stringify({ notifications });
    const secrets = (o: Record<string, string>) => JSON.stringify(o);

    it("reads each notification with its credential", () => {
        const f = parseConfig(raw({
            agent: AGENT,
            flux: flux([{ name: "ops", type: "slack", channel: "#ops" }, { name: "status", type: "github", severity: "error" }]),
            fluxNotificationSecrets: secrets({ ops: "https://hooks.slack.com/services/x", status: "ghp_token" }),
        }, ["fluxNotificationSecrets"])).flux!;
        assert.deepEqual(f.notifications.map((n) => ({ ...n, secret: undefined })), [
            { name: "ops", type: "slack", channel: "#ops", severity: "info", secret: undefined },
            { name: "status", type: "github", channel: undefined, severity: "error", secret: undefined },
        ]);
    });

    it("refuses bad notifications naming the key, never echoing a credential", () => {
        const bad = problems({
            agent: AGENT,
            flux: flux([{ name: "Ops", type: "slack" }, { name: "t", type: "teams" }, { name: "d", type: "discord", channel: "#x" }, { name: "s", type: "slack", severity: "warn" }, { name: "s", type: "slack", colour: 1 }]),
            fluxNotificationSecrets: secrets({ Ops: "https://a", t: "https://b", d: "http://plain-and-secret-looking", s: "https://c", extra: "https://d" }),
        }, ["fluxNotificationSecrets"]);
        assert.match(bad, /flux\.notifications\[0\]\.name = "Ops": expected a DNS-1123 label/);
        assert.match(bad, /flux\.notifications\[1\]\.type = "teams": expected one of slack \| msteams \| discord \| generic \| github/);
        assert.match(bad, /flux\.notifications\[2\]\.channel = .*applies to slack only/);
        assert.match(bad, /fluxNotificationSecrets = "\[secret\]": the value for d must be the https:\/\/ webhook URL/);
        assert.match(bad, /flux\.notifications\[3\]\.severity = "warn": expected info/);
        assert.match(bad, /flux\.notifications\[4\]\.name = "s": another notification has this name/);
        assert.match(bad, /flux\.notifications\[4\]\.colour = "1": unknown field/);
        assert.match(bad, /fluxNotificationSecrets: has a value for extra/);
        assert.doesNotMatch(bad, /plain-and-secret-looking/);
        assert.match(problems({ agent: AGENT, flux: flux([{ name: "ops", type: "slack" }]) }), /fluxNotificationSecrets: has no webhook URL for notification ops; run: pulumi config set --secret --path 'fluxNotificationSecrets\.ops'/);
        assert.match(problems({ agent: AGENT, flux: flux([{ name: "ops", type: "slack" }]), fluxNotificationSecrets: secrets({ ops: "https://x" }) }), /fluxNotificationSecrets = "\[plaintext value hidden\]": must be a secret/);
        assert.match(problems({ agent: AGENT, flux: flux("ops") }), /flux\.notifications = "\\"ops\\"": expected a list/);
        const gitlab = JSON.stringify({ image: "ghcr.io/acme/agent:1.0.0", repoUrl: "git@gitlab.com:acme/platform.git" });
        assert.match(problems({ agent: gitlab, flux: flux([{ name: "status", type: "github" }]), fluxNotificationSecrets: secrets({ status: "tok" }) }, ["fluxNotificationSecrets"]), /flux\.notifications\[0\]\.type = "github": github commit status needs agent\.repoUrl on github\.com/);
        assert.match(problems({ fluxNotificationSecrets: secrets({ a: "https://x" }) }, ["fluxNotificationSecrets"]), /fluxNotificationSecrets: is used only with the flux map/);
    });
});

describe("image automation config", () => {
    const on = JSON.stringify({ imageAutomation: true });
    /** A temporary stack.yml with these function lines, passed to `check` by a project-relative path (what the config takes). */
    const withStackFile = (functionLines: string[], check: (rel: string) => void) => {
        // Inside the project (in its ignored .cache/): functionsFile may not point outside it.
        fs.mkdirSync(path.join(ROOT, ".cache"), { recursive: true });
        const dir = fs.mkdtempSync(path.join(ROOT, ".cache", "flux-test-"));
        try {
            fs.writeFileSync(path.join(dir, "stack.yml"), ["version: 1.0", "provider: {name: openfaas}", "functions:", ...functionLines].join("\n"));
            check(path.relative(ROOT, path.join(dir, "stack.yml")));
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    };

    it("reads the functions directory and the opted-in functions' policies", () => {
        const cfg = parseConfig(raw({ agent: AGENT, flux: on }));
        assert.deepEqual(cfg.flux!.imageAutomation, { path: "./functions" });
        assert.deepEqual(cfg.functions.find((f) => f.name === "nodeinfo")!.imagePolicy, { semver: ">=0.2.0 <1.0.0" });
        assert.equal(cfg.functions.find((f) => f.name === "certinfo")!.imagePolicy, undefined);
        const nested = JSON.stringify({ image: "ghcr.io/acme/agent:1.0.0", repoUrl: "git@github.com:acme/platform.git", projectPath: "platform" });
        assert.deepEqual(parseConfig(raw({ agent: nested, flux: on })).flux!.imageAutomation, { path: "./platform/functions" });
        assert.equal(parseConfig(raw({ agent: AGENT, flux: "{}" })).flux!.imageAutomation, undefined);
    });

    it("refuses an unmarked opted-in function, a marker for another namespace, and https repositories", () => {
        assert.match(problems({ agent: AGENT, flux: on, functionsFile: "test/testdata/flux/unmarked.yml" }),
            /test\/testdata\/flux\/unmarked\.yml functions\.hello\.image: has no Flux setter marker; end the image line with # \{"\$imagepolicy": "flux-system:hello"\}/);
        assert.match(problems({ agent: AGENT, flux: JSON.stringify({ imageAutomation: true, namespace: "flux" }) }), /functions\.nodeinfo\.image: has no Flux setter marker; end the image line with # \{"\$imagepolicy": "flux:nodeinfo"\}/);
        const https = JSON.stringify({ image: "ghcr.io/acme/agent:1.0.0", repoUrl: "https://github.com/acme/platform.git" });
        assert.match(problems({ agent: https, flux: on }), /flux\.imageAutomation = "true": pushes tag commits with the deploy key, so agent\.repoUrl must be an ssh URL/);
    });

    it("refuses a function named like the invoke image's policy", () => {
        withStackFile([
            `  ${INVOKER_IMAGE_POLICY}:`,
            `    image: x/c:1.0.0 ${setterMarker("flux-system", INVOKER_IMAGE_POLICY)}`,
            "    imagePolicy: {semver: '1.x'}",
        ], (rel) => {
            assert.match(problems({ agent: AGENT, flux: on, functionsFile: rel }),
                new RegExp(`functions\\.${INVOKER_IMAGE_POLICY}\\.imagePolicy: the name ${INVOKER_IMAGE_POLICY} is taken by the cron jobs' invoke image \\(functions/invoker\\.yml\\); rename the function`));
        });
    });

    it("refuses bad imagePolicy fields in the functions file, located by function", () => {
        withStackFile([
            "  a: {image: 'x/a:1', imagePolicy: {semver: '1.x', pattern: '^v'}}",
            "  b: {image: 'x/b:1', imagePolicy: {pattern: '(unclosed'}}",
            "  c: {image: 'x/c:1', imagePolicy: {pattern: '^v', order: newest, colour: 1}}",
            "  d: {image: 'x/d:1', imagePolicy: latest}",
        ], (rel) => {
            const msg = problems({ functionsFile: rel });
            assert.match(msg, /functions\.a\.imagePolicy: .*exactly one of semver and pattern/);
            assert.match(msg, /functions\.b\.imagePolicy\.pattern: not a regular expression/);
            assert.match(msg, /functions\.c\.imagePolicy\.order = "newest": expected numerical \| alphabetical/);
            assert.match(msg, /functions\.c\.imagePolicy\.colour = "1": unknown field/);
            assert.match(msg, /functions\.d\.imagePolicy = "\\"latest\\"": expected a map with semver/);
        });
    });

    it("a tag commit made as image-automation-controller makes it (the marked line rewritten) deploys the new tag", async () => {
        // The controller replaces the image reference on each line carrying the policy's marker with
        // the policy's latest image, leaving the marker in place; here a copy of the project's file is
        // rewritten the same way and the program reads it back.
        const file = fs.readFileSync(path.join(ROOT, "functions", "stack.yml"), "utf8");
        const marker = setterMarker("flux-system", "nodeinfo");
        const updated = file.split("\n").map((l) => (l.trimEnd().endsWith(marker) ? l.replace(/image:\s*\S+/, "image: ghcr.io/openfaas/nodeinfo:0.3.1") : l)).join("\n");
        assert.notEqual(updated, file);
        const files = projectFiles(ROOT);
        const rawCfg = { ...raw({ agent: AGENT, flux: JSON.stringify({ imageAutomation: true }) }), files: { ...files, read: (rel: string) => (rel === "functions/stack.yml" ? updated : files.read(rel)) } };
        const cfg = parseConfig(rawCfg);
        assert.equal(cfg.functions.find((f) => f.name === "nodeinfo")!.image, "ghcr.io/openfaas/nodeinfo:0.3.1");
        const { resources } = await runProgram(rawCfg);
        const deployment = resources.find((r) => r.type === "kubernetes:apps/v1:Deployment" && r.inputs.metadata?.name === "nodeinfo")!;
        assert.equal(deployment.inputs.spec.template.spec.containers[0].image, "ghcr.io/openfaas/nodeinfo:0.3.1");
    });
});

describe("Flux component under the mock engine", () => {
    it("installs the pinned flux2 chart and declares the GitRepository with the agent's key and known_hosts", async () => {
        const { resources, outputs } = await runProgram(raw({ agent: AGENT, flux: JSON.stringify({ interval: "5m" }) }));
        const chart = chartInputs(resources, "flux");
        assert.equal(chart.chart, "flux2");
        assert.equal(chart.version, "2.18.3");
        assert.equal(chart.namespace, "flux-system");
        assert.equal(chart.repositoryOpts.repo, "https://fluxcd-community.github.io/helm-charts");

        const repo = one(resources, "kubernetes:source.toolkit.fluxcd.io/v1:GitRepository");
        assert.deepEqual(repo.inputs.spec, { url: "ssh://git@github.com/acme/platform.git", ref: { branch: "release" }, interval: "5m", secretRef: { name: "openfaas-gitops" } });
        assert.match(repo.urn, /openfaas-gitops:platform:Flux\$kubernetes:source\.toolkit\.fluxcd\.io\/v1:GitRepository::flux-source$/);

        const secret = one(resources, "kubernetes:core/v1:Secret", "flux-git");
        assert.equal(secret.inputs.metadata.namespace, "flux-system");
        assert.equal(secret.inputs.stringData.known_hosts, GITHUB_KNOWN_HOSTS);
        // The agent's deploy key (one key registered on the repository), held by Flux only: in flux
        // mode the agent runs no git, so its pod has neither the key nor known_hosts.
        assert.equal(secret.inputs.stringData.identity, `${PLACEHOLDER}:private-key:agent-deploy-key`);
        assert.deepEqual(Object.keys(one(resources, "kubernetes:core/v1:Secret", "agent-git").inputs.stringData), ["sync-token"]);
        assert.equal(resources.filter((r) => r.name === "agent-known-hosts").length, 0);
        assert.ok(secret.secretPaths.includes("stringData.identity") || secret.secretPaths.includes("stringData"), `identity is not secret: ${secret.secretPaths}`);

        assert.equal(resources.filter((r) => r.type.includes("notification.toolkit.fluxcd.io")).length, 0, "no Receiver without a webhook host");
        assert.equal(await value(outputs.fluxWebhookUrl), undefined);
    });

    it("with a webhook host: token Secret, Receiver, Ingress and the webhook URL", async () => {
        const token = "r".repeat(32);
        const { resources, outputs } = await runProgram(raw({ agent: AGENT, flux: JSON.stringify({ webhookHost: "flux.example.com" }), fluxWebhookSecret: token }, ["fluxWebhookSecret"]));
        one(resources, "kubernetes:notification.toolkit.fluxcd.io/v1:Receiver");
        const tokenSecret = one(resources, "kubernetes:core/v1:Secret", "flux-webhook-token");
        assert.equal(tokenSecret.inputs.stringData.token, token);
        assert.equal(one(resources, "kubernetes:networking.k8s.io/v1:Ingress", "flux-webhook").inputs.spec.rules[0].host, "flux.example.com");
        assert.equal(await value(outputs.fluxWebhookUrl), `http://flux.example.com${receiverPath(token, "flux-system")}`);
    });

    it("a Secret, Provider and Alert per notification, the credential only in the Secret and marked secret", async () => {
        const { resources } = await runProgram(raw({
            agent: AGENT,
            flux: JSON.stringify({ notifications: [{ name: "ops", type: "slack" }, { name: "status", type: "github" }] }),
            fluxNotificationSecrets: JSON.stringify({ ops: "https://hooks.slack.com/services/x", status: "ghp_token" }),
        }, ["fluxNotificationSecrets"]));
        const slack = one(resources, "kubernetes:core/v1:Secret", "flux-notify-ops");
        assert.deepEqual(slack.inputs.stringData, { address: "https://hooks.slack.com/services/x" });
        assert.ok(slack.secretPaths.some((p) => p.startsWith("stringData")), "the address is marked secret");
        assert.deepEqual(one(resources, "kubernetes:core/v1:Secret", "flux-notify-status").inputs.stringData, { token: "ghp_token" });
        assert.equal(one(resources, "kubernetes:notification.toolkit.fluxcd.io/v1beta3:Provider", "flux-provider-status").inputs.spec.address, "https://github.com/acme/platform");
        assert.equal(one(resources, "kubernetes:notification.toolkit.fluxcd.io/v1beta3:Alert", "flux-alert-ops").inputs.spec.providerRef.name, "ops");
        const component = one(resources, "openfaas-gitops:platform:Flux");
        assert.doesNotMatch(JSON.stringify(component.inputs), /ghp_token|hooks\.slack\.com/, "credentials are not in the component's recorded inputs");
    });

    it("image automation: ImageRepository + ImagePolicy per opted-in function, one ImageUpdateAutomation, and a deploy key with write access", async () => {
        const gh = JSON.stringify({ image: "ghcr.io/acme/agent:1.0.0", repoUrl: "git@github.com:acme/platform.git", githubRepository: "platform" });
        const { resources } = await runProgram(raw({ agent: gh, flux: JSON.stringify({ imageAutomation: true }) }));
        assert.deepEqual(resources.filter((r) => r.type.includes("image.toolkit.fluxcd.io")).map((r) => r.name).sort(), ["flux-image-cron-invoker", "flux-image-nodeinfo", "flux-image-update", "flux-policy-cron-invoker", "flux-policy-nodeinfo"]);
        assert.equal(one(resources, "kubernetes:image.toolkit.fluxcd.io/v1:ImageRepository", "flux-image-nodeinfo").inputs.spec.image, "ghcr.io/openfaas/nodeinfo");
        assert.equal(one(resources, "github:index/repositoryDeployKey:RepositoryDeployKey").inputs.readOnly, false);
        const readOnly = await runProgram(raw({ agent: gh, flux: "{}" }));
        assert.equal(one(readOnly.resources, "github:index/repositoryDeployKey:RepositoryDeployKey").inputs.readOnly, true);
        assert.equal(readOnly.resources.filter((r) => r.type.includes("image.toolkit.fluxcd.io")).length, 0);
    });

    it("with agent.githubRepository, registers the Receiver as the repository's push webhook with its token", async () => {
        const gh = JSON.stringify({ image: "ghcr.io/acme/agent:1.0.0", repoUrl: "git@github.com:acme/platform.git", githubRepository: "platform" });
        const token = "w".repeat(32);
        const { resources } = await runProgram(raw({ agent: gh, flux: JSON.stringify({ webhookHost: "flux.example.com" }), fluxWebhookSecret: token }, ["fluxWebhookSecret"]));
        const hook = one(resources, "github:index/repositoryWebhook:RepositoryWebhook", "flux-webhook");
        assert.equal(hook.inputs.repository, "platform");
        assert.deepEqual(hook.inputs.events, ["push"]);
        assert.equal(hook.inputs.configuration.url, `http://flux.example.com${receiverPath(token, "flux-system")}`);
        assert.equal(hook.inputs.configuration.secret, token);
        assert.ok(hook.secretPaths.some((p) => p.startsWith("configuration")), "the token is marked secret");
    });

    it("generates the Receiver token when none is supplied", async () => {
        const { resources } = await runProgram(raw({ agent: AGENT, flux: JSON.stringify({ webhookHost: "flux.example.com" }) }));
        one(resources, "random:index/randomPassword:RandomPassword", "flux-webhook-token");
    });

    it("shipped stacks: prod has Flux with image automation, staging without, dev none", async () => {
        const prod = await runStack("prod");
        one(prod.resources, "kubernetes:source.toolkit.fluxcd.io/v1:GitRepository");
        one(prod.resources, "kubernetes:image.toolkit.fluxcd.io/v1:ImageUpdateAutomation");
        assert.equal(prod.resources.filter((r) => r.type.endsWith(":Receiver")).length, 0, "the Receiver is opt-in: its host is the user's");
        const staging = await runStack("staging");
        one(staging.resources, "kubernetes:source.toolkit.fluxcd.io/v1:GitRepository");
        assert.equal(staging.resources.filter((r) => r.type.includes("image.toolkit.fluxcd.io")).length, 0);
        const dev = await runStack("dev");
        assert.equal(dev.resources.filter((r) => r.type.includes("fluxcd.io")).length, 0);
    });
});
