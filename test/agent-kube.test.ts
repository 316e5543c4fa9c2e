/** The agent's Kubernetes side against the REAL kube-apiserver: Lease election, status ConfigMap, Events. */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { LeaseElector, leaseTiming, nextTransitions } from "../agent/leader-election";
import { StatusStore } from "../agent/status-store";
import { KubeApi, kubeApi, kubeConnection, microTime } from "../kube/api";
import { Engine, RunResult } from "../agent/engine";
import { fromPersisted } from "../agent/persisted-status";
import { Reconciler } from "../agent/reconciler";
import { ControlPlane, controlPlaneAvailable, startControlPlane } from "../tools/controlplane";
import { until } from "./support/wait";
import { tempDir } from "./support/tmp";

const available = controlPlaneAvailable();
if (!available) console.log("# SKIP agent Kubernetes tests: no `go` on PATH to build kube-apiserver and etcd, and none cached");

/** TEST DOUBLE of a network partition (or a crash) in front of the REAL apiserver: every get and replace fails with `cut` while it is set. */
class CutOff extends KubeApi {
    cut?: string;
    override get<T>(...args: Parameters<KubeApi["get"]>): Promise<T> {
        return this.cut ? Promise.reject(new Error(this.cut)) : super.get<T>(...args);
    }
    override replace<T>(...args: Parameters<KubeApi["replace"]>): Promise<T> {
        return this.cut ? Promise.reject(new Error(this.cut)) : super.replace<T>(args[0], args[1], args[2], args[3] as T, args[4]);
    }
}

