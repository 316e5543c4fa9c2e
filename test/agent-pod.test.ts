/**
 * The agent as a real pod on the real node (tools/real-node.ts: kubelet + containerd + runc), from the
 * image `npm run image:build` makes, upgrading itself through git:
 * - `pulumi up` of the dev stack with the agent (the real engine, the real charts) bootstraps it: its
 *   Deployment as the program declares it (service account and RBAC, security context, env, Secrets
 *   as files, probes, resources), pinned to the real node by the harness (test/support/standins.ts,
 *   `harness:agentOnRealNode`, committed with the stack so the agent's own runs keep it);
 * - the pod is Ready (the kubelet probes it), runs as 10001 with a read-only root, reads its deploy key
 *   from the Secret's file, fetches the repository over ssh, and installs the checkout's dependencies
 *   from the mirror the committed `.npmrc` names (tools/npm-mirror.ts: the image carries no dependency
 *   cache, and the pod cannot reach a public registry, as in an air-gapped cluster), then applies the
 *   revision with the engine the image carries;
 * - a commit changes `agent.image` to a second tag of the same build: the pod applies its own
 *   Deployment, the rollout completes, the new pod leads and applies the next commit; no run is left
 *   cancelled or waiting, and the status history shows both.
 * - a pull request is previewed in a pod of its own (agent/preview-pods.ts): the agent's image on the
 *   real node, under the preview identity, taking the agent's installed dependencies, and the status
 *   and comment reach GitHub (the double, test/support/github-double.ts, relayed to the pod network).
 * It changes the host (a real node), so it runs only where test/real-node.test.ts does, and needs the
 * image's tools (podman); elsewhere it skips with one line saying why.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import * as yaml from "js-yaml";
import type { AgentStatus } from "../agent/status";
import { AGENT_DEFAULTS } from "../agent/contract";
import { PROJECT } from "../config";
import { CHART_NAMES } from "../model/charts";
import { controlPlaneAvailable } from "../tools/controlplane";
import { engineAvailable } from "../tools/engine";
import { agentImage, buildAgentImage, IMAGE_REPOSITORY } from "../tools/image";
import { NpmMirror, startNpmMirror } from "../tools/npm-mirror";
import { podmanUnavailable } from "../tools/podman";
import { importImage, POD_GATEWAY, REAL_NODE_KEY, RealNode, realNodeUnavailable, startRealNode, tagImage } from "../tools/real-node";
import { upstream } from "../tools/upstream";
import { GitHubDouble } from "./support/github-double";
import { PREVIEW_NS, REPOSITORY } from "./support/preview-world";
import { ROOT } from "./helpers";
import { Relay, relay } from "./support/bridge-relay";
import { EngineHarness, startEngineHarness, TestStack } from "./support/engine";
import { git, makeRepo, Repo } from "./support/gitrepo";
import { onLoopback, socketsOf } from "./support/sockets";
import { SSHD, Sshd, startSshd } from "./support/sshd";
import { holdRealNodeTests } from "./support/real-node-tests";
import { teardown } from "./support/teardown";
import { AgentOnRealNode, previewPodsOnRealNode } from "./support/standins";
import { until } from "./support/wait";

const why =
    realNodeUnavailable() ??
    podmanUnavailable() ??
    (controlPlaneAvailable() && engineAvailable() ? undefined : "no Go toolchain and no cached control plane and engine") ??
    (SSHD ? undefined : "no sshd (Debian package openssh-server; .ci/run installs it)");

const NS = AGENT_DEFAULTS.namespace;
/** The agent's GitHub token, as the double knows it. */
const GITHUB_TOKEN = "ghs_real_node_preview_token_1234";
const STACK = "dev";
/** Where the pod sees the state directory (the harness's stand-in for an object store). */
const STATE_MOUNT = "/var/lib/openfaas-gitops-state";
/** The second name of the same build, as a registry serves a new tag. */
const UPGRADED = `${IMAGE_REPOSITORY}:upgraded`;
/** npm ci of the whole project and an engine run inside the pod, on a shared 2-core machine. */
const APPLY_MS = 900_000;

type Pod = { metadata: { name: string; deletionTimestamp?: string }; spec: { nodeName?: string; containers: { image: string }[] }; status: { podIP?: string; phase?: string; conditions?: { type: string; status: string }[]; containerStatuses?: { ready: boolean; restartCount: number }[] } };

