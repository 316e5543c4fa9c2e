/**
 * A REAL node in the live test cluster (tools/real-node.ts): kubelet + containerd + runc beside
 * KWOK's simulated node. Containers really run there; `kubectl logs` and `exec` go through the
 * apiserver to the kubelet, TLS-checked both ways; third-party pods stay on the simulated node; stop
 * leaves no process, mount, cgroup, bridge or iptables chain behind and restores the kernel settings.
 * It changes the host, so it runs only with OPENFAAS_GITOPS_REAL_NODE=1 as root, and otherwise
 * skips with one line saying why. The undo of the host changes (tools/host-changes.ts) is tested
 * everywhere, without a node.
 */
import { strict as assert } from "node:assert";
import { execFile, execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { ControlPlane, controlPlaneAvailable, KWOK_NODE_ANNOTATION, startControlPlane } from "../tools/controlplane";
import { FIXED_HOST_PATHS, iptablesUndo, NODE_SYSCTLS, parseIptablesSave } from "../tools/host-changes";
import { freePort } from "../tools/net";
import { buildTestImage, cgroupsOf, importImage, mountsUnder, POD_CIDR, processesUnder, REAL_NODE_KEY, RealNode, realNodeUnavailable, startRealNode, TEST_IMAGE } from "../tools/real-node";
import { onLoopback, socketsOf } from "./support/sockets";
import { holdRealNodeTests } from "./support/real-node-tests";
import { teardown } from "./support/teardown";
import { until } from "./support/wait";
import { tempDir } from "./support/tmp";

const why = realNodeUnavailable() ?? (controlPlaneAvailable() ? undefined : "no Go toolchain and no cached control-plane binaries");

/** The kubelet's chains in `iptables-save`/`ip6tables-save` output, by table. */
const kubeChains = (text: string) => [...parseIptablesSave(text)].flatMap(([table, t]) => [...t.chains].filter((c) => c.startsWith("KUBE-")).map((c) => `${table}/${c}`)).sort();
const hostNow = () => ({
    sysctls: Object.fromEntries(NODE_SYSCTLS.map((k) => [k, fs.readFileSync(`/proc/sys/${k}`, "utf8").trim()])),
    chains: [...kubeChains(execFileSync("iptables-save", { encoding: "utf8" })), ...kubeChains(execFileSync("ip6tables-save", { encoding: "utf8" })).map((c) => `v6:${c}`)],
    paths: FIXED_HOST_PATHS.filter((p) => fs.existsSync(p)),
    bridges: fs.readdirSync("/sys/class/net").filter((n) => n.startsWith("ofgn-")),
});

/** A pod for the real node: tolerates its taint and selects its label (the way a harness pins one). */
function pinned(pod: { metadata: { name: string }; spec: Record<string, unknown> }) {
    return {
        apiVersion: "v1",
        kind: "Pod",
        ...pod,
        spec: { ...pod.spec, nodeSelector: { [REAL_NODE_KEY]: "true" }, tolerations: [{ key: REAL_NODE_KEY, operator: "Exists", effect: "NoSchedule" }] },
    };
}

describe("a real node", { skip: why }, () => {
    let release: (() => void) | undefined;
    before(async () => {
        release = await holdRealNodeTests((l) => console.log(`# ${l}`));
    });
    after(() => release?.());

    describe("a real node (kubelet + containerd + runc) in the live cluster", () => {
        let cp: ControlPlane;
        let node: RealNode;
        let hostBefore: ReturnType<typeof hostNow>;
        const json = (args: string[]) => JSON.parse(cp.kubectl([...args, "-o", "json"]));

        before(async () => {
            hostBefore = hostNow();
            cp = await startControlPlane({ log: (l) => console.log(`# ${l}`) });
            node = await startRealNode(cp, { log: (l) => console.log(`# ${l}`) });
        });
        after(() => teardown(() => node?.stop(), () => cp?.stop()));

        it("joins Ready beside the simulated node: its own label and taint, no KWOK annotation, reached at 127.0.0.1", () => {
            const nodes = json(["get", "nodes"]).items as { metadata: { name: string; labels: Record<string, string>; annotations?: Record<string, string> }; spec: { taints?: { key: string; effect: string }[] }; status: { addresses: { address: string }[]; conditions: { type: string; status: string }[]; nodeInfo: { kubeletVersion: string; containerRuntimeVersion: string } } }[];
            const ready = (n: (typeof nodes)[number]) => n.status.conditions.some((c) => c.type === "Ready" && c.status === "True");
            assert.deepEqual(nodes.map((n) => n.metadata.name).sort(), [...cp.nodes, node.name].sort());
            assert.ok(nodes.every(ready), "every node Ready");
            const real = nodes.find((n) => n.metadata.name === node.name)!;
            assert.equal(real.metadata.labels[REAL_NODE_KEY], "true");
            assert.deepEqual(real.spec.taints?.map((t) => `${t.key}:${t.effect}`), [`${REAL_NODE_KEY}:NoSchedule`]);
            assert.equal(real.metadata.annotations?.[KWOK_NODE_ANNOTATION], undefined);
            assert.deepEqual(real.status.addresses.map((a) => a.address), ["127.0.0.1"]);
            assert.match(real.status.nodeInfo.kubeletVersion, /^v1\.37\./);
            assert.match(real.status.nodeInfo.containerRuntimeVersion, /^containerd:\/\//);
        });

        it("a pod selecting it really runs: its HTTP answer on loopback, `kubectl logs` and `exec` through the apiserver to the kubelet, the apiserver on loopback", async () => {
            const port = await freePort();
            cp.kubectl(["apply", "-f", "-"], JSON.stringify(pinned({
                metadata: { name: "real-web" },
                spec: {
                    hostNetwork: true,
                    // httpd is PID 1 of its container and ignores SIGTERM: the node's stop would wait the default 30 s.
                    terminationGracePeriodSeconds: 1,
                    containers: [{
                        name: "web",
                        image: TEST_IMAGE,
                        imagePullPolicy: "Never",
                        command: ["/bin/busybox", "sh", "-c", `echo started on the real node; echo served by a real container > /www/index.html; exec /bin/busybox httpd -f -p 127.0.0.1:${port} -h /www`],
                        securityContext: { runAsUser: 10001, runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
                        // No kube-proxy: the kubernetes Service's ClusterIP does not route, so an in-cluster client is pointed at the apiserver on loopback.
                        env: [{ name: "KUBERNETES_SERVICE_HOST", value: "127.0.0.1" }, { name: "KUBERNETES_SERVICE_PORT", value: new URL(cp.server).port }],
                        volumeMounts: [{ name: "www", mountPath: "/www" }],
                    }],
                    volumes: [{ name: "www", emptyDir: {} }],
                },
            })));
            cp.kubectl(["wait", "--for=condition=Ready", "pod/real-web", "--timeout=90s"]);
            assert.equal(json(["get", "pod", "real-web"]).spec.nodeName, node.name);
            const answer = await until("the pod's HTTP answer", async () => {
                const res = await fetch(`http://127.0.0.1:${port}/`).catch(() => undefined);
                return res?.ok ? res.text() : undefined;
            }, 30_000);
            assert.equal(answer.trim(), "served by a real container");
            assert.equal(cp.kubectl(["logs", "real-web"]).trim(), "started on the real node");
            assert.equal(cp.kubectl(["exec", "real-web", "--", "/bin/busybox", "id", "-u"]).trim(), "10001");
            assert.throws(() => cp.kubectl(["exec", "real-web", "--", "/bin/busybox", "touch", "/x"]), /Read-only file system/);
            // busybox has no TLS client: plain HTTP to the apiserver's TLS port gets Go's own refusal, which proves who answered.
            const probe = 'echo "$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT"; /bin/busybox wget -q -O - "http://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT/" 2>&1; true';
            const fromPod = cp.kubectl(["exec", "real-web", "--", "/bin/busybox", "sh", "-c", probe]);
            assert.match(fromPod, new RegExp(`^127\\.0\\.0\\.1:${new URL(cp.server).port}\\n[^]*400 Bad Request`), fromPod);
        });

        it("a pod on the pod network gets an address of the node's subnet, answers the kubelet's probe and the host there, and has no route off the machine", async () => {
            cp.kubectl(["apply", "-f", "-"], JSON.stringify(pinned({
                metadata: { name: "real-bridged" },
                spec: {
                    terminationGracePeriodSeconds: 1,
                    containers: [{
                        name: "web",
                        image: TEST_IMAGE,
                        imagePullPolicy: "Never",
                        command: ["/bin/busybox", "sh", "-c", "mkdir -p /tmp/www && echo on the pod network > /tmp/www/index.html && exec /bin/busybox httpd -f -p 8080 -h /tmp/www"],
                        readinessProbe: { httpGet: { path: "/", port: 8080 }, periodSeconds: 1 },
                    }],
                },
            })));
            cp.kubectl(["wait", "--for=condition=Ready", "pod/real-bridged", "--timeout=90s"]);
            const ip: string = json(["get", "pod", "real-bridged"]).status.podIP;
            const [net] = POD_CIDR.split("/");
            assert.equal(ip.split(".").slice(0, 3).join("."), net!.split(".").slice(0, 3).join("."), `pod IP ${ip} outside ${POD_CIDR}`);
            // The node's bridge, on this host: this request never leaves the machine.
            const res = await fetch(`http://${ip}:8080/`);
            assert.equal((await res.text()).trim(), "on the pod network");
            const routes = cp.kubectl(["exec", "real-bridged", "--", "/bin/busybox", "ip", "route"]).trim().split("\n");
            assert.equal(routes.some((r) => r.startsWith("default")), false, routes.join("; "));
        });

        it("a pod without the selector lands on the simulated node", () => {
            cp.kubectl(["run", "third-party", "--image=registry.invalid/third-party:1"]);
            cp.kubectl(["wait", "--for=condition=Ready", "pod/third-party", "--timeout=60s"]);
            assert.ok(cp.nodes.includes(json(["get", "pod", "third-party"]).spec.nodeName));
        });

        it("importImage names an archive's images under the repository given, and refuses one it cannot name", () => {
            const dir = tempDir("ofg-image-");
            try {
                const archive = buildTestImage(dir);
                assert.deepEqual(importImage(node, archive, "localhost/openfaas-gitops/imported"), ["localhost/openfaas-gitops/imported:1"]);
                const listed = execFileSync("ctr", ["--address", node.containerdSocket, "-n", "k8s.io", "images", "ls", "-q"], { encoding: "utf8" });
                assert.match(listed, /^localhost\/openfaas-gitops\/imported:1$/m);
                fs.writeFileSync(path.join(dir, "empty.tar"), Buffer.alloc(1024));
                assert.throws(() => importImage(node, path.join(dir, "empty.tar"), "localhost/x"), /empty\.tar/);
            } finally {
                fs.rmSync(dir, { recursive: true, force: true });
            }
        });

        it("every socket of the kubelet and containerd is on loopback, but the kubelet's probes of pods on the node's own bridge", () => {
            // The bridged pod's readiness probe runs every second: the kubelet then holds a socket to
            // its address on the bridge, which is on this host and never leaves the machine.
            const [net] = POD_CIDR.split("/");
            const onBridge = (remote: string) => remote.split(".").slice(0, 3).join(".") === net!.split(".").slice(0, 3).join(".");
            for (const p of node.processes) {
                const sockets = socketsOf(p.pid);
                assert.ok(sockets.some((s) => s.state === "listen"), `no listening socket read for ${p.name}`);
                for (const s of sockets) assert.ok(onLoopback(s) || (p.name === "kubelet" && onBridge(s.remote)), `${p.name}: ${JSON.stringify(s)}`);
            }
            assert.deepEqual(node.processes.map((p) => p.name), ["containerd", "kubelet"]);
        });

        it("stop leaves no process, mount, cgroup or bridge of its own, no iptables chain it made, and restores the kernel settings", async () => {
            // While it runs: it did make cgroups and mounts, so their absence afterwards means something.
            assert.ok(cgroupsOf(node.cgroupRoot).length > 1, "no pod cgroups under the node's root");
            assert.ok(mountsUnder(node.dir).length > 0, "no mounts under the run directory");
            for (const line of await node.stop()) console.log(`# undone: ${line}`);
            assert.deepEqual(processesUnder(node.dir), []);
            assert.deepEqual(mountsUnder(node.dir), []);
            assert.deepEqual(cgroupsOf(node.cgroupRoot), []);
            assert.equal(fs.existsSync(node.dir), false);
            assert.equal(fs.existsSync(`/sys/class/net/${node.bridge}`), false, `the bridge ${node.bridge} is left`);
            assert.deepEqual(hostNow(), hostBefore);
            assert.equal(cp.kubectl(["get", "node", node.name, "--ignore-not-found", "-o", "name"]).trim(), "");
        });
    });

    describe("a real node whose process exits without stop()", () => {
        it("is undone by the exit hook: its containers, kubelet, containerd and shims killed, nothing mounted, no cgroup, no bridge, the host as before", async () => {
            const dir = tempDir("ofg-crashed-node-");
            try {
                const script = path.join(dir, "crash.ts");
                const tools = path.resolve(__dirname, "..", "tools");
                fs.writeFileSync(script, `
                    import { startControlPlane } from ${JSON.stringify(path.join(tools, "controlplane"))};
                    import { startRealNode, TEST_IMAGE, REAL_NODE_KEY } from ${JSON.stringify(path.join(tools, "real-node"))};
                    (async () => {
                        const cp = await startControlPlane({ dir: ${JSON.stringify(path.join(dir, "cp"))} });
                        const node = await startRealNode(cp, { dir: ${JSON.stringify(path.join(dir, "node"))} });
                        cp.kubectl(["run", "sleeper", "--image=" + TEST_IMAGE, "--image-pull-policy=Never", "--command", "--overrides=" + JSON.stringify({ spec: { hostNetwork: true, nodeSelector: { [REAL_NODE_KEY]: "true" }, tolerations: [{ key: REAL_NODE_KEY, operator: "Exists" }] } }), "--", "/bin/busybox", "sleep", "3600"]);
                        // And one on the pod network: its network namespace is a mount under /var/run/netns (/run/netns).
                        cp.kubectl(["run", "bridged", "--image=" + TEST_IMAGE, "--image-pull-policy=Never", "--command", "--overrides=" + JSON.stringify({ spec: { nodeSelector: { [REAL_NODE_KEY]: "true" }, tolerations: [{ key: REAL_NODE_KEY, operator: "Exists" }] } }), "--", "/bin/busybox", "sleep", "3600"]);
                        cp.kubectl(["wait", "--for=condition=Ready", "pod/sleeper", "pod/bridged", "--timeout=90s"]);
                        console.log(JSON.stringify({ cgroupRoot: node.cgroupRoot, bridge: node.bridge, containers: node.processes.length }));
                        process.exit(7); // no stop(): the exit hooks must undo it all
                    })();
                `);
                const hostBefore = hostNow();
                const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
                    const child = execFile(process.execPath, ["--import", "tsx", script], { cwd: path.resolve(__dirname, "..") }, (_e, stdout, stderr) => resolve({ code: child.exitCode, stdout, stderr }));
                });
                assert.equal(out.code, 7, out.stderr);
                const { cgroupRoot, bridge } = JSON.parse(out.stdout.trim().split("\n").pop()!);
                const run = path.join(dir, "node");
                assert.deepEqual(processesUnder(run), []);
                assert.deepEqual(processesUnder(path.join(dir, "cp")), []);
                assert.deepEqual(mountsUnder(run), []);
                assert.deepEqual(mountsUnder("/var/run/netns"), []);
                assert.deepEqual(cgroupsOf(cgroupRoot), []);
                assert.equal(fs.existsSync(`/sys/class/net/${bridge}`), false);
                assert.deepEqual(hostNow(), hostBefore);
                assert.doesNotMatch(out.stderr, /not undone cleanly/);
            } finally {
                fs.rmSync(dir, { recursive: true, force: true });
            }
        });
    });

    describe("a real node whose kubelet does not start", () => {
        it("is named with its log file and last lines, and nothing is left running or mounted", async () => {
            const cp = await startControlPlane();
            const dir = tempDir("ofg-broken-node-");
            try {
                const fake = path.join(dir, "kubelet");
                fs.writeFileSync(fake, "#!/bin/sh\necho 'kubelet: simulated start-up failure' >&2\nexit 3\n", { mode: 0o755 });
                const hostBefore = hostNow();
                const run = path.join(dir, "run");
                await assert.rejects(startRealNode(cp, { dir: run, kubelet: fake }), (e: Error) => {
                    assert.match(e.message, /kubelet exited \(3\)/);
                    assert.ok(e.message.includes(path.join(run, "kubelet.log")), e.message);
                    assert.match(e.message, /simulated start-up failure/);
                    return true;
                });
                assert.deepEqual(processesUnder(run), []);
                assert.deepEqual(mountsUnder(run), []);
                assert.deepEqual(hostNow(), hostBefore);
            } finally {
                await cp.stop();
                fs.rmSync(dir, { recursive: true, force: true });
            }
        });
    });

});

describe("undoing the kubelet's iptables chains (tools/host-changes.ts)", () => {
    const save = (tables: Record<string, { chains: string[]; rules: string[] }>) =>
        Object.entries(tables).map(([t, { chains, rules }]) => [`*${t}`, ...chains.map((c) => `:${c} - [0:0]`), ...rules, "COMMIT"].join("\n")).join("\n") + "\n";

    it("removes the jumps to its new chains, then flushes and deletes them; leaves old and foreign chains", () => {
        const before = save({ filter: { chains: ["INPUT ACCEPT", "FORWARD ACCEPT", "OUTPUT ACCEPT", "KUBE-OLD"], rules: ["-A INPUT -j KUBE-OLD"] } });
        const after = save({
            filter: { chains: ["INPUT ACCEPT", "FORWARD ACCEPT", "OUTPUT ACCEPT", "KUBE-OLD", "KUBE-FIREWALL", "CNI-OTHER"], rules: ["-A INPUT -j KUBE-OLD", "-A INPUT -j KUBE-FIREWALL", '-A KUBE-FIREWALL -m comment --comment "block incoming localnet connections" -j DROP', "-A FORWARD -j CNI-OTHER"] },
            mangle: { chains: ["PREROUTING ACCEPT", "KUBE-IPTABLES-HINT", "KUBE-KUBELET-CANARY"], rules: [] },
        });
        assert.equal(
            iptablesUndo(before, after),
            ["*filter", "-D INPUT -j KUBE-FIREWALL", "-F KUBE-FIREWALL", "-X KUBE-FIREWALL", "COMMIT", "*mangle", "-F KUBE-IPTABLES-HINT", "-F KUBE-KUBELET-CANARY", "-X KUBE-IPTABLES-HINT", "-X KUBE-KUBELET-CANARY", "COMMIT", ""].join("\n"),
        );
        assert.equal(iptablesUndo(after, after), "");
        assert.throws(() => parseIptablesSave("*filter\nnonsense\n"), /cannot read: "nonsense"/);
    });

    it("property: only chains named KUBE-* that are new are deleted, each after every jump to it from elsewhere", () => {
        const chain = fc.constantFrom<string>("KUBE-A", "KUBE-B", "KUBE-C", "CNI-X", "OTHER");
        const table = fc.constantFrom("filter", "nat", "mangle");
        const rule = fc.tuple(fc.constantFrom("INPUT", "KUBE-A", "KUBE-B", "CNI-X"), fc.constantFrom("-j", "-g"), chain).map(([from, j, to]) => `-A ${from} -m comment --comment "a b" ${j} ${to}`);
        const side = fc.dictionary(table, fc.record({ chains: fc.uniqueArray(chain, { maxLength: 5 }), rules: fc.array(rule, { maxLength: 6 }) }));
        fc.assert(
            fc.property(side, side, (b, a) => {
                const withInput = (s: typeof b) => Object.fromEntries(Object.entries(s).map(([t, v]) => [t, { ...v, chains: [...new Set(["INPUT ACCEPT", ...v.chains])] }]));
                const undo = iptablesUndo(save(withInput(b)), save(withInput(a)));
                let tbl = "";
                const deleted = new Set<string>();
                for (const line of undo.split("\n").filter(Boolean)) {
                    if (line.startsWith("*")) tbl = line.slice(1);
                    else if (line.startsWith("-X ")) {
                        const c = line.slice(3);
                        assert.ok(c.startsWith("KUBE-"), line);
                        assert.ok(!(b[tbl]?.chains ?? []).includes(c), `${line}: existed before`);
                        deleted.add(`${tbl}/${c}`);
                    } else if (line.startsWith("-D ")) {
                        assert.ok(a[tbl]!.rules.includes(`-A${line.slice(2)}`), `${line}: not a rule of after`);
                        const target = /\s-[jg] (\S+)$/.exec(line)![1]!;
                        assert.ok(target.startsWith("KUBE-") && !(b[tbl]?.chains ?? []).includes(target), line);
                        assert.equal(deleted.has(`${tbl}/${target}`), false, `${line} after its chain was deleted`);
                    }
                }
                for (const [t, v] of Object.entries(a)) for (const c of v.chains) if (c.startsWith("KUBE-") && !(b[t]?.chains ?? []).includes(c)) assert.ok(deleted.has(`${t}/${c}`), `${t}/${c} not deleted`);
            }),
            { numRuns: 300 },
        );
    });
});
