/**
 * What a restart of the whole agent process does with what it persisted: the real process
 * (agent/main.ts), the real kube-apiserver (Lease, status ConfigMap), a real git repository (and a
 * real sshd for the host key). As in agent-main.test.ts, the revision fails before the engine (it has
 * no lockfile), which shows an apply was attempted without a Pulumi CLI.
 */
import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { ControlPlane, controlPlaneAvailable, startControlPlane } from "../tools/controlplane";
import { AgentProcess, startAgent } from "./support/agent-process";
import { makeRepo, Repo } from "./support/gitrepo";
import { SSHD, startSshd } from "./support/sshd";
import { until } from "./support/wait";
import { tempDir } from "./support/tmp";

const available = controlPlaneAvailable();
if (!available) console.log("# SKIP agent restart tests: no `go` on PATH to build kube-apiserver and etcd, and none cached");

describe("the agent process across restarts", { skip: !available && "no Go toolchain and no cached binaries" }, () => {
    let cp: ControlPlane;
    let repo: Repo;
    const token = "sync-token-for-restart-test";
    let tokenFile = "";
    const running: AgentProcess[] = [];
    before(async () => {
        cp = await startControlPlane();
        cp.kubectl(["create", "namespace", "openfaas-gitops"]);
        repo = makeRepo();
        repo.commit({ "Pulumi.yaml": "name: x\nruntime: nodejs\n", "package.json": "{}" });
        tokenFile = path.join(tempDir("ofg-agent-restart-"), "token");
        fs.writeFileSync(tokenFile, token);
    });
    after(async () => {
        for (const a of running) await a.stop("SIGKILL");
        await cp?.stop();
    });

    /** One agent with its own Lease and status ConfigMap (`name`), git mode. */
    const start = async (name: string, env: Record<string, string> = {}) => {
        const a = await startAgent({
            KUBECONFIG: cp.kubeconfig, AGENT_REPO_URL: `file://${repo.bare}`, AGENT_STACK: "dev", AGENT_SYNC_TOKEN_FILE: tokenFile,
            POD_NAMESPACE: "openfaas-gitops", POD_NAME: `agent-${name}`, AGENT_DRIFT_INTERVAL: "0", AGENT_LEASE_NAME: name, AGENT_STATUS_CONFIGMAP: name, ...env,
        });
        running.push(a);
        return a;
    };
    const status = (name: string) => {
        const json = cp.kubectl(["get", "configmap", name, "-n", "openfaas-gitops", "-o", "jsonpath={.data.status\\.json}"]);
        return JSON.parse(json) as { suspended: boolean; suspendedBy?: string; failures: number; stalledReason?: string; conditions: Record<string, { status: string; reason: string }> };
    };
    const post = (a: AgentProcess, what: string) => fetch(`${a.base}/${what}`, { method: "POST", headers: { Authorization: `Bearer ${token}` } });

    it('a status ConfigMap of an unexpected shape ({"history":null}): the agent starts, logs what it dropped (names only), applies and writes a valid status back', async () => {
        cp.kubectl(["create", "configmap", "shape", "-n", "openfaas-gitops", `--from-literal=status.json={"history":null,"applyError":"x","failures":"secret-looking-value"}`]);
        const a = await start("shape");
        const failures = await until("an attempted apply", async () => (status("shape").failures > 0 ? status("shape").failures : undefined), 60_000);
        assert.equal(failures, 1);
        assert.equal(a.child.exitCode, null, "still running");
        const dropped = /"dropped":(\[[^\]]*\])/.exec(await a.waitForLog(/"dropped":/));
        assert.deepEqual(JSON.parse(dropped![1]!).sort(), ["failures", "history"]);
        assert.doesNotMatch(a.logs(), /secret-looking-value/);
        assert.equal((await fetch(`${a.base}/`)).status, 200, "the status page renders");
        assert.equal(await a.stop("SIGTERM"), 0);
        const restarted = await start("shape");
        await until("readyz after a restart", async () => ((await fetch(`${restarted.base}/readyz`)).status === 200 ? true : undefined), 60_000);
        assert.equal(await restarted.stop("SIGTERM"), 0);
        assert.doesNotMatch(restarted.logs(), /dropped/, "what the agent wrote reads back whole");
    });

    it("agent.suspend is desired state at every start; POST /suspend outlives a restart until POST /resume", async () => {
        const suspended = await start("suspend", { AGENT_SUSPEND: "true" });
        await until("suspended in the status ConfigMap", async () => (status("suspend").suspended ? true : undefined), 60_000);
        await until("readyz", async () => ((await fetch(`${suspended.base}/readyz`)).status === 200 ? true : undefined), 60_000);
        assert.deepEqual([status("suspend").suspendedBy, status("suspend").failures], ["setting", 0], "nothing applied");
        assert.equal(await suspended.stop("SIGTERM"), 0);

        const resumed = await start("suspend", { AGENT_SUSPEND: "false" });
        await until("resumed and applying", async () => (!status("suspend").suspended && status("suspend").failures > 0 ? true : undefined), 60_000);
        await resumed.waitForLog(/reconciliation resumed/);

        assert.equal((await post(resumed, "suspend")).status, 200);
        await until("suspended by request", async () => (status("suspend").suspendedBy === "request" ? true : undefined), 30_000);
        assert.equal(await resumed.stop("SIGTERM"), 0);
        const again = await start("suspend", { AGENT_SUSPEND: "false" });
        await until("readyz", async () => ((await fetch(`${again.base}/readyz`)).status === 200 ? true : undefined), 60_000);
        assert.deepEqual([status("suspend").suspended, ((await (await fetch(`${again.base}/status.json`)).json()) as { suspended: boolean }).suspended], [true, true], "an emergency stop survives a restart");
        assert.equal((await post(again, "resume")).status, 200);
        await until("resumed by request", async () => (!status("suspend").suspended ? true : undefined), 30_000);
        assert.equal(await again.stop("SIGTERM"), 0);
    });

    it("a replica that starts while another holds the Lease leaves the leader's status ConfigMap alone (also when agent.suspend changes what it would write)", async () => {
        const now = new Date().toISOString().replace("Z", "000Z");
        cp.kubectl(["apply", "-f", "-"], JSON.stringify({
            apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name: "follower", namespace: "openfaas-gitops" },
            spec: { holderIdentity: "the-live-leader", leaseDurationSeconds: 3600, acquireTime: now, renewTime: now },
        }));
        const leaderStatus = JSON.stringify({ lastAppliedRevision: "c".repeat(40), failures: 0, suspended: false });
        cp.kubectl(["create", "configmap", "follower", "-n", "openfaas-gitops", `--from-literal=status.json=${leaderStatus}`]);
        const version = () => cp.kubectl(["get", "configmap", "follower", "-n", "openfaas-gitops", "-o", "jsonpath={.metadata.resourceVersion}"]);
        const before = version();
        const a = await start("follower", { AGENT_SUSPEND: "true" });
        await until("readyz", async () => ((await fetch(`${a.base}/readyz`)).status === 200 ? true : undefined), 60_000);
        await new Promise((r) => setTimeout(r, 3000));
        assert.equal(version(), before, "the follower wrote the leader's status ConfigMap");
        assert.equal(status("follower").suspended, false);
        assert.equal(await a.stop("SIGTERM"), 0);
    });

    it("a replica whose election fails while another leads adds only its election error to the stored status, never its own older facts", async () => {
        // Seen on the real node (test/agent-pod.test.ts): a new pod's Lease request timed out during a
        // rollout, it wrote the facts it had read at its start over the live leader's newer ones, and
        // adopted them when it led: the upgrade's run was gone from the history. Here the Lease is
        // forbidden to the replica (its Role covers the ConfigMap and Events only), and what it would
        // write differs from the leader's (agent.suspend), as its stale facts did.
        const ns = "openfaas-gitops";
        cp.kubectl(["apply", "-f", "-"], JSON.stringify({
            apiVersion: "v1", kind: "List", items: [
                { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "no-lease", namespace: ns } },
                { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { name: "no-lease", namespace: ns }, rules: [{ apiGroups: [""], resources: ["configmaps", "events"], verbs: ["get", "create", "update"] }] },
                { apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding", metadata: { name: "no-lease", namespace: ns }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "no-lease" }, subjects: [{ kind: "ServiceAccount", name: "no-lease", namespace: ns }] },
            ],
        }));
        const kubeconfig = JSON.parse(cp.kubectl(["config", "view", "--raw", "--minify", "-o", "json"]));
        kubeconfig.users[0].user = { token: cp.kubectl(["create", "token", "no-lease", "-n", ns]).trim() };
        const file = path.join(path.dirname(tokenFile), "no-lease.kubeconfig");
        fs.writeFileSync(file, JSON.stringify(kubeconfig), { mode: 0o600 });
        const leaderStatus = { lastAppliedRevision: "d".repeat(40), failures: 0, suspended: false, history: [{ revision: "d".repeat(40), kind: "apply", result: "succeeded", startedAt: new Date().toISOString(), durationMs: 1000 }] };
        cp.kubectl(["create", "configmap", "no-lease", "-n", ns, `--from-literal=status.json=${JSON.stringify(leaderStatus)}`]);
        const a = await start("no-lease", { KUBECONFIG: file, AGENT_SUSPEND: "true" });
        const stored = await until("the election error in the stored status", async () => {
            const s = status("no-lease") as ReturnType<typeof status> & { leaderElectionError?: string; lastAppliedRevision?: string; history: { revision: string }[] };
            return s.leaderElectionError ? s : undefined;
        }, 60_000);
        assert.match(stored.leaderElectionError!, /forbidden/i);
        assert.equal(stored.suspended, false, "the replica wrote its own suspension over the leader's");
        assert.equal(stored.lastAppliedRevision, "d".repeat(40));
        assert.deepEqual(stored.history.map((r) => r.revision), ["d".repeat(40)]);
        assert.equal(await a.stop("SIGTERM"), 0);
    });

    it("a replica whose failed election recovers and wins in one round adopts the status stored then, never writes its own older facts first", async () => {
        // Seen on the real node (CI, test/agent-pod.test.ts): the new pod of a rollout read the status
        // at its start, while the old leader was mid-run; its Lease request then timed out, and the
        // round that worked again also made it leader. "Works again" was recorded first, and, the pod
        // leading by then, that write put its start-time facts over the old leader's newer ones; it
        // then adopted them, and the old leader's last apply was gone. Here the Lease is forbidden to
        // the replica until the stored status has moved on, then allowed.
        const ns = "openfaas-gitops";
        const name = "late-leader";
        const role = (verbs: string[]) => JSON.stringify({
            apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { name, namespace: ns },
            rules: [{ apiGroups: [""], resources: ["configmaps", "events"], verbs: ["get", "create", "update"] }, ...(verbs.length ? [{ apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs }] : [])],
        });
        cp.kubectl(["apply", "-f", "-"], JSON.stringify({
            apiVersion: "v1", kind: "List", items: [
                { apiVersion: "v1", kind: "ServiceAccount", metadata: { name, namespace: ns } },
                JSON.parse(role([])),
                { apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding", metadata: { name, namespace: ns }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name }, subjects: [{ kind: "ServiceAccount", name, namespace: ns }] },
            ],
        }));
        const kubeconfig = JSON.parse(cp.kubectl(["config", "view", "--raw", "--minify", "-o", "json"]));
        kubeconfig.users[0].user = { token: cp.kubectl(["create", "token", name, "-n", ns]).trim() };
        const file = path.join(path.dirname(tokenFile), `${name}.kubeconfig`);
        fs.writeFileSync(file, JSON.stringify(kubeconfig), { mode: 0o600 });
        const entry = (revision: string) => ({ revision, kind: "apply", result: "succeeded", startedAt: new Date().toISOString(), durationMs: 1000 });
        // What the replica reads at its start: the old leader mid-run (attempting b, a applied).
        const atStart = { lastAppliedRevision: "a".repeat(40), lastAttemptedRevision: "b".repeat(40), failures: 0, suspended: false, history: [entry("a".repeat(40))] };
        cp.kubectl(["create", "configmap", name, "-n", ns, `--from-literal=status.json=${JSON.stringify(atStart)}`]);
        // Suspended, so it applies nothing of its own: what it writes is only what it read or adopted.
        const a = await start(name, { KUBECONFIG: file, AGENT_SUSPEND: "true" });
        await until("the election error in the stored status", async () => ((status(name) as { leaderElectionError?: string }).leaderElectionError ? true : undefined), 60_000);
        // The old leader finishes its run: b applied.
        const later = { lastAppliedRevision: "b".repeat(40), lastAttemptedRevision: "b".repeat(40), failures: 0, suspended: true, suspendedBy: "setting", history: [entry("a".repeat(40)), entry("b".repeat(40))] };
        cp.kubectl(["apply", "--server-side", "--force-conflicts", "-f", "-"], cp.kubectl(["create", "configmap", name, "-n", ns, `--from-literal=status.json=${JSON.stringify(later)}`, "--dry-run=client", "-o", "json"]));
        cp.kubectl(["apply", "-f", "-"], role(["get", "create", "update"]));
        await until("the replica leads", async () => (/became leader/.test(a.logs()) ? true : undefined), 60_000);
        // Its writes after leading have landed (a suspended leader writes once, then only on change).
        await until("the election error cleared", async () => ((status(name) as { leaderElectionError?: string }).leaderElectionError === undefined ? true : undefined), 30_000);
        await new Promise((r) => setTimeout(r, 2000));
        const stored = status(name) as ReturnType<typeof status> & { lastAppliedRevision?: string; history: { revision: string }[] };
        assert.equal(stored.lastAppliedRevision, "b".repeat(40), `the replica wrote its start-time facts over the leader's:\n${a.logs()}`);
        assert.deepEqual(stored.history.map((r) => r.revision), ["a".repeat(40), "b".repeat(40)]);
        assert.equal(await a.stop("SIGTERM"), 0);
    });

    it("HostKeyMismatch: fixing known_hosts and restarting the agent (what the message says) reaches the server again", { skip: !SSHD && "no sshd" }, async () => {
        const sshd = await startSshd();
        try {
            const dir = tempDir("ofg-agent-hostkey-");
            execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, "other")], { stdio: "pipe" });
            const [type, key] = fs.readFileSync(path.join(dir, "other.pub"), "utf8").split(" ");
            const knownHosts = path.join(dir, "known_hosts");
            fs.writeFileSync(knownHosts, `[127.0.0.1]:${sshd.port} ${type} ${key}\n`); // not the server's key
            const env = { AGENT_REPO_URL: `ssh://${sshd.user}@127.0.0.1:${sshd.port}${repo.bare}`, AGENT_SSH_KEY_FILE: sshd.clientKeyFile, AGENT_KNOWN_HOSTS_FILE: knownHosts };
            const a = await start("hostkey", env);
            await until("HostKeyMismatch", async () => (status("hostkey").stalledReason === "HostKeyMismatch" ? true : undefined), 60_000);
            assert.equal(await a.stop("SIGTERM"), 0);

            fs.writeFileSync(knownHosts, `${sshd.knownHostsLine}\n`);
            await start("hostkey", env);
            await until("the revision fetched and attempted", async () => (status("hostkey").failures > 0 ? true : undefined), 60_000);
            assert.equal(status("hostkey").stalledReason, undefined);
            assert.equal(status("hostkey").conditions.Ready!.reason, "ApplyFailed");
        } finally {
            await sshd.stop();
        }
    });
});
