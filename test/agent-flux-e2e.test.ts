/**
 * The agent process in flux mode end to end with the REAL engine and the REAL Flux
 * source-controller: a commit to a real git repository (served by `git http-backend`) becomes a
 * GitRepository artifact; the agent, started as deployed with AGENT_SOURCE=flux (no repository URL,
 * no git credentials), watches it, verifies and extracts the artifact and applies it with a real
 * `up` (CLI + provider built from their Go modules) against the real kube-apiserver. Status,
 * metrics and the Flux events it posts name Flux's revision. A local HTTP server stands in for
 * notification-controller's event endpoint (a TEST DOUBLE that only records; the payloads' schema is
 * checked against Flux's own type in test/agent-flux-events.test.ts).
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as http from "node:http";
import { AddressInfo } from "node:net";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import * as yaml from "js-yaml";
import { gitRepositorySpec } from "../components/flux";
import { controlPlaneAvailable } from "../tools/controlplane";
import { engineAvailable } from "../tools/engine";
import { serveGit } from "../tools/git-http";
import { SourceController, startSourceController } from "../tools/source-controller";
import { EngineHarness, projectCopy, startEngineHarness } from "./support/engine";
import { makeRepo, Repo } from "./support/gitrepo";
import { AgentProcess, startAgent } from "./support/agent-process";
import { EventsRecorder, startEventsRecorder } from "./support/flux-events-recorder";
import { until } from "./support/wait";

const available = engineAvailable() && controlPlaneAvailable();

describe("agent in flux mode end to end with the real engine and source-controller", { skip: !available && "no Go toolchain and no cached engine" }, () => {
    let h: EngineHarness;
    let sc: SourceController;
    let git: http.Server;
    let notifications: EventsRecorder;
    let agent: AgentProcess;
    let repo: Repo;
    let base = "";
    const STACK = "dev";
    let stackFile = "";

    before(async () => {
        h = await startEngineHarness({ log: (l) => console.log(`# ${l}`) });
        h.cp.kubectl(["create", "namespace", "openfaas-gitops"]);
        h.cp.kubectl(["create", "namespace", "flux-system"]);
        const stack = await h.stack(STACK, "dev", { secrets: ["adminPassword", "sealingKeyPem", "sealingCertPem"] });
        repo = makeRepo();
        projectCopy(repo.work);
        fs.appendFileSync(path.join(repo.work, ".gitignore"), "node_modules\nseen-env.json\n");
        stackFile = fs.readFileSync(stack.configFile, "utf8");
        repo.commit({ [`stacks/Pulumi.${STACK}.yaml`]: stackFile }, "platform");

        git = http.createServer((req, res) => serveGit(path.dirname(repo.bare), req, res));
        notifications = await startEventsRecorder();
        await new Promise<void>((r) => git.listen(0, "127.0.0.1", () => r()));
        sc = await startSourceController(h.cp.kubeconfig);
        const url = `http://127.0.0.1:${(git.address() as AddressInfo).port}/remote.git`;
        h.cp.kubectl(["apply", "--server-side", "-f", "-"], yaml.dump(gitRepositorySpec("flux-system", { repoUrl: url, branch: "main", interval: "5s" })));

        agent = await startAgent({
            ...h.env,
            AGENT_SOURCE: "flux", AGENT_FLUX_NAMESPACE: "flux-system", AGENT_FLUX_SOURCE: "openfaas-gitops",
            AGENT_FLUX_EVENTS_URL: notifications.url,
            AGENT_STACK: STACK, AGENT_SECRETS_PROVIDER: "passphrase",
            AGENT_POLL_INTERVAL: "3600",
            POD_NAMESPACE: "openfaas-gitops", POD_NAME: "agent-flux-e2e", AGENT_DRIFT_INTERVAL: "0",
        }, { dependencyCache: true });
        base = agent.base;
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
        conditions: Record<string, { status: string; reason: string; message: string }>;
    };

    it("applies the GitRepository's artifact with a real up: the platform appears; status, metrics and Flux events name Flux's revision", async () => {
        const artifact = await until("the artifact", () => JSON.parse(h.cp.kubectl(["-n", "flux-system", "get", "gitrepository", "openfaas-gitops", "-o", "json"])).status?.artifact as { revision: string } | undefined);
        const revision = artifact.revision;
        assert.match(revision, /^main@sha1:[0-9a-f]{40}$/);
        await until("the apply", () => (status().lastAppliedRevision === revision ? true : undefined), 600_000).catch((e) => assert.fail(`${e}\n${agent.logs().slice(-4000)}`));
        assert.equal(status().conditions.Ready!.reason, "Applied", agent.logs());
        assert.match(h.cp.kubectl(["get", "deployment", "gateway", "-n", "openfaas", "-o", "name"]), /gateway/);
        assert.match(h.cp.kubectl(["get", "deployment", "nodeinfo", "-n", "openfaas-fn", "-o", "name"]), /nodeinfo/);
        const metrics = await (await fetch(`${base}/metrics`)).text();
        assert.match(metrics, new RegExp(`openfaas_gitops_revision_info\\{revision="${revision}"\\} 1`));
        await until("the Applied events", () => (notifications.received.filter((e) => e.reason === "Applied").length >= 2 ? true : undefined), 10_000);
        const applied = notifications.received.filter((e) => e.reason === "Applied");
        assert.deepEqual(applied.map((e) => e.metadata), [
            { "source.toolkit.fluxcd.io/revision": revision },
            { "source.toolkit.fluxcd.io/revision": revision, "source.toolkit.fluxcd.io/commit_status": "update" },
        ]);
        assert.ok(!/git ls-remote|known_hosts/.test(agent.logs()), "no git work in flux mode");
    });

    it("applies the next commit's artifact when source-controller publishes it (no sync request: the watch)", async () => {
        const doc = yaml.load(stackFile) as { config: Record<string, unknown> };
        doc.config["openfaas-gitops:gatewayReplicas"] = 2;
        const head = repo.commit({ [`stacks/Pulumi.${STACK}.yaml`]: yaml.dump(doc) }, "two gateways");
        await until("the second apply", () => (status().lastAppliedRevision === `main@sha1:${head}` ? true : undefined), 600_000).catch((e) => assert.fail(`${e}\n${agent.logs().slice(-4000)}`));
        assert.equal(JSON.parse(h.cp.kubectl(["get", "deployment", "gateway", "-n", "openfaas", "-o", "json"])).spec.replicas, 2);
    });
});
