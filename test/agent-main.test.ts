/**
 * The agent process as deployed, end to end where this machine allows: a real git repository,
 * the real kube-apiserver (Lease, status ConfigMap, Events), real HTTP, SIGTERM. The revision fails
 * before the engine (it has no lockfile), which exercises the failure path without a Pulumi CLI.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { ControlPlane, controlPlaneAvailable, startControlPlane } from "../tools/controlplane";
import { makeRepo } from "./support/gitrepo";
import { AgentProcess, startAgent } from "./support/agent-process";
import { until } from "./support/wait";
import { tempDir } from "./support/tmp";

const available = controlPlaneAvailable();
if (!available) console.log("# SKIP agent process test: no `go` on PATH to build kube-apiserver and etcd, and none cached");



describe("npm run agent", { skip: !available && "no Go toolchain and no cached binaries" }, () => {
    let cp: ControlPlane;
    let agent: AgentProcess;
    let base = "";
    const token = "sync-token-for-test";
    let tokenFile = "";
    before(async () => {
        cp = await startControlPlane();
        cp.kubectl(["create", "namespace", "openfaas-gitops"]);
        const repo = makeRepo();
        repo.commit({ "Pulumi.yaml": "name: x\nruntime: nodejs\n", "package.json": "{}" });
        tokenFile = path.join(tempDir("ofg-agent-main-"), "token");
        fs.writeFileSync(tokenFile, token);
        agent = await startAgent({
            KUBECONFIG: cp.kubeconfig, AGENT_REPO_URL: `file://${repo.bare}`, AGENT_STACK: "dev", AGENT_SYNC_TOKEN_FILE: tokenFile,
            POD_NAMESPACE: "openfaas-gitops", POD_NAME: "agent-under-test", AGENT_DRIFT_INTERVAL: "0",
        });
        base = agent.base;
    });
    after(async () => {
        await agent?.stop("SIGKILL");
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
        assert.match(agent.logs(), /"msg":"starting"/, "JSON logs");
    });

    it("a malformed request target gets an answer and the process keeps serving", async () => {
        const port = Number(new URL(base).port);
        for (const target of ["//", "http://[::1"]) {
            const answer = await new Promise<string>((resolve, reject) => {
                const socket = net.connect(port, "127.0.0.1", () => socket.write(`GET ${target} HTTP/1.1\r\nHost: agent\r\nConnection: close\r\n\r\n`));
                let got = "";
                socket.on("data", (d) => (got += d));
                socket.on("close", () => resolve(got));
                socket.on("error", reject);
            });
            assert.match(answer, /^HTTP\/1\.1 4\d\d /, target);
        }
        assert.equal(agent.child.exitCode, null, "still running");
        assert.equal((await fetch(`${base}/healthz`)).status, 200);
    });

    it("a rotated sync token counts without a restart: the new one is accepted, the old one refused", async () => {
        const sync = (t: string) => fetch(`${base}/sync`, { method: "POST", headers: { Authorization: `Bearer ${t}` } }).then((r) => r.status);
        assert.equal(await sync(token), 202);
        // As kubelet updates a mounted Secret: the new content replaces the file at once.
        fs.writeFileSync(`${tokenFile}.new`, "rotated-sync-token\n");
        fs.renameSync(`${tokenFile}.new`, tokenFile);
        await until("the rotated token", async () => ((await sync("rotated-sync-token")) === 202 ? true : undefined), 10_000);
        assert.equal(await sync(token), 401);
        await agent.waitForLog(/AGENT_SYNC_TOKEN_FILE [^"]* changed: the new value is in use/);
        assert.doesNotMatch(agent.logs(), /rotated-sync-token|sync-token-for-test/, "no value in the log");
        assert.equal(agent.child.exitCode, null);
    });

    it("a follower that leads once the previous leader's Lease runs out checks the branch at once, not a poll interval later", async () => {
        const ns = "failover";
        cp.kubectl(["create", "namespace", ns]);
        // A leader that was killed: its Lease renewed just now, never again.
        cp.kubectl(["apply", "-f", "-"], JSON.stringify({
            apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name: "openfaas-gitops-agent", namespace: ns },
            spec: { holderIdentity: "killed-leader", leaseDurationSeconds: 12, renewTime: new Date().toISOString().replace("Z", "000Z") },
        }));
        const repo = makeRepo();
        repo.commit({ "Pulumi.yaml": "name: x\nruntime: nodejs\n", "package.json": "{}" });
        const follower = await startAgent({
            KUBECONFIG: cp.kubeconfig, AGENT_REPO_URL: `file://${repo.bare}`, AGENT_STACK: "dev", POD_NAMESPACE: ns, POD_NAME: "follower", AGENT_DRIFT_INTERVAL: "0",
            // No poll comes to the rescue within the test.
            AGENT_POLL_INTERVAL: "3600",
        });
        try {
            await until("the follower's first check (readyz)", async () => ((await fetch(`${follower.base}/readyz`)).status === 200 ? true : undefined), 60_000);
            assert.doesNotMatch(follower.logs(), /"msg":"became leader"/, "it checked as a follower");
            const lastError = await until("the new leader's run", async () => cp.kubectl(["get", "configmap", "openfaas-gitops-agent-status", "-n", ns, "-o", "jsonpath={.data.lastError}", "--ignore-not-found"]) || undefined, 90_000)
                .catch((e) => assert.fail(`${e}\n${follower.logs().slice(-3000)}`));
            assert.match(lastError, /package-lock\.json is missing/);
            assert.equal(JSON.parse(cp.kubectl(["get", "lease", "openfaas-gitops-agent", "-n", ns, "-o", "json"])).spec.holderIdentity, "follower");
            await follower.waitForLog(/applying [0-9a-f]{40} \(elected\)/);
        } finally {
            await follower.stop("SIGKILL");
        }
    });

    it("SIGTERM: exits cleanly and hands the Lease back", async () => {
        assert.equal(await agent.stop("SIGTERM"), 0);
        const lease = JSON.parse(cp.kubectl(["get", "lease", "openfaas-gitops-agent", "-n", "openfaas-gitops", "-o", "json"]));
        assert.ok(!lease.spec.holderIdentity, `the Lease is still held by ${lease.spec.holderIdentity}`);
    });
});
