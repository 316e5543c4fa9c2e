/**
 * The live test cluster itself (tools/controlplane.ts): real kube-controller-manager and
 * kube-scheduler beside the apiserver, KWOK playing the kubelet of simulated nodes, each component
 * with its own credentials; every socket on loopback; a component that does not start named with
 * its log, and nothing left running.
 */
import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { STANDIN_ADDRESS } from "../tools/address-standin";
import { Binaries, ControlPlane, controlPlaneAvailable, ensureBinaries, etcdTooSlow, lostPortRace, startControlPlane } from "../tools/controlplane";
import { onLoopback, socketsOf } from "./support/sockets";
import { until } from "./support/wait";
import { tempDir } from "./support/tmp";

const waitFor = (fn: () => Promise<boolean>, ms: number, what: string) => until(what, async () => ((await fn()) ? true : undefined), ms);

const available = controlPlaneAvailable();

describe("live test cluster: controllers, scheduler and simulated nodes", { skip: !available && "no Go toolchain and no cached binaries" }, () => {
    let cp: ControlPlane;
    before(async () => {
        cp = await startControlPlane({ log: (l) => console.log(`# ${l}`), nodes: 2 });
    });
    after(async () => {
        await cp?.stop();
    });

    const json = (args: string[]) => JSON.parse(cp.kubectl([...args, "-o", "json"]));

    it("a Deployment becomes Available on simulated nodes, its Service gets endpoints, a LoadBalancer gets the stand-in's address", async () => {
        cp.kubectl(["create", "deployment", "web", "--image=registry.invalid/web:1", "--replicas=3"]);
        cp.kubectl(["rollout", "status", "deployment/web", "--timeout=60s"]);
        const pods = json(["get", "pods", "-l", "app=web"]).items;
        assert.equal(pods.length, 3);
        for (const p of pods) {
            assert.equal(p.status.phase, "Running");
            assert.ok(cp.nodes.includes(p.spec.nodeName), `${p.metadata.name} on ${p.spec.nodeName}`);
        }
        cp.kubectl(["expose", "deployment", "web", "--port=80", "--type=LoadBalancer"]);
        await waitFor(async () => json(["get", "service", "web"]).status.loadBalancer?.ingress?.[0]?.ip === STANDIN_ADDRESS, 30_000, "LoadBalancer address");
        await waitFor(async () => json(["get", "endpointslices", "-l", "kubernetes.io/service-name=web"]).items.flatMap((s: { endpoints?: unknown[] }) => s.endpoints ?? []).length === 3, 30_000, "3 endpoints");
    });

    it("the scheduler places a pod by node selector", async () => {
        const target = cp.nodes[1]!;
        cp.kubectl(["run", "pinned", "--image=registry.invalid/x:1", `--overrides={"spec":{"nodeSelector":{"kubernetes.io/hostname":"${target}"}}}`]);
        await waitFor(async () => json(["get", "pod", "pinned"]).status.phase === "Running", 30_000, "pinned pod running");
        assert.equal(json(["get", "pod", "pinned"]).spec.nodeName, target);
    });

    it("a Job completes, garbage is collected, and a namespace with objects finishes terminating", async () => {
        cp.kubectl(["create", "job", "once", "--image=registry.invalid/job:1"]);
        cp.kubectl(["wait", "--for=condition=Complete", "job/once", "--timeout=60s"]);
        cp.kubectl(["delete", "deployment", "web", "--cascade=background"]);
        await waitFor(async () => json(["get", "pods", "-l", "app=web"]).items.length === 0, 60_000, "web's pods collected");
        cp.kubectl(["create", "namespace", "doomed"]);
        cp.kubectl(["create", "configmap", "c", "-n", "doomed", "--from-literal=k=v"]);
        cp.kubectl(["create", "deployment", "d", "-n", "doomed", "--image=registry.invalid/d:1"]);
        cp.kubectl(["delete", "namespace", "doomed", "--wait=true", "--timeout=90s"]);
        assert.equal(cp.kubectl(["get", "namespace", "doomed", "--ignore-not-found", "-o", "name"]).trim(), "");
    });

    it("each component acts as its own user with its own rights: KWOK is no cluster admin", () => {
        // `can-i` answers by its exit code: 0 yes, 1 no.
        const can = (user: string, verb: string, what: string) => {
            const [resource, subresource] = what.split("/");
            try {
                cp.kubectl(["auth", "can-i", "--quiet", verb, resource!, ...(subresource ? [`--subresource=${subresource}`] : []), "-n", "default", "--as", user]);
                return true;
            } catch {
                return false;
            }
        };
        assert.equal(can("openfaas-gitops:kwok", "patch", "pods/status"), true);
        assert.equal(can("openfaas-gitops:kwok", "patch", "services/status"), false);
        assert.equal(can("openfaas-gitops:kwok", "get", "secrets"), false);
        assert.equal(can("openfaas-gitops:kwok", "create", "deployments"), false);
        assert.equal(can("openfaas-gitops:address-standin", "patch", "services/status"), true);
        assert.equal(can("openfaas-gitops:address-standin", "update", "services"), false);
        const log = fs.readFileSync(path.join(cp.dir, "kwok.log"), "utf8");
        assert.doesNotMatch(log, /forbidden/i, "KWOK was refused something it needs");
    });

    it("node-scoped credentials: a real node may register itself and is kept off the simulated nodes", () => {
        const { kubeconfig } = cp.nodeCredentials("real-node-0");
        const asNode = (args: string[], input?: string) => execFileSync("kubectl", ["--kubeconfig", kubeconfig, ...args], { input, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] });
        asNode(["create", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "Node", metadata: { name: "real-node-0", labels: { "kubernetes.io/hostname": "real-node-0" } } }));
        assert.throws(() => asNode(["label", "node", cp.nodes[0]!, "stolen=true"]), /forbidden/i);
        assert.throws(() => asNode(["get", "secrets", "-A"]), /forbidden/i);
        // KWOK manages only annotated nodes: the real node is left to its own kubelet.
        const real = json(["get", "node", "real-node-0"]);
        assert.equal((real.status.conditions ?? []).length, 0, "KWOK touched a node it does not manage");
        cp.kubectl(["delete", "node", "real-node-0"]);
    });

    it("every socket of every component is on loopback", () => {
        for (const p of cp.processes) {
            const sockets = socketsOf(p.pid);
            // Every component holds a connection (the store or the API), so an empty list is a misread.
            assert.ok(sockets.some((s) => s.state === "established"), `no connection read for ${p.name}`);
            for (const s of sockets) assert.ok(onLoopback(s), `${p.name}: ${JSON.stringify(s)}`);
        }
        assert.deepEqual(new Set(cp.processes.map((p) => p.name)), new Set(["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"]));
    });
});