describe("agent on a real kube-apiserver", { skip: !available && "no Go toolchain and no cached binaries" }, () => {
    let cp: ControlPlane;
    before(async () => {
        cp = await startControlPlane();
        cp.kubectl(["create", "namespace", "openfaas-gitops"]);
    });
    after(async () => cp?.stop());

    it("stop() while a renewal is in flight still hands the Lease back (seen in CI: SIGTERM during a renewal left the Lease held)", async () => {
        const kc = kubeApi(cp.kubeconfig);
        for (let i = 0; i < 5; i++) {
            const name = `stop-race-${i}`;
            const e = new LeaseElector(kc, { namespace: "openfaas-gitops", name, identity: "agent-a" });
            assert.equal(await e.tryAcquireOrRenew(), true);
            const renewal = e.tryAcquireOrRenew();
            await e.stop();
            await renewal;
            const lease = JSON.parse(cp.kubectl(["get", "lease", name, "-n", "openfaas-gitops", "-o", "json"]));
            assert.ok(!lease.spec.holderIdentity, `attempt ${i}: the Lease is still held by ${lease.spec.holderIdentity}`);
            assert.equal(lease.spec.leaseDurationSeconds, 1, "released as client-go releases: no holder, 1 s");
        }
    });

    it("two candidates on one Lease: exactly one leads; the other takes over after release or expiry", async () => {
        let now = Date.now();
        const clock = () => now;
        const kc = kubeApi(cp.kubeconfig);
        const opts = { namespace: "openfaas-gitops", name: "election-1", leaseDurationSeconds: 15, renewDeadlineSeconds: 10, clock };
        const a = new LeaseElector(kc, { ...opts, identity: "agent-a" });
        const b = new LeaseElector(kc, { ...opts, identity: "agent-b" });
        const [ra, rb] = await Promise.all([a.tryAcquireOrRenew(), b.tryAcquireOrRenew()]);
        assert.equal(Number(ra) + Number(rb), 1, "exactly one of two racing candidates wins");
        const [leader, other] = ra ? [a, b] : [b, a];
        assert.equal(await leader.tryAcquireOrRenew(), true, "the leader renews");
        assert.equal(await other.tryAcquireOrRenew(), false, "the other waits while the lease is fresh");
        const lease = JSON.parse(cp.kubectl(["get", "lease", "election-1", "-n", "openfaas-gitops", "-o", "json"]));
        assert.equal(lease.spec.holderIdentity, ra ? "agent-a" : "agent-b");

        await leader.stop();
        assert.equal(await other.tryAcquireOrRenew(), true, "a released lease is taken at once");

        // The new leader stops renewing (crashed). A newcomer waits a whole lease duration from when it
        // first saw the Lease, on its own clock, as client-go does: the Lease's renewTime says nothing.
        const c = new LeaseElector(kc, { ...opts, identity: "agent-c" });
        assert.equal(await c.tryAcquireOrRenew(), false, "a newcomer does not take a Lease it has just seen");
        now += 14_000;
        assert.equal(await c.tryAcquireOrRenew(), false, "nor before its duration (15 s) has passed without a change");
        now += 2_000;
        assert.equal(await c.tryAcquireOrRenew(), true, "after it, it does");
        const after = JSON.parse(cp.kubectl(["get", "lease", "election-1", "-n", "openfaas-gitops", "-o", "json"]));
        assert.equal(after.spec.holderIdentity, "agent-c");
        assert.ok(after.spec.leaseTransitions >= 2);
    });

    it("two agents sharing one Lease: only the leader updates", async () => {
        const kc = kubeApi(cp.kubeconfig);
        const applied: string[] = [];
        /** TEST DOUBLE for the engine (no Pulumi CLI here): records which agent applied. */
        const engine = (who: string): Engine => ({
            detectDrift: async () => ({ changes: {}, changed: [] }),
            correctDrift: async () => ({ changes: {}, changed: [] }),
            up: async (): Promise<RunResult> => {
                applied.push(who);
                return { changes: { same: 1 }, changed: [] };
            },
        });
        /** TEST DOUBLE for the git source: both agents see the same head. */
        const source = { head: async () => "d".repeat(40), checkout: async () => "/x", verify: async () => undefined };
        const agents = ["agent-x", "agent-y"].map((id) => {
            const elector = new LeaseElector(kc, { namespace: "openfaas-gitops", name: "election-2", identity: id });
            const r = new Reconciler({
                source, engine: engine(id), clock: Date.now, isLeader: () => elector.isLeader(),
                settings: { backoffBaseMs: 1000, backoffCapMs: 1000, stalledAfter: 3, driftMode: "correct" },
            });
            return { elector, r };
        });
        await Promise.all(agents.map((a) => a.elector.tryAcquireOrRenew()));
        const decisions = await Promise.all(agents.map((a) => a.r.sync("poll")));
        assert.deepEqual(decisions.map((d) => d.action).sort(), ["applied", "not-leader"]);
        assert.equal(applied.length, 1);
    });

    it("persists status in the ConfigMap and records Events", async () => {
        const store = new StatusStore(kubeApi(cp.kubeconfig), "openfaas-gitops", "agent-status");
        assert.equal(await store.load(), undefined);
        const now = Date.now();
        const s = fromPersisted({ lastAppliedRevision: "e".repeat(40), lastAttemptedRevision: "e".repeat(40) }, now);
        await store.save(s);
        await store.save(s); // second save replaces
        assert.deepEqual(await store.load(now), { status: s, dropped: [] });
        assert.equal(cp.kubectl(["get", "configmap", "agent-status", "-n", "openfaas-gitops", "-o", "jsonpath={.data.ready} {.data.lastAppliedRevision}"]), `True ${"e".repeat(40)}`);
        await store.event({ type: "Warning", reason: "ApplyFailed", message: "boom" });
        const events = JSON.parse(cp.kubectl(["get", "events", "-n", "openfaas-gitops", "--field-selector", "involvedObject.name=agent-status", "-o", "json"]));
        assert.deepEqual(events.items.map((e: any) => `${e.type} ${e.reason} ${e.message}`), ["Warning ApplyFailed boom"]);
    });

    it("the status of 12 failures with 100 KB errors each is accepted by the apiserver (it refused the 7th: over 1 MiB)", async () => {
        const store = new StatusStore(kubeApi(cp.kubeconfig), "openfaas-gitops", "agent-status-big");
        let error = "";
        /** TEST DOUBLE for the engine (no Pulumi CLI here): fails with the whole CLI output, as the Automation API's error carries it. */
        const engine: Engine = { up: async () => { throw new Error(error); }, detectDrift: async () => ({ changes: {}, changed: [] }), correctDrift: async () => ({ changes: {}, changed: [] }) };
        const source = { head: async () => "f".repeat(40), checkout: async () => "/x", verify: async () => undefined };
        const r = new Reconciler({ source, engine, clock: Date.now, isLeader: () => true, onChange: (st) => store.save(st), settings: { backoffBaseMs: 1, backoffCapMs: 1, stalledAfter: 99, driftMode: "report" } });
        for (let i = 0; i < 12; i++) {
            error = `failure ${i}: ${"pulumi CLI output ".repeat(6_000)}`;
            await r.sync("manual"); // rejects if the apiserver refuses the write
        }
        const loaded = await store.load();
        assert.equal(loaded?.status.failures, 12);
        assert.deepEqual(loaded?.dropped, []);
    });

    it("a leader whose apiserver stops answering stops leading at the renew deadline, aborting its run, while the call still hangs", async () => {
        /** A loopback TCP proxy to the REAL apiserver that, once hung, accepts and forwards requests but never passes an answer back. */
        let hung = false;
        const upstream = new URL(kubeConnection(cp.kubeconfig).server);
        const sockets = new Set<net.Socket>();
        const proxy = net.createServer((client) => {
            const server = net.connect(Number(upstream.port), upstream.hostname);
            for (const sock of [client, server]) {
                sockets.add(sock);
                sock.on("error", () => undefined);
            }
            client.on("data", (d) => server.write(d));
            server.on("data", (d) => hung || client.write(d));
            client.on("close", () => server.destroy());
            server.on("close", () => client.destroy());
        });
        await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
        const api = new KubeApi({ ...kubeConnection(cp.kubeconfig), server: `https://127.0.0.1:${(proxy.address() as net.AddressInfo).port}` });

        const changes: [boolean, number][] = [];
        // A 4 s lease, a 2 s renew deadline and a 1 s retry period: after a renewal the leader leads for
        // 3 s (the next cycle starts after 1 s and lasts 2 s); another replica may take the Lease at 4 s.
        const elector = new LeaseElector(api, { namespace: "openfaas-gitops", name: "election-hang", identity: "agent-h", leaseDurationSeconds: 4, renewDeadlineSeconds: 2, retryPeriodSeconds: 1 }, {
            leader: (l) => {
                changes.push([l, Date.now()]);
                if (!l) r.leadershipLost(); // as agent/main.ts does
            },
        });
        /** TEST DOUBLE for the engine: an update that runs until aborted. */
        const engine: Engine = {
            up: (ctx) => new Promise((_, reject) => ctx.signal.addEventListener("abort", () => reject(new Error("aborted")))),
            detectDrift: async () => ({ changes: {}, changed: [] }),
            correctDrift: async () => ({ changes: {}, changed: [] }),
        };
        const r = new Reconciler({ source: { head: async () => "9".repeat(40), checkout: async () => "/x", verify: async () => undefined }, engine, clock: Date.now, isLeader: () => elector.isLeader(), settings: { backoffBaseMs: 1, backoffCapMs: 1, stalledAfter: 3, driftMode: "report" } });
        try {
            const renewed = Date.now();
            assert.equal(await elector.tryAcquireOrRenew(), true);
            const run = r.sync("poll");
            hung = true;
            const renewal = elector.tryAcquireOrRenew(); // the next renewal: its request never gets an answer
            const lost = await until("leadership lost", async () => changes.find(([l]) => !l), 20_000);
            const after = lost[1] - renewed;
            // Not before the deadline; the upper bound only tells it from the request's own 30 s (a loaded machine fires timers late).
        assert.ok(after >= 2_900 && after <= 15_000, `leadership given up ${after} ms after the last renewal began (retry period and renew deadline: 3000 ms)`);
            assert.deepEqual(await run, { action: "cancelled", revision: "9".repeat(40), reason: "leadership was lost" }, "the running update is aborted at the deadline");
            // The hanging round itself is aborted at its own deadline, not after the request's 30 s.
            assert.equal(await renewal, false);
            assert.match(elector.error!, /leader election on Lease openfaas-gitops\/election-hang failed: no answer from the apiserver within the renew deadline \(2 s\)/);
            hung = false;
            assert.equal(await elector.tryAcquireOrRenew(), true, "it leads again once the apiserver answers");
            assert.deepEqual(changes.map(([l]) => l), [true, false, true]);
        } finally {
            await elector.stop();
            for (const sock of sockets) sock.destroy();
            proxy.close();
        }
    });

    it("aggregates repeated Events: one Event with a count, series and last timestamp", async () => {
        const store = new StatusStore(kubeApi(cp.kubeconfig), "openfaas-gitops", "agent-status-repeat");
        const outage = { type: "Warning" as const, reason: "SourceUnavailable", message: "cannot reach git@github.com:org/repo.git: Connection refused" };
        await store.event(outage, new Date("2026-11-24T00:00:00Z"));
        await store.event(outage, new Date("2026-11-24T00:01:00Z"));
        await store.event(outage, new Date("2026-11-24T00:02:00Z"));
        await store.event({ ...outage, reason: "HostKeyMismatch" }, new Date("2026-11-24T00:03:00Z"));
        const events = JSON.parse(cp.kubectl(["get", "events", "-n", "openfaas-gitops", "--field-selector", "involvedObject.name=agent-status-repeat", "-o", "json"]));
        const got = events.items.map((e: any) => [e.reason, e.count, e.series?.count, e.firstTimestamp, e.lastTimestamp]).sort();
        assert.deepEqual(got, [
            ["HostKeyMismatch", 1, undefined, "2026-11-24T00:03:00Z", "2026-11-24T00:03:00Z"],
            ["SourceUnavailable", 3, 3, "2026-11-24T00:00:00Z", "2026-11-24T00:02:00Z"],
        ]);
    });

    it("a leader cut off from the apiserver leads until its renew deadline, then stops (and says so)", async () => {
        let now = Date.now();
        const api = new CutOff(kubeConnection(cp.kubeconfig));
        const changes: boolean[] = [];
        const elector = new LeaseElector(api, { namespace: "openfaas-gitops", name: "election-3", identity: "agent-p", clock: () => now }, { leader: (l) => changes.push(l) });
        assert.equal(await elector.tryAcquireOrRenew(), true);
        api.cut = "connect ETIMEDOUT";
        now += 4_000;
        assert.equal(await elector.tryAcquireOrRenew(), false, "the renewal fails");
        assert.equal(elector.isLeader(), true, "one failed renewal: it still leads");
        assert.match(elector.error!, /connect ETIMEDOUT/);
        now += 5_900;
        await elector.tryAcquireOrRenew();
        assert.equal(elector.isLeader(), true, "still within the cycle: 2 s retry period and 8 s renew deadline");
        now += 200;
        assert.equal(await elector.tryAcquireOrRenew(), false);
        assert.equal(elector.isLeader(), false, "10 s after its last renewal it stops leading, 2 s before its 12 s Lease may be taken");
        assert.deepEqual(changes, [true, false], "the loss is reported (the agent aborts a running update on it)");
    });

    it("expiry is judged on the candidate's own clock from when it saw the Lease change: a skewed or edited renewTime neither hands over early nor locks anyone out", async () => {
        const kc = kubeApi(cp.kubeconfig);
        const plant = (name: string, spec: object) =>
            kc.create("leases", "openfaas-gitops", { apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name, namespace: "openfaas-gitops" }, spec });
        let now = Date.now();
        const candidate = (name: string) => new LeaseElector(kc, { namespace: "openfaas-gitops", name, identity: "agent-k", clock: () => now });
        // A live holder whose clock is 26 years behind: its renewTime looks expired. Before, a
        // candidate compared it with its own clock and took the Lease from the live leader at once.
        await plant("skewed", { holderIdentity: "live-leader", leaseDurationSeconds: 12, renewTime: "2000-01-01T00:00:00.000000Z", leaseTransitions: 3 });
        const k = candidate("skewed");
        assert.equal(await k.tryAcquireOrRenew(), false, "a Lease just seen is held, whatever its renewTime says");
        assert.equal(k.leader, "live-leader");
        // A renewTime in the year 9999 (someone edited it) holds only the lease duration once it stops changing.
        await plant("future", { holderIdentity: "gone", leaseDurationSeconds: 12, renewTime: "9999-12-31T23:59:59.000000Z" });
        const f = candidate("future");
        assert.equal(await f.tryAcquireOrRenew(), false);
        now += 12_001;
        assert.equal(await f.tryAcquireOrRenew(), true, "taken 12 s after it last changed");
        // A duration of 68 years is honoured for 300 s at most; leaseTransitions at the int32 maximum starts again.
        await plant("forever", { holderIdentity: "gone", leaseDurationSeconds: 2147483647, renewTime: microTime(Date.now()), leaseTransitions: 2147483647 });
        const g = candidate("forever");
        assert.equal(await g.tryAcquireOrRenew(), false);
        now += 299_000;
        assert.equal(await g.tryAcquireOrRenew(), false);
        now += 2_000;
        assert.equal(await g.tryAcquireOrRenew(), true, "taken after 300 s");
        const lease = JSON.parse(cp.kubectl(["get", "lease", "forever", "-n", "openfaas-gitops", "-o", "json"]));
        assert.deepEqual([lease.spec.holderIdentity, lease.spec.leaseTransitions, lease.spec.leaseDurationSeconds], ["agent-k", 1, 12]);
    });

    it("start(): a leader that stops renewing stops leading before the follower takes over (no overlap), and the follower does take over", async () => {
        const timing = { namespace: "openfaas-gitops", name: "election-loop", leaseDurationSeconds: 3, renewDeadlineSeconds: 1.5, retryPeriodSeconds: 0.25 };
        const events: [string, boolean, number][] = [];
        const leaderApi = new CutOff(kubeConnection(cp.kubeconfig)); // its calls fail once cut: a crashed leader
        const a = new LeaseElector(leaderApi, { ...timing, identity: "loop-a" }, { leader: (l) => events.push(["a", l, Date.now()]) });
        a.start();
        await until("a leads", async () => a.isLeader() || undefined, 30_000);
        const b = new LeaseElector(kubeApi(cp.kubeconfig), { ...timing, identity: "loop-b" }, { leader: (l) => events.push(["b", l, Date.now()]) });
        b.start();
        try {
            await new Promise((r) => setTimeout(r, 1_000));
            assert.equal(b.isLeader(), false, "the follower waits while the leader renews (every 0.25 s)");
            leaderApi.cut = "crashed";
            await until("b leads", async () => b.isLeader() || undefined, 30_000);
            const lost = events.find(([who, l]) => who === "a" && !l);
            const gained = events.find(([who, l]) => who === "b" && l);
            assert.ok(lost && gained && lost[2] <= gained[2], `the old leader stopped leading before the new one started: ${JSON.stringify(events)}`);
        } finally {
            await Promise.all([a.stop(), b.stop()]);
        }
    });

    it("a leader that sees another holder stops leading at once (its Lease deleted and taken), as client-go's IsLeader", async () => {
        const kc = kubeApi(cp.kubeconfig);
        const changes: boolean[] = [];
        const a = new LeaseElector(kc, { namespace: "openfaas-gitops", name: "election-seen", identity: "agent-a" }, { leader: (l) => changes.push(l) });
        const b = new LeaseElector(kc, { namespace: "openfaas-gitops", name: "election-seen", identity: "agent-b" });
        assert.equal(await a.tryAcquireOrRenew(), true);
        cp.kubectl(["delete", "lease", "election-seen", "-n", "openfaas-gitops"]);
        assert.equal(await b.tryAcquireOrRenew(), true);
        assert.equal(await a.tryAcquireOrRenew(), false);
        assert.equal(a.isLeader(), false, "before, it led on until its renew deadline beside the new holder");
        assert.deepEqual(changes, [true, false]);
        assert.equal(a.leader, "agent-b");
    });

    it("leadership is counted from before the write, not from its late answer", async () => {
        let now = Date.now();
        /** TEST DOUBLE of a slow answer in front of the REAL apiserver: the write is committed, its answer comes 1.9 s later. */
        class SlowAnswer extends KubeApi {
            override async replace<T>(...args: Parameters<KubeApi["replace"]>): Promise<T> {
                const written = await super.replace<T>(args[0], args[1], args[2], args[3] as T, args[4]);
                now += 1_900;
                return written;
            }
        }
        const elector = new LeaseElector(new SlowAnswer(kubeConnection(cp.kubeconfig)), { namespace: "openfaas-gitops", name: "election-slow", identity: "agent-s", clock: () => now });
        assert.equal(await elector.tryAcquireOrRenew(), true); // created: no replace yet
        const renewed = now;
        assert.equal(await elector.tryAcquireOrRenew(), true); // the renewal, answered late
        now = renewed + 9_900;
        assert.equal(elector.isLeader(), true);
        now = renewed + 10_100;
        assert.equal(elector.isLeader(), false, "10 s after the renewal began (retry period and renew deadline), not after its answer: another replica may take the Lease 12 s after it was written");
    });

    it("stop() while a candidate's attempt is in flight never reports leadership it will not hold", async () => {
        /** TEST DOUBLE of a slow apiserver in front of the REAL one: every read waits 300 ms. */
        class SlowRead extends KubeApi {
            override async get<T>(...args: Parameters<KubeApi["get"]>): Promise<T> {
                await new Promise((r) => setTimeout(r, 300));
                return super.get<T>(...args);
            }
        }
        const events: string[] = [];
        const elector = new LeaseElector(new SlowRead(kubeConnection(cp.kubeconfig)), { namespace: "openfaas-gitops", name: "election-stop", identity: "agent-t" }, { leader: (l) => events.push(`leader(${l})`) });
        const attempt = elector.tryAcquireOrRenew();
        events.push("stop");
        await elector.stop();
        await attempt;
        assert.deepEqual(events, ["stop"], "before, leader(true) came after stop(), and the agent adopted a status while shutting down");
        const lease = JSON.parse(cp.kubectl(["get", "lease", "election-stop", "-n", "openfaas-gitops", "-o", "json"]));
        assert.ok(!lease.spec.holderIdentity || lease.spec.leaseDurationSeconds === 12, "created by the attempt, then left to expire or released");
    });

    it("a failing election is reported, not swallowed", async () => {
        const errors: (string | undefined)[] = [];
        const elector = new LeaseElector(kubeApi(cp.kubeconfig), { namespace: "no-such-namespace", name: "agent", identity: "agent-z" }, { error: (e) => errors.push(e) });
        assert.equal(await elector.tryAcquireOrRenew(), false);
        assert.equal(errors.length, 1);
        assert.match(errors[0]!, /leader election on Lease no-such-namespace\/agent failed: HTTP 404: namespaces "no-such-namespace" not found/);
        assert.equal(elector.error, errors[0]);
        await elector.tryAcquireOrRenew();
        assert.equal(errors.length, 1, "a repeated error is reported once");
    });
});

