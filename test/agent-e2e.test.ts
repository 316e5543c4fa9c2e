/**
 * The agent process end to end with the REAL engine (CLI + provider built from their Go modules)
 * against the real kube-apiserver, in both of its source modes on one stack, as an operator moving
 * an agent from git to Flux would:
 * - git mode: a commit to a real git repository is picked up and applied by a real `up`, and the
 *   objects appear; a second commit changing one value is applied after `POST /sync`;
 * - then the agent is restarted in flux mode (AGENT_SOURCE=flux: no repository URL, no git
 *   credentials) on the same stack, state and cluster: the REAL Flux source-controller turns the
 *   same repository (served by `git http-backend`) into a GitRepository artifact, which the agent
 *   verifies, extracts and applies; the next commit's artifact is applied through the watch alone.
 * Status, Events, metrics and the Flux events it posts say so. Last, the flux-mode agent previews a
 * pull request (issue 22) from GitHub's tarball of its head (the GitHub double,
 * test/support/github-double.ts, serves it through the codeload redirect), its pod run by the
 * kubelet double (test/support/preview-pod-double.ts) under the preview identity the stack made. A local HTTP server stands in for
 * notification-controller's event endpoint (a TEST DOUBLE that only records; the payloads' schema is
 * checked against Flux's own type in test/agent-flux-events.test.ts). The committed project
 * registers the harness stand-ins in its own index.ts (test/support/engine.ts projectCopy); the
 * agent runs exactly as deployed.
 */
import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import { AddressInfo } from "node:net";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import * as yaml from "js-yaml";
import { gitRepositorySpec } from "../components/flux/source";
import { controlPlaneAvailable } from "../tools/controlplane";
import { engineAvailable } from "../tools/engine";
import { serveGit } from "../tools/git-http";
import { SourceController, startSourceController } from "../tools/source-controller";
import { EngineHarness, projectCopy, startEngineHarness } from "./support/engine";
import { makeRepo, Repo } from "./support/gitrepo";
import { AgentProcess, startAgent } from "./support/agent-process";
import { GitHubDouble } from "./support/github-double";
import { startPreviewPodDouble } from "./support/preview-pod-double";
import { PREVIEW_NS, previewIdentityKubeconfig, REPOSITORY } from "./support/preview-world";
import { EventsRecorder, startEventsRecorder } from "./support/flux-events-recorder";
import { until } from "./support/wait";
import { tempDir } from "./support/tmp";

const available = engineAvailable() && controlPlaneAvailable();

