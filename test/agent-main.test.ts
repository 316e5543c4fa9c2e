/**
 * The agent process as deployed, end to end where this machine allows: a real git repository,
 * the real kube-apiserver (Lease, status ConfigMap, Events), real HTTP, SIGTERM. The revision fails
 * before the engine (it has no lockfile), which exercises the failure path without a Pulumi CLI.
 */
import { strict as assert } from "node:assert";
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { freePort } from "../tools/net";
import { after, before, describe, it } from "node:test";
import { ControlPlane, controlPlaneAvailable, startControlPlane } from "../tools/controlplane";
import { makeRepo } from "./support/gitrepo";
import { ROOT } from "./helpers";
import { until } from "./support/wait";

const available = controlPlaneAvailable();
if (!available) console.log("# SKIP agent process test: no `go` on PATH to build kube-apiserver and etcd, and none cached");



describe("npm run agent", { skip: !available && "no Go toolchain and no cached binaries" }, () => {
    let cp: ControlPlane;
    let agent: ChildProcess;
    let logs = "";
    let base = "";
    const token = "sync-token-for-test";
    before(async () => {
        cp = await startControlPlane();
        cp.kubectl(["create", "namespace", "openfaas-gitops"]);
        const repo = makeRepo();
        repo.commit({ "Pulumi.yaml": "name: x\nruntime: nodejs\n", "package.json": "{}" });
        const work = fs.mkdtempSync(path.join(os.tmpdir(), "ofg-agent-main-"));
        fs.writeFileSync(path.join(work, "token"), token);
        const port = await freePort();
        base = `http://127.0.0.1:${port}`;
        agent = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "agent", "main.ts")], {
            cwd: ROOT,
            env: {
                PATH: process.env.PATH, HOME: work, KUBECONFIG: cp.kubeconfig,
                AGENT_REPO_URL: `file://${repo.bare}`, AGENT_STACK: "dev", AGENT_WORK_DIR: path.join(work, "state"),
                AGENT_LISTEN: `127.0.0.1:${port}`, AGENT_SYNC_TOKEN_FILE: path.join(work, "token"),
                POD_NAMESPACE: "openfaas-gitops", POD_NAME: "agent-under-test", AGENT_DRIFT_INTERVAL: "0",
            },
            stdio: ["ignore", "pipe", "pipe"],
        });
        agent.stdout!.on("data", (d) => (logs += d));
        agent.stderr!.on("data", (d) => (logs += d));
    });
    after(async () => {
        if (agent && agent.exitCode === null) agent.kill("SIGKILL");
        await cp?.stop();
    });

    it("becomes leader, checks the branch, records the failed revision in status and Events, serves its status", async () => {
        await until("readyz", async () => ((await fetch(`${base}/readyz`)).status === 200 ? true : undefined));
        const lease = JSON.parse(cp.kubectl(["get", "lease", "openfaas-gitops-agent", "-n", "openfaas-gitops", "-o", "json"]));
        assert.equal(lease.spec.holderIdentity, "agent-under-test");
        const lastError = await until("status ConfigMap", async () => {
            const v = cp.kubectl(["get", "configmap", "openfaas-gitops-agent-status", "-n", "openfaas-gitops", "-o", "jsonpath={.data.lastError}"]);
            return v ? v : undefined;
        });
        assert.match(lastError, /package-lock\.json is missing/);
        const events = cp.kubectl(["get", "events", "-n", "openfaas-gitops", "-o", "jsonpath={.items[*].reason}"]);
        assert.match(events, /Progressing/);
        assert.match(events, /ApplyFailed/);
        const status = (await (await fetch(`${base}/status.json`)).json()) as { conditions: { Ready: { reason: string } } };
        assert.equal(status.conditions.Ready.reason, "ApplyFailed");
        assert.match(await (await fetch(`${base}/metrics`)).text(), /openfaas_gitops_runs_total\{kind="apply",result="failed"\} 1/);
        assert.equal((await fetch(`${base}/sync`, { method: "POST", headers: { Authorization: `Bearer ${token}` } })).status, 202);
        await until("manual retry", async () => (/"failures": 2/.test(cp.kubectl(["get", "configmap", "openfaas-gitops-agent-status", "-n", "openfaas-gitops", "-o", "jsonpath={.data.status\\.json}"])) ? true : undefined));
        assert.match(logs, /"msg":"starting"/, "JSON logs");
    });

    it("SIGTERM: exits cleanly and hands the Lease back", async () => {
        const exited = new Promise<number | null>((r) => agent.once("exit", (code) => r(code)));
        agent.kill("SIGTERM");
        assert.equal(await exited, 0);
        const lease = JSON.parse(cp.kubectl(["get", "lease", "openfaas-gitops-agent", "-n", "openfaas-gitops", "-o", "json"]));
        assert.equal(lease.spec.holderIdentity, undefined);
    });
});
