/**
 * The agent process end to end with the REAL engine: a commit to a real git repository is picked
 * up, applied by a real `up` (CLI + provider built from their Go modules) against the real
 * kube-apiserver, and the objects appear; a second commit changes one value and is applied too.
 * Status, Events and metrics say so. The committed project registers the no-kubelet harness in its
 * own index.ts (test/support/engine.ts projectCopy); the agent runs exactly as deployed.
 */
import { strict as assert } from "node:assert";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import * as yaml from "js-yaml";
import { controlPlaneAvailable } from "../tools/controlplane";
import { engineAvailable } from "../tools/engine";
import { EngineHarness, projectCopy, startEngineHarness } from "./support/engine";
import { makeRepo, Repo } from "./support/gitrepo";
import { AgentProcess, startAgent } from "./support/agent-process";
import { until } from "./support/wait";

const available = engineAvailable() && controlPlaneAvailable();


describe("agent end to end with the real engine", { skip: !available && "no Go toolchain and no cached engine" }, () => {
    let h: EngineHarness;
    let agent: AgentProcess;
    let repo: Repo;
    let base = "";
    const STACK = "dev";
    const token = crypto.randomBytes(16).toString("hex");
    let stackFile = "";

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

        const tokenFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "ofg-agent-e2e-")), "token");
        fs.writeFileSync(tokenFile, token);
        agent = await startAgent({
            ...h.env,
            AGENT_REPO_URL: `file://${repo.bare}`, AGENT_STACK: STACK, AGENT_SECRETS_PROVIDER: "passphrase",
            AGENT_SYNC_TOKEN_FILE: tokenFile, AGENT_POLL_INTERVAL: "3600",
            POD_NAMESPACE: "openfaas-gitops", POD_NAME: "agent-e2e", AGENT_DRIFT_INTERVAL: "0",
        }, { dependencyCache: true });
        base = agent.base;
    });
    after(async () => {
        await agent?.stop();
        await h?.stop();
    });

    const status = () => JSON.parse(h.cp.kubectl(["get", "configmap", "openfaas-gitops-agent-status", "-n", "openfaas-gitops", "-o", "jsonpath={.data.status\\.json}"])) as {
        lastAppliedRevision?: string;
        conditions: Record<string, { status: string; reason: string }>;
    };

    it("applies the branch head with a real up: the platform appears, status and metrics say so", async () => {
        const head = repo.commit({ "README.md": "platform\n" }, "touch");
        await until("the first apply", () => (status().lastAppliedRevision === head ? true : undefined));
        assert.equal(status().conditions.Ready!.reason, "Applied", agent.logs());
        assert.match(h.cp.kubectl(["get", "deployment", "gateway", "-n", "openfaas", "-o", "name"]), /gateway/);
        assert.match(h.cp.kubectl(["get", "deployment", "nodeinfo", "-n", "openfaas-fn", "-o", "name"]), /nodeinfo/);
        const metrics = await (await fetch(`${base}/metrics`)).text();
        assert.match(metrics, /openfaas_gitops_runs_total\{kind="apply",result="succeeded"\} 1/);
        assert.match(metrics, new RegExp(`openfaas_gitops_revision_info\\{revision="${head}"\\} 1`));
        assert.match(h.cp.kubectl(["get", "events", "-n", "openfaas-gitops", "-o", "jsonpath={.items[*].reason}"]), /Applied/);
    });

    it("applies the next commit's change when asked to sync", async () => {
        const doc = yaml.load(stackFile) as { config: Record<string, unknown> };
        doc.config["openfaas-gitops:gatewayReplicas"] = 2;
        const head = repo.commit({ [`stacks/Pulumi.${STACK}.yaml`]: yaml.dump(doc) }, "two gateways");
        assert.equal((await fetch(`${base}/sync`, { method: "POST", headers: { Authorization: `Bearer ${token}` } })).status, 202);
        await until("the second apply", () => (status().lastAppliedRevision === head ? true : undefined));
        assert.equal(JSON.parse(h.cp.kubectl(["get", "deployment", "gateway", "-n", "openfaas", "-o", "json"])).spec.replicas, 2);
        assert.match(agent.logs(), /gateway/);
    });
});