describe("agent end to end with the real engine: git mode, then flux mode on the same stack", { skip: !available && "no Go toolchain and no cached engine" }, () => {
    let h: EngineHarness;
    let agent: AgentProcess | undefined;
    let repo: Repo;
    let sc: SourceController | undefined;
    let git: http.Server | undefined;
    let notifications: EventsRecorder | undefined;
    const STACK = "dev";
    const token = crypto.randomBytes(16).toString("hex");
    let stackFile = "";
    /** The last commit pushed. */
    let head = "";
    // The agent's settings in both modes: one stack, one namespace, no periodic work of its own.
    let common: Record<string, string> = {};

    before(async () => {
        h = await startEngineHarness({ log: (l) => console.log(`# ${l}`) });
        h.cp.kubectl(["create", "namespace", "openfaas-gitops"]);
        // The stack's encrypted config as `pulumi config set --secret` leaves it; committed with the project.
        const stack = await h.stack(STACK, "dev", { secrets: ["adminPassword", "sealingKeyPem", "sealingCertPem"] });
        stackFile = fs.readFileSync(stack.configFile, "utf8");
        repo = makeRepo();
        projectCopy(repo.work);
        fs.appendFileSync(path.join(repo.work, ".gitignore"), "node_modules\nseen-env.json\n");
        repo.commit({ [`stacks/Pulumi.${STACK}.yaml`]: stackFile }, "platform");
        common = { ...h.env, AGENT_STACK: STACK, AGENT_SECRETS_PROVIDER: "passphrase", AGENT_POLL_INTERVAL: "3600", AGENT_DRIFT_INTERVAL: "0", POD_NAMESPACE: "openfaas-gitops" };
    });
    after(async () => {
        await agent?.stop();
        await sc?.stop();
        git?.close();
        notifications?.close();
        await h?.stop();
    });

    const status = () => JSON.parse(h.cp.kubectl(["get", "configmap", "openfaas-gitops-agent-status", "-n", "openfaas-gitops", "-o", "jsonpath={.data.status\\.json}"])) as {
        lastAppliedRevision?: string;
        conditions: Record<string, { status: string; reason: string }>;
    };
    const gatewayReplicas = () => JSON.parse(h.cp.kubectl(["get", "deployment", "gateway", "-n", "openfaas", "-o", "json"])).spec.replicas as number;
    /** Commits the stack file with `gatewayReplicas` set; returns the commit. */
    const commitGatewayReplicas = (n: number) => {
        const doc = yaml.load(stackFile) as { config: Record<string, unknown> };
        doc.config["openfaas-gitops:gatewayReplicas"] = n;
        return repo.commit({ [`stacks/Pulumi.${STACK}.yaml`]: yaml.dump(doc) }, `${n} gateways`);
    };
    const applied = (revision: string) => until(`${revision} applied`, () => (status().lastAppliedRevision === revision ? true : undefined), 600_000).catch((e) => assert.fail(`${e}\n${agent?.logs().slice(-4000)}`));

    it("git mode: applies the branch head with a real up: the platform appears, status and metrics say so", async () => {
        const tokenFile = path.join(tempDir("ofg-agent-e2e-"), "token");
        fs.writeFileSync(tokenFile, token);
        agent = await startAgent({ ...common, AGENT_REPO_URL: `file://${repo.bare}`, AGENT_SYNC_TOKEN_FILE: tokenFile, POD_NAME: "agent-e2e-git" }, { dependencyCache: true });
        head = repo.commit({ "README.md": "platform\n" }, "touch");
        await applied(head);
        assert.equal(status().conditions.Ready!.reason, "Applied", agent.logs());
        assert.match(h.cp.kubectl(["get", "deployment", "gateway", "-n", "openfaas", "-o", "name"]), /gateway/);
        assert.match(h.cp.kubectl(["get", "deployment", "nodeinfo", "-n", "openfaas-fn", "-o", "name"]), /nodeinfo/);
        const metrics = await (await fetch(`${agent.base}/metrics`)).text();
        assert.match(metrics, /openfaas_gitops_runs_total\{kind="apply",result="succeeded"\} 1/);
        assert.match(metrics, new RegExp(`openfaas_gitops_revision_info\\{revision="${head}"\\} 1`));
        // The Event is written after the status ConfigMap the wait above reads.
        await until("the Applied Event", () => (/Applied/.test(h.cp.kubectl(["get", "events", "-n", "openfaas-gitops", "-o", "jsonpath={.items[*].reason}"])) ? true : undefined), 60_000);
    });

    it("git mode: applies the next commit's change when asked to sync", async () => {
        head = commitGatewayReplicas(2);
        assert.equal((await fetch(`${agent!.base}/sync`, { method: "POST", headers: { Authorization: `Bearer ${token}` } })).status, 202);
        await applied(head);
        assert.equal(gatewayReplicas(), 2);
        await agent!.waitForLog(/gateway/);
    });

    it("flux mode on the same stack: applies the GitRepository's artifact with a real up; status, metrics and Flux events name Flux's revision", async () => {
        assert.equal(await agent!.stop(), 0, "the git-mode agent stops cleanly, releasing its Lease");
        h.cp.kubectl(["create", "namespace", "flux-system"]);
        const server = http.createServer((req, res) => serveGit(path.dirname(repo.bare), req, res));
        git = server;
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
        notifications = await startEventsRecorder();
        sc = await startSourceController(h.cp.kubeconfig);
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/remote.git`;
        h.cp.kubectl(["apply", "--server-side", "-f", "-"], yaml.dump(gitRepositorySpec("flux-system", { repoUrl: url, branch: "main", interval: "5s" })));
        agent = await startAgent({
            ...common,
            AGENT_SOURCE: "flux", AGENT_FLUX_NAMESPACE: "flux-system", AGENT_FLUX_SOURCE: "openfaas-gitops", AGENT_FLUX_EVENTS_URL: notifications.url,
            POD_NAME: "agent-e2e-flux",
        }, { dependencyCache: true });

        const artifact = await until("the artifact", () => JSON.parse(h.cp.kubectl(["-n", "flux-system", "get", "gitrepository", "openfaas-gitops", "-o", "json"])).status?.artifact as { revision: string } | undefined);
        const revision = artifact.revision;
        assert.equal(revision, `main@sha1:${head}`);
        await applied(revision);
        assert.equal(status().conditions.Ready!.reason, "Applied", agent.logs());
        assert.equal(gatewayReplicas(), 2, "the same commit in flux mode changes nothing");
        const metrics = await (await fetch(`${agent.base}/metrics`)).text();
        assert.match(metrics, new RegExp(`openfaas_gitops_revision_info\\{revision="${revision}"\\} 1`));
        const recorder = notifications;
        await until("the Applied events", () => (recorder.received.filter((e) => e.reason === "Applied").length >= 2 ? true : undefined), 60_000);
        assert.deepEqual(recorder.received.filter((e) => e.reason === "Applied").map((e) => e.metadata), [
            { "source.toolkit.fluxcd.io/revision": revision },
            { "source.toolkit.fluxcd.io/revision": revision, "source.toolkit.fluxcd.io/commit_status": "update" },
        ]);
        assert.ok(!/git ls-remote|known_hosts/.test(agent.logs()), "no git work in flux mode");
    });

    it("flux mode: applies the next commit's artifact when source-controller publishes it (no sync request: the watch)", async () => {
        head = commitGatewayReplicas(3);
        await applied(`main@sha1:${head}`);
        assert.equal(gatewayReplicas(), 3);
    });

    it("flux mode: previews a pull request from GitHub's tarball of its head (no git), posts a green status and the update; the Job is gone after", async (t) => {
        // The stack makes the preview identity, applied from the artifact like any change.
        const doc = yaml.load(stackFile) as { config: Record<string, unknown> };
        Object.assign(doc.config, { "openfaas-gitops:gatewayReplicas": 3, "openfaas-gitops:previewIdentity": true });
        head = repo.commit({ [`stacks/Pulumi.${STACK}.yaml`]: yaml.dump(doc) }, "the preview identity");
        await applied(`main@sha1:${head}`);
        const kubeconfig = await previewIdentityKubeconfig(h);
        // The pull request scales the gateway to 4; GitHub serves its head as <owner>-<repo>-<sha>/.
        const prHead = repo.pullRequest(1, { [`stacks/Pulumi.${STACK}.yaml`]: yaml.dump({ ...doc, config: { ...doc.config, "openfaas-gitops:gatewayReplicas": 4 } }) });
        const ghToken = "ghs_e2e_flux_preview_token_1234";
        const github = await GitHubDouble.forPreviews(REPOSITORY, ghToken);
        const pods = startPreviewPodDouble(h.cp, PREVIEW_NS, { kubeconfig, env: { PATH: h.env.PATH! }, log: (l) => console.log(`# ${l}`) });
        try {
            github.archives.set(prHead, execFileSync("git", ["archive", "--format=tar.gz", `--prefix=acme-platform-${prHead.slice(0, 7)}/`, prHead], { cwd: repo.work }));
            github.pulls.push({ number: 1, headSha: prHead, headRepository: REPOSITORY, baseRef: "main", author: "alice" });
            const tokenFile = path.join(tempDir("ofg-agent-e2e-gh-"), "token");
            fs.writeFileSync(tokenFile, ghToken);
            assert.equal(await agent!.stop(), 0);
            agent = await startAgent({
                ...common,
                AGENT_SOURCE: "flux", AGENT_FLUX_NAMESPACE: "flux-system", AGENT_FLUX_SOURCE: "openfaas-gitops", AGENT_FLUX_EVENTS_URL: notifications!.url,
                POD_NAME: "agent-e2e-flux-previews",
                // The leader looks for pull requests at each poll (no webhook here).
                AGENT_POLL_INTERVAL: "5",
                AGENT_PREVIEW_REPOSITORY: REPOSITORY, AGENT_GITHUB_TOKEN_FILE: tokenFile, AGENT_GITHUB_API_URL: github.url,
                AGENT_PREVIEW_IMAGE: "openfaas-gitops-agent:test", POD_IP: "127.0.0.1",
                // No simulated node may take the pod (one would "complete" it at once): the kubelet double runs it.
                AGENT_PREVIEW_NODE_SELECTOR: "openfaas-gitops.dev/test=no-such-node",
            }, { dependencyCache: true });
            const st = await until("the preview's status", () => github.statuses.find((s) => s.sha === prHead && s.state !== "pending"), 600_000)
                .catch((e) => assert.fail(`${e}\n${agent!.logs().slice(-4000)}\n${pods.ran.map((p) => p.output.slice(-2000)).join("\n")}`));
            const comment = github.comments.find((c) => c.issue === 1)?.body ?? "";
            // The rounds as the agent logged them: why a round that failed before its pod failed is on record.
            // As the test's diagnostics: the reporter prints those whatever runs beside this file.
            for (const line of agent.logs().split("\n").filter((l) => l.includes("previews:"))) t.diagnostic(line.slice(0, 600));
            assert.equal(st.state, "success", `${st.description}\n${comment}`);
            assert.match(comment, /kubernetes:apps\/v1:Deployment::openfaas-chart:openfaas\/gateway \(update\)/);
            // From GitHub's tarball; a round that failed before its pod (the new agent's first look at
            // the GitRepository, seen in CI) fetches it once more at the next.
            assert.ok(github.requests.some((r) => r.target.startsWith("/_codeload/")), "the head came from GitHub's tarball");
            assert.ok(!/refs\/pull|git fetch|ls-remote/.test(agent.logs()), "no git work in flux mode");
            assert.equal(pods.ran.length, 1);
            await pods.ran[0]!.exited;
            assert.match(pods.ran[0]!.output, /dependencies: the agent's, for the same lockfile/);
            await until("the preview's Job to be gone", () => (h.cp.kubectl(["get", "jobs", "-n", PREVIEW_NS, "-o", "name"]).trim() === "" ? true : undefined), 60_000);
            assert.equal(gatewayReplicas(), 3, "a preview changes nothing");
            assert.deepEqual(github.invalid(), []);
        } finally {
            await pods.stop();
            await github.close();
        }
    });
});