describe("live test cluster: a component that does not start", { skip: !available && "no Go toolchain and no cached binaries" }, () => {
    it("is named with its log file and last lines, and nothing is left running", async () => {
        const real = ensureBinaries();
        const dir = tempDir("ofg-broken-cp-");
        const fake = path.join(dir, "kwok");
        fs.writeFileSync(fake, "#!/bin/sh\necho 'kwok: simulated start-up failure' >&2\nexit 3\n", { mode: 0o755 });
        const binaries: Binaries = { ...real, kwok: fake };
        await assert.rejects(startControlPlane({ dir: path.join(dir, "run"), binaries }), (e: Error) => {
            assert.match(e.message, /kwok exited \(3\)/);
            assert.match(e.message, new RegExp(`${path.join(dir, "run", "kwok.log").replace(/[.]/g, "\\.")}`));
            assert.match(e.message, /simulated start-up failure/);
            return true;
        });
        // The other four were started with the run directory in their arguments (the dir is ours alone).
        await waitFor(async () => {
            try {
                return execFileSync("pgrep", ["-f", path.join(dir, "run")]).toString().trim() === "";
            } catch {
                return true; // pgrep exits 1 when nothing matches
            }
        }, 20_000, "no component left running");
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("in a directory of its own, the named log is still there afterwards, and nothing else is (keys, tokens, etcd's data)", async () => {
        const real = ensureBinaries();
        const fakes = tempDir("ofg-broken-bin-");
        const fake = path.join(fakes, "kube-scheduler");
        fs.writeFileSync(fake, "#!/bin/sh\necho 'scheduler: simulated start-up failure' >&2\nexit 4\n", { mode: 0o755 });
        const message = await startControlPlane({ binaries: { ...real, kubeScheduler: fake } }).then(() => assert.fail("started"), (e: Error) => e.message);
        const log = /its log (\S+kube-scheduler\.log) ends with/.exec(message)?.[1];
        assert.ok(log, message);
        assert.match(fs.readFileSync(log, "utf8"), /simulated start-up failure/);
        assert.deepEqual(fs.readdirSync(path.dirname(log)).filter((f) => !f.endsWith(".log")), []);
        fs.rmSync(path.dirname(log), { recursive: true, force: true });
        fs.rmSync(fakes, { recursive: true, force: true });
    });

    it("a component that loses its free port to another process is started again on fresh ports, and the start succeeds", async () => {
        const real = ensureBinaries();
        const dir = tempDir("ofg-port-race-");
        // etcd that fails the first time as a real one does when its port was taken, then is the real one.
        const etcd = path.join(dir, "etcd");
        const marker = path.join(dir, "lost-once");
        fs.writeFileSync(etcd, `#!/bin/sh\nif [ ! -e ${marker} ]; then touch ${marker}; echo '{"level":"fatal","msg":"discovery failed","error":"listen tcp 127.0.0.1:1: bind: address already in use"}' >&2; exit 1; fi\nexec ${real.etcd} "$@"\n`, { mode: 0o755 });
        const lines: string[] = [];
        const cp = await startControlPlane({ dir: path.join(dir, "run"), binaries: { ...real, etcd }, live: false, log: (l) => lines.push(l) });
        try {
            assert.ok(fs.existsSync(marker), "the first etcd never ran");
            assert.match(lines.join("\n"), /a port was taken by another process before the cluster bound it; starting again \(attempt 2 of 3\)/);
            assert.match(cp.kubectl(["get", "--raw", "/readyz"]), /ok/);
        } finally {
            await cp.stop();
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("lostPortRace: only a bind on a taken port is retried", () => {
        assert.equal(lostPortRace("etcd exited (1) while starting; ... bind: address already in use"), true);
        assert.equal(lostPortRace("listen EADDRINUSE: address already in use 127.0.0.1:1"), true);
        for (const other of ["kwok exited (3) while starting", "did not become ready within 60 s", "spawn ENOENT"]) assert.equal(lostPortRace(other), false);
        // And etcd too slow under load (CI's log): retried as well, nothing else.
        assert.equal(etcdTooSlow('kube-controller-manager exited (1) while starting; ... "Error building controllers" err="failed to create Kubernetes client for \\"pv-protection-controller\\": etcdserver: request timed out"'), true);
        assert.equal(etcdTooSlow("kwok exited (3) while starting"), false);
    });

    it("a binary that cannot be executed is named, with the fix, instead of an uncaught spawn error", async () => {
        const real = ensureBinaries();
        const dir = tempDir("ofg-missing-bin-");
        await assert.rejects(startControlPlane({ dir: path.join(dir, "run"), binaries: { ...real, kwok: path.join(dir, "no-such-kwok") } }), (e: Error) => {
            assert.match(e.message, /kwok could not be started \(spawn \S+no-such-kwok ENOENT\); rebuild it with npm run tools:build/);
            return true;
        });
        fs.rmSync(dir, { recursive: true, force: true });
    });
});