describe("agent API connection from a kubeconfig", () => {
    const write = (text: string) => {
        const dir = tempDir("ofg-kc-");
        fs.writeFileSync(path.join(dir, "config"), text);
        fs.writeFileSync(path.join(dir, "token"), "file-token\n");
        return path.join(dir, "config");
    };
    const config = (user: string) =>
        `apiVersion: v1\nkind: Config\ncurrent-context: c\ncontexts:\n- name: c\n  context: {cluster: k, user: u}\nclusters:\n- name: k\n  cluster: {server: "https://k.example:6443", certificate-authority-data: ${Buffer.from("CA").toString("base64")}}\nusers:\n- name: u\n  user: ${user}\n`;

    it("reads the current context: server, CA, token file (relative to the file) or client certificate", () => {
        const c = kubeConnection(write(config("{tokenFile: token}")));
        assert.deepEqual([c.server, c.ca?.toString(), c.token?.()], ["https://k.example:6443", "CA", "file-token"]);
        const cert = kubeConnection(write(config(`{client-certificate-data: ${Buffer.from("CERT").toString("base64")}, client-key-data: ${Buffer.from("KEY").toString("base64")}}`)));
        assert.deepEqual([cert.cert?.toString(), cert.key?.toString(), cert.token], ["CERT", "KEY", undefined]);
    });

    it("refuses what it cannot do, saying so", () => {
        assert.throws(() => kubeConnection(write(config("{exec: {command: aws}}"))), /needs an exec or auth-provider plugin; the agent takes a token, token file or client certificate/);
        assert.throws(() => kubeConnection(write("apiVersion: v1\nkind: Config\n")), /no current-context with a cluster server/);
    });
});

