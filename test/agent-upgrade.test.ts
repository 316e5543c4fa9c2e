/**
 * An agent upgrade as the Deployment rolls it (RollingUpdate, components/gitops-agent.ts), with two
 * whole agent processes on the real kube-apiserver, a real git repository and the real engine (the
 * Pulumi CLI from the tools cache; the revision's program declares no resource and takes a while,
 * standing in for an update that applies the agent's own Deployment):
 * - the old agent is Ready while its first apply still runs (readiness is the first check of the
 *   source, not the first apply);
 * - the new agent starts beside it and is Ready as a follower;
 * - SIGTERM to the old one during the apply: the apply finishes within the grace period, the
 *   process exits 0 and hands over the Lease;
 * - the new one leads, sees the revision applied and does not apply it again.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { ControlPlane, controlPlaneAvailable, startControlPlane } from "../tools/controlplane";
import { engineAvailable, ensureEngine } from "../tools/engine";
import { ROOT } from "./helpers";
import { AgentProcess, startAgent } from "./support/agent-process";
import { makeRepo } from "./support/gitrepo";
import { until } from "./support/wait";
import { tempDir } from "./support/tmp";

const available = controlPlaneAvailable() && engineAvailable();
/**
 * The revision's program runs until the test opens its gate (a file), so the second agent's start
 * and the signal to the first happen mid-apply however loaded the machine is; at most this long.
 */
const PROGRAM_MAX_MS = 300_000;

type Status = { lastAppliedRevision?: string; running?: { revision: string }; history: { kind: string; result: string; revision: string }[] };

describe("agent upgrade: the new pod is Ready beside the old one, which finishes its update on SIGTERM", { skip: !available && "no Go toolchain and no cached engine" }, () => {
    let cp: ControlPlane;
    const agents: AgentProcess[] = [];
    let env: Record<string, string> = {};
    let head = "";
    let gate = "";

    before(async () => {
        const binaries = ensureEngine();
        cp = await startControlPlane();
        cp.kubectl(["create", "namespace", "openfaas-gitops"]);
        const dir = tempDir("ofg-upgrade-");
        fs.mkdirSync(path.join(dir, "state"));
        gate = path.join(dir, "gate");
        const repo = makeRepo();
        // This project's package files: the dependency cache the harness seeds (this node_modules) matches their lockfile.
        head = repo.commit({
            "Pulumi.yaml": "name: upgrade-test\nruntime: nodejs\n",
            "index.ts": [
                `import * as fs from "node:fs";`,
                `const started = Date.now();`,
                `export const slept = new Promise<string>((resolve) => {`,
                `    const look = () => (fs.existsSync(${JSON.stringify(gate)}) || Date.now() - started > ${PROGRAM_MAX_MS} ? resolve("done") : setTimeout(look, 200));`,
                `    look();`,
                `});`,
                ``,
            ].join("\n"),
            "package.json": fs.readFileSync(path.join(ROOT, "package.json"), "utf8"),
            "package-lock.json": fs.readFileSync(path.join(ROOT, "package-lock.json"), "utf8"),
            "stacks/Pulumi.dev.yaml": "config: {}\n",
            ".gitignore": "node_modules\n",
        }, "a slow revision");
        env = {
            PATH: [...binaries.path, process.env.PATH ?? ""].join(path.delimiter),
            KUBECONFIG: cp.kubeconfig,
            AGENT_REPO_URL: `file://${repo.bare}`,
            AGENT_STACK: "dev",
            PULUMI_BACKEND_URL: `file://${path.join(dir, "state")}`,
            PULUMI_CONFIG_PASSPHRASE: "upgrade-test",
            AGENT_SECRETS_PROVIDER: "passphrase",
            AGENT_DRIFT_INTERVAL: "0",
            AGENT_SHUTDOWN_GRACE: "120",
            POD_NAMESPACE: "openfaas-gitops",
        };
    });
    after(async () => {
        for (const a of agents) await a.stop("SIGKILL");
        await cp?.stop();
    });

    const statusOf = async (a: AgentProcess) => (await (await fetch(`${a.base}/status.json`)).json()) as Status;
    const ready = (a: AgentProcess) => until("readyz", async () => ((await fetch(`${a.base}/readyz`)).status === 200 ? true : undefined), 60_000);
    const holder = () => JSON.parse(cp.kubectl(["get", "lease", "openfaas-gitops-agent", "-n", "openfaas-gitops", "-o", "json"])).spec.holderIdentity as string | undefined;

    it("old Ready during its first apply; new Ready as a follower; SIGTERM lets the apply finish; the new leader does not apply again", async () => {
        const old = await startAgent({ ...env, POD_NAME: "agent-old", AGENT_POLL_INTERVAL: "3600" }, { dependencyCache: true });
        agents.push(old);
        await until("the first apply to start", async () => ((await statusOf(old)).running?.revision === head ? true : undefined), 60_000);
        await ready(old);
        const during = await statusOf(old);
        assert.equal(during.running?.revision, head, `Ready while the apply runs\n${old.logs().slice(-3000)}`);
        assert.equal(during.lastAppliedRevision, undefined);

        // The rollout's new pod: same Deployment, another identity, its own (empty) work volume.
        const next = await startAgent({ ...env, POD_NAME: "agent-new", AGENT_POLL_INTERVAL: "5" }, { dependencyCache: true });
        agents.push(next);
        await ready(next);
        assert.equal(holder(), "agent-old");
        assert.equal((await statusOf(old)).running?.revision, head, "the new pod was Ready before the apply ended");

        // The Deployment controller now stops the old pod, mid-apply.
        const stopped = Date.now();
        const exited = old.stop("SIGTERM");
        await new Promise((r) => setTimeout(r, 2_000));
        assert.equal((await statusOf(old)).running?.revision, head, "still applying after SIGTERM");
        fs.writeFileSync(gate, "");
        assert.equal(await exited, 0, old.logs().slice(-3000));
        assert.ok(Date.now() - stopped < 120_000);
        assert.match(old.logs(), /"running":"finished"/, "the running update finished within the grace period");
        const persisted = JSON.parse(cp.kubectl(["get", "configmap", "openfaas-gitops-agent-status", "-n", "openfaas-gitops", "-o", "jsonpath={.data.status\\.json}"])) as Status;
        assert.equal(persisted.lastAppliedRevision, head, old.logs().slice(-3000));

        await until("the new pod to lead", () => (holder() === "agent-new" ? true : undefined), 30_000);
        // Two polls of the new leader (every 5 s): the revision is up to date.
        await until("the new leader to adopt the applied revision", async () => ((await statusOf(next)).lastAppliedRevision === head ? true : undefined), 30_000);
        await new Promise((r) => setTimeout(r, 11_000));
        const s = await statusOf(next);
        assert.deepEqual(s.history.filter((r) => r.kind === "apply").map((r) => [r.revision, r.result]), [[head, "succeeded"]]);
        assert.doesNotMatch(next.logs(), /"msg":"applying /, "the new leader applied nothing");
    });
});