describe("the agent as a real pod on the real node, from its image, upgrading itself through git", { skip: why }, () => {
    let h: EngineHarness;
    let node: RealNode;
    let sshd: Sshd;
    let mirror: NpmMirror;
    let github: GitHubDouble;
    const relays: Relay[] = [];
    let repo: Repo;
    let s: TestStack;
    let configFile = "";
    let tag = "";
    /** When the bootstrap's state files were given to the pod's user (see the first apply's test). */
    let stateHandedOver = 0;
    const heads: string[] = [];
    const log = (l: string) => console.log(`# ${l}`);

    const pods = () => (JSON.parse(h.cp.kubectl(["get", "pods", "-n", NS, "-l", `app.kubernetes.io/name=${AGENT_DEFAULTS.name}`, "-o", "json"])).items as Pod[]).filter((p) => !p.metadata.deletionTimestamp);
    const ready = (p: Pod) => p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true;
    const statusOf = async (p: Pod) => (await (await fetch(`http://${p.status.podIP}:${AGENT_DEFAULTS.port}/status.json`)).json()) as AgentStatus;
    const holder = () => JSON.parse(h.cp.kubectl(["get", "lease", AGENT_DEFAULTS.name, "-n", NS, "-o", "json"])).spec.holderIdentity as string | undefined;
    /** Commits the harness's project copy (its stack file included) as the repository's next revision. */
    const commitProject = (message: string) => {
        fs.cpSync(h.projectDir, repo.work, { recursive: true, filter: (src) => !/(^|\/)(node_modules|seen-env\.json)$/.test(path.relative(h.projectDir, src)) });
        git(["add", "-A"], repo.work);
        git(["commit", "--quiet", "-m", message], repo.work);
        git(["push", "--quiet", "origin", "HEAD:refs/heads/main"], repo.work);
        heads.push(git(["rev-parse", "HEAD"], repo.work));
        return heads[heads.length - 1]!;
    };
    const editConfig = (edit: (config: Record<string, unknown>) => void) => {
        const file = yaml.load(fs.readFileSync(configFile, "utf8")) as { config: Record<string, unknown> };
        edit(file.config);
        fs.writeFileSync(configFile, yaml.dump(file));
    };
    /** What each agent pod logged (but the engine's output) and the stored facts, at `when`: a pod is gone after the rollout, so it is kept for a failure's message. */
    const seen: string[] = [];
    const keepView = (when: string) => {
        for (const p of pods()) seen.push(`${when}: ${p.metadata.name}:\n${h.cp.kubectl(["logs", "-n", NS, p.metadata.name, "--tail=60"]).split("\n").filter((l) => !/"engine"/.test(l)).join("\n")}`);
        const cm = JSON.parse(h.cp.kubectl(["get", "configmap", AGENT_DEFAULTS.statusConfigMap, "-n", NS, "-o", "json"]));
        seen.push(`${when}: stored lastAppliedRevision ${cm.data?.lastAppliedRevision}, lastAttemptedRevision ${cm.data?.lastAttemptedRevision}`);
    };
    /**
     * The agent pod that leads, once it has applied `revision` and nothing runs. A stall ends the
     * wait at once with the agent's own words; a failed apply is retried by the agent (backoff).
     */
    const appliedBy = async (revision: string) => {
        const deadline = Date.now() + APPLY_MS;
        let last = "no leader yet";
        for (;;) {
            const leader = pods().find((p) => p.metadata.name === holder() && ready(p));
            const status = leader && (await statusOf(leader).catch(() => undefined));
            if (leader && status) {
                if (status.stalledReason) throw new Error(`the agent stalled on ${revision.slice(0, 12)}: ${status.stalledReason} ${status.applyError ?? status.lastError ?? ""}`);
                if (status.lastAppliedRevision === revision && !status.running) return { pod: leader, status };
                last = `${leader.metadata.name}: head ${status.headRevision?.slice(0, 12)}, applied ${status.lastAppliedRevision?.slice(0, 12)}, running ${status.running?.revision.slice(0, 12) ?? "nothing"}, error ${status.lastError ?? "none"}`;
            }
            if (Date.now() > deadline) throw new Error(`timed out waiting for the agent to apply ${revision.slice(0, 12)}; last seen: ${last}\n${h.cp.kubectl(["logs", "-n", NS, `deployment/${AGENT_DEFAULTS.name}`, "--tail=30"])}`);
            await new Promise((r) => setTimeout(r, 2000));
        }
    };

    let release: (() => void) | undefined;
    before(async () => {
        release = await holdRealNodeTests(log);
        let image = agentImage();
        if (!fs.existsSync(image.archive)) image = buildAgentImage({ log });
        h = await startEngineHarness({ log });
        node = await startRealNode(h.cp, { log });
        [tag] = importImage(node, image.archive, IMAGE_REPOSITORY);
        tagImage(node, tag!, UPGRADED);

        sshd = await startSshd();
        mirror = await startNpmMirror({ lockfile: JSON.parse(fs.readFileSync(path.join(ROOT, "package-lock.json"), "utf8")) });
        github = await GitHubDouble.forPreviews(REPOSITORY, GITHUB_TOKEN);
        const [api, gitRelay, npm, gh] = await Promise.all([relay(POD_GATEWAY, Number(new URL(h.cp.server).port)), relay(POD_GATEWAY, sshd.port), relay(POD_GATEWAY, Number(new URL(mirror.url).port)), relay(POD_GATEWAY, Number(new URL(github.url).port))]);
        relays.push(api!, gitRelay!, npm!, gh!);

        repo = makeRepo();
        const state = new URL(h.env.PULUMI_BACKEND_URL!).pathname;
        // The revision carries what an air-gapped cluster's repository would: the charts, and the mirror to install from.
        const charts = upstream().charts;
        for (const c of CHART_NAMES) fs.cpSync(charts[c], path.join(h.projectDir, "vendor", "charts", c), { recursive: true });
        fs.writeFileSync(path.join(h.projectDir, ".npmrc"), `registry=http://${POD_GATEWAY}:${npm!.port}/\n`);
        const onRealNode: AgentOnRealNode = { nodeKey: REAL_NODE_KEY, gateway: POD_GATEWAY, apiserverPort: api!.port, state: { hostPath: state, mountPath: STATE_MOUNT } };
        // The preview pods the agent will start get the same pinning and route, from the cluster's admission.
        for (const o of previewPodsOnRealNode(onRealNode, PREVIEW_NS)) h.cp.kubectl(["apply", "-f", "-"], JSON.stringify(o));
        s = await h.stack(STACK, "dev", {
            secrets: ["adminPassword", "sealingKeyPem", "sealingCertPem", "agentSyncToken"],
            extra: {
                previewIdentity: true,
                charts: Object.fromEntries(CHART_NAMES.map((c) => [c, { path: `./vendor/charts/${c}` }])),
                agent: {
                    image: tag,
                    repoUrl: `ssh://${sshd.user}@${POD_GATEWAY}:${gitRelay!.port}${repo.bare}`,
                    knownHosts: `[${POD_GATEWAY}]:${gitRelay!.port} ${sshd.knownHostsLine.split(" ").slice(1).join(" ")}`,
                    pollIntervalSeconds: 5,
                    driftIntervalSeconds: 0,
                    backendUrl: `file://${STATE_MOUNT}`,
                    secretsProvider: "passphrase",
                    // No webhook here: the leader looks for pull requests at each poll.
                    previews: { repository: REPOSITORY, writers: true, apiUrl: `http://${POD_GATEWAY}:${gh!.port}`, timeoutSeconds: APPLY_MS / 1000 },
                },
            },
        });
        configFile = s.configFile;
        await s.stack.setAllConfig({
            [`${PROJECT}:agentDeployKey`]: { value: fs.readFileSync(sshd.clientKeyFile, "utf8"), secret: true },
            [`${PROJECT}:agentEngineEnv`]: { value: JSON.stringify({ PULUMI_CONFIG_PASSPHRASE: h.env.PULUMI_CONFIG_PASSPHRASE }), secret: true },
            [`${PROJECT}:agentGitHubToken`]: { value: GITHUB_TOKEN, secret: true },
            "harness:agentOnRealNode": { value: JSON.stringify(onRealNode) },
        });
        commitProject("the platform with its agent");
        await s.run("up");
        // The pod's user writes the state from now on (locks, history, checkpoints).
        for (const f of [state, ...fs.readdirSync(state, { recursive: true, encoding: "utf8" }).map((f) => path.join(state, f))]) fs.chownSync(f, 10001, 10001);
        stateHandedOver = Date.now();
    });
    after(() =>
        teardown(
            () => node?.stop(),
            ...relays.map((r) => () => r.close()),
            () => mirror?.close(),
            () => github?.close(),
            () => sshd?.stop(),
            () => h?.stop(),
            () => release?.(),
        ));

    it("runs on the real node from the image, as declared: Ready, user 10001, read-only root, its deploy key from the Secret's file", async () => {
        h.cp.kubectl(["rollout", "status", `deployment/${AGENT_DEFAULTS.name}`, "-n", NS, "--timeout=300s"]);
        const [pod] = pods();
        assert.ok(pod && ready(pod));
        assert.equal(pod.spec.nodeName, node.name);
        assert.equal(pod.spec.containers[0]!.image, tag);
        const exec = (cmd: string[]) => h.cp.kubectl(["exec", "-n", NS, pod.metadata.name, "--", ...cmd]).trim();
        assert.equal(exec(["id", "-u"]), "10001");
        assert.throws(() => exec(["touch", "/x"]), /Read-only file system/);
        assert.match(exec(["ls", "/etc/openfaas-gitops-agent/git"]), /identity/);
        const health = await fetch(`http://${pod.status.podIP}:${AGENT_DEFAULTS.port}/healthz`);
        assert.equal(health.status, 200);
    });

    it("applies the revision it fetched over ssh, with dependencies from the mirror the .npmrc names; meeting the bootstrap's lock, it retries and never breaks it", async () => {
        const { status } = await appliedBy(heads[0]!);
        assert.equal(status.history[0]?.revision, heads[0]);
        assert.equal(status.history[0]?.result, "succeeded", JSON.stringify(status.history[0]));
        // The pod starts while the bootstrap's `pulumi up` still runs (its Deployment is not awaited)
        // and reads the same revision: a first attempt may meet that run's lock, as on a user's cluster.
        // Until the state is handed over, the directories the bootstrap (root) created refuse the pod's
        // user: an artifact of this fixture sharing a host directory between two users, which an
        // object store does not have. A run that started then may fail with that; none later.
        for (const r of status.history.filter((r) => r.result !== "succeeded")) {
            assert.equal(r.result, "failed", JSON.stringify(r));
            if (/permission denied/.test(r.message ?? "") && Date.parse(r.startedAt) < stateHandedOver) continue;
            assert.match(r.message ?? "", /currently locked[^]*is not a crashed run of this agent[^]*left alone/, JSON.stringify(r));
        }
        assert.ok(mirror.requests.some((r) => r.path.endsWith(".tgz") && r.status === 200), "nothing was installed from the mirror");
    });

    it("upgrades itself through git: the new pod takes over and applies the next commit; no run is left cancelled or waiting", async () => {
        const first = pods()[0]!.metadata.name;
        editConfig((c) => ((c[`${PROJECT}:agent`] as Record<string, unknown>).image = UPGRADED));
        const upgrade = commitProject("the agent's next image");
        await appliedBy(upgrade);
        keepView("after the upgrade commit's apply");
        await until("the rollout to the upgraded image", () => {
            const now = pods();
            return now.length === 1 && now[0]!.metadata.name !== first && now[0]!.spec.containers[0]!.image === UPGRADED && ready(now[0]!) && holder() === now[0]!.metadata.name ? true : undefined;
        }, APPLY_MS);
        keepView("after the rollout");
        editConfig((c) => (c[`${PROJECT}:gatewayReplicas`] = 2));
        const next = commitProject("two gateways");
        const { pod, status } = await appliedBy(next);
        assert.notEqual(pod.metadata.name, first);
        assert.equal(JSON.parse(h.cp.kubectl(["get", "deployment", "gateway", "-n", "openfaas", "-o", "json"])).spec.replicas, 2);
        const runs = status.history.map((r) => `${r.revision.slice(0, 12)} ${r.kind} ${r.result} ${(r.durationMs / 1000).toFixed(1)} s`);
        log(`runs, newest first: ${runs.join("; ")}`);
        for (const rev of [upgrade, next]) assert.ok(status.history.some((r) => r.revision === rev && r.result === "succeeded"), `${rev.slice(0, 12)} not applied: ${runs.join("; ")}\n${seen.join("\n")}`);
        assert.ok(status.history.filter((r) => r.revision === upgrade || r.revision === next).every((r) => r.result === "succeeded"), runs.join("; "));
        assert.equal(status.nextRetryAt, undefined);
        assert.equal(status.running, undefined);
        assert.equal(pod.status.containerStatuses?.[0]?.restartCount, 0);
    });

    it("previews a pull request in a pod of its own, from the agent's image on the real node: the agent's dependencies, a green status and a comment listing the update, nothing left", async () => {
        const installsBefore = mirror.requests.length;
        const file = yaml.load(fs.readFileSync(configFile, "utf8")) as { config: Record<string, unknown> };
        const head = repo.pullRequest(1, { [path.relative(h.projectDir, configFile)]: yaml.dump({ ...file, config: { ...file.config, [`${PROJECT}:gatewayReplicas`]: 3 } }) });
        github.pulls.push({ number: 1, headSha: head, headRepository: REPOSITORY, baseRef: "main", author: "alice" });
        // The preview's pod lives as long as its preview: each one seen is kept, with what it logged.
        const previewPods = new Map<string, Pod>();
        const podLogs = new Map<string, string>();
        const deadline = Date.now() + APPLY_MS;
        let status: (typeof github.statuses)[number] | undefined;
        while (!(status = github.statuses.find((st) => st.sha === head && st.state !== "pending"))) {
            for (const p of JSON.parse(h.cp.kubectl(["get", "pods", "-n", PREVIEW_NS, "-o", "json"])).items as Pod[]) {
                previewPods.set(p.metadata.name, p);
                try {
                    if (p.status.phase === "Running") podLogs.set(p.metadata.name, h.cp.kubectl(["logs", "-n", PREVIEW_NS, p.metadata.name, "--limit-bytes=1000000"]));
                } catch {
                    // deleted since the listing: its preview is over, and the logs kept are its last
                }
            }
            if (Date.now() > deadline) throw new Error(`no status for ${head.slice(0, 12)}: pods ${JSON.stringify([...previewPods.values()].map((p) => p.status))}\n${h.cp.kubectl(["logs", "-n", NS, `deployment/${AGENT_DEFAULTS.name}`, "--tail=30"])}`);
            await new Promise((r) => setTimeout(r, 2000));
        }
        const comment = github.comments.find((c) => c.issue === 1);
        const told = `${status.description}\n${comment?.body}\n${[...podLogs.values()].join("\n").slice(-4000)}`;
        assert.equal(status.state, "success", told);
        assert.match(comment?.body ?? "", /kubernetes:apps\/v1:Deployment::openfaas-chart:openfaas\/gateway \(update\)/, told);
        assert.match(comment?.body ?? "", new RegExp(`at \`${head.slice(0, 12)}\``), told);
        // It ran where the harness's admission put it, from the image the agent runs.
        assert.equal(previewPods.size, 1, told);
        const [pod] = [...previewPods.values()];
        assert.equal(pod!.spec.nodeName, node.name);
        assert.equal(pod!.spec.containers[0]!.image, UPGRADED);
        // The pull request kept the branch's lockfile: the pod unpacked the agent's node_modules and installed nothing.
        assert.match([...podLogs.values()].join("\n"), /dependencies: the agent's, for the same lockfile/, told);
        assert.equal(mirror.requests.length, installsBefore, "the preview pod installed from the mirror");
        // The agent deleted the Job, and with it the pod and the Secret holding its token.
        await until("the preview's Job, pod and Secret to be gone", () => (h.cp.kubectl(["get", "jobs,pods,secrets", "-n", PREVIEW_NS, "-l", "app.kubernetes.io/managed-by=openfaas-gitops-agent", "-o", "name"]).trim() === "" ? true : undefined), 120_000);
        assert.deepEqual(github.invalid(), []);
    });

    it("every socket of the relays' process is on loopback or the node's bridge", () => {
        const bridge = `${POD_GATEWAY.split(".").slice(0, 3).join(".")}.`;
        const sockets = socketsOf(process.pid);
        assert.ok(sockets.some((sk) => sk.local.startsWith(bridge)), "no relay socket read");
        for (const sk of sockets) assert.ok(onLoopback(sk) || (sk.local.startsWith(bridge) && (sk.remote.startsWith(bridge) || sk.remote.startsWith("0.0.0.0"))), JSON.stringify(sk));
    });
});