describe("leader election timing (pure)", () => {
    it("checks the durations as client-go's NewLeaderElector: lease > renew deadline > 1.2 x retry period > 0, naming the bad one", () => {
        assert.deepEqual(leaseTiming({}), { leaseMs: 12_000, renewDeadlineMs: 8_000, retryMs: 2_000 });
        assert.throws(() => leaseTiming({ leaseDurationSeconds: 3 }), /leaseDurationSeconds \(3\) must be greater than renewDeadlineSeconds \(8\)/);
        assert.throws(() => leaseTiming({ renewDeadlineSeconds: 2 }), /renewDeadlineSeconds \(2\) must be greater than 1\.2 x retryPeriodSeconds \(2\)/);
        assert.throws(() => leaseTiming({ retryPeriodSeconds: 0 }), /retryPeriodSeconds must be greater than zero/);
        const n = fc.double({ min: -10, max: 100, noNaN: true });
        fc.assert(
            fc.property(n, n, n, (lease, renew, retry) => {
                const valid = retry > 0 && lease > renew && renew > 1.2 * retry;
                let threw = false;
                try {
                    leaseTiming({ leaseDurationSeconds: lease, renewDeadlineSeconds: renew, retryPeriodSeconds: retry });
                } catch {
                    threw = true;
                }
                return threw === !valid;
            }),
        );
    });

    it("a takeover counts one more transition, starting again where an int32 cannot grow or the value is not a count", () => {
        assert.equal(nextTransitions(undefined), 1);
        assert.equal(nextTransitions(0), 1);
        assert.equal(nextTransitions(41), 42);
        assert.equal(nextTransitions(2 ** 31 - 1), 1);
        fc.assert(fc.property(fc.oneof(fc.integer(), fc.double(), fc.constant(undefined)), (v) => {
            const next = nextTransitions(v);
            return Number.isInteger(next) && next >= 1 && next <= 2 ** 31 - 1;
        }));
    });
});
