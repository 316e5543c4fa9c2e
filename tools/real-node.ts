/**
 * A REAL node for the live test cluster (tools/controlplane.ts): the kubelet, built from its own Go
 * tools module (tools/kubelet/), with containerd and runc from Debian, joined to the cluster with
 * node-scoped credentials. Containers really run here, beside KWOK's simulated nodes where none does.
 *
 * It changes the host, so it runs only when asked (`OPENFAAS_GITOPS_REAL_NODE=1`, as root): every
 * path it can choose is under its run directory, and what it cannot (cgroups, sysctls, iptables
 * chains, a few fixed directories: tools/host-changes.ts) is recorded before it starts and undone
 * when it stops. See docs/testing.md "A real node".
 */
import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Component, Components, ControlPlane, KUBERNETES_LDFLAGS, KUBERNETES_VERSION } from "./controlplane";
import { stopChild } from "./processes";
import { ensureGoTools, haveGo, toolCacheDir } from "./go-tools";
import { FIXED_HOST_PATHS, iptablesUndo, NODE_SYSCTLS } from "./host-changes";
import { freePort } from "./net";
import { machineLock } from "./machine-lock";
import { missingPackages } from "./packages";

/** The environment variable that allows a real node on this machine; nothing else starts one. */
export const REAL_NODE_OPT_IN = "OPENFAAS_GITOPS_REAL_NODE";

/**
 * The real node's label and taint key (`=true`, NoSchedule): a pod runs there only if it tolerates
 * the taint and selects the label, so third-party pods stay on the simulated nodes.
 */
export const REAL_NODE_KEY = "openfaas-gitops/real-node";

/**
 * A TEST DOUBLE image: busybox-static alone, made here (no registry is reachable). It is the node's
 * pause (sandbox) image, running `sleep`, and the tests' workload image (`httpd`, `sh`).
 */
export const TEST_IMAGE_REPOSITORY = "localhost/openfaas-gitops/busybox-test-double";
export const TEST_IMAGE = `${TEST_IMAGE_REPOSITORY}:1`;


/** Returns the kubelet, building it first if absent (under 5 minutes cold on 2 cores, about 2 with the cluster's packages compiled). */
export function ensureKubelet(log?: (line: string) => void): string {
    return ensureGoTools("kubelet", KUBERNETES_VERSION, { kubelet: "k8s.io/kubernetes/cmd/kubelet" }, { ldflags: KUBERNETES_LDFLAGS, log }).kubelet!;
}

/**
 * Why a real node is not to be started here (one line: the tests skip with it), or undefined when
 * it is asked for. Asked for and unable (a package or Go missing) is not a skip: startRealNode fails
 * with what to install, so a CI that meant to run it cannot pass without it.
 */
export function realNodeUnavailable(): string | undefined {
    if (process.env[REAL_NODE_OPT_IN] !== "1") return `a real node changes the host (cgroups, mounts, sysctls, iptables): set ${REAL_NODE_OPT_IN}=1, as root on a machine you can spare, to run it`;
    if (process.getuid?.() !== 0) return `${REAL_NODE_OPT_IN}=1 but this is not root: the kubelet and containerd need root`;
    return undefined;
}

/** What a real node needs and this machine lacks (one line), or undefined. */
function realNodeMissing(): string | undefined {
    const missing = missingPackages("real-node");
    if (missing) return `a real node needs its packages: ${missing}`;
    if (!haveGo() && !fs.existsSync(path.join(toolCacheDir("kubelet", KUBERNETES_VERSION), "kubelet"))) return "no Go toolchain and no cached kubelet";
    return undefined;
}

/** What a real node changed outside its run directory, recorded before it starts. */
interface HostState {
    readonly sysctls: Record<string, string>;
    readonly iptables: { readonly v4: string; readonly v6: string };
    readonly existing: ReadonlySet<string>;
}

const readSysctl = (key: string) => fs.readFileSync(`/proc/sys/${key}`, "utf8").trim();
const iptablesSave = (family: "v4" | "v6") => execFileSync(family === "v4" ? "iptables-save" : "ip6tables-save", { encoding: "utf8" });

function hostState(): HostState {
    return {
        sysctls: Object.fromEntries(NODE_SYSCTLS.map((k) => [k, readSysctl(k)])),
        iptables: { v4: iptablesSave("v4"), v6: iptablesSave("v6") },
        existing: new Set(FIXED_HOST_PATHS.filter((p) => fs.existsSync(p))),
    };
}

/** Mount points (from /proc/self/mountinfo) at or under `dir`, deepest first. */
export function mountsUnder(given: string): string[] {
    // mountinfo names the real path: /var/run/netns is a link to /run/netns on Debian.
    const dir = fs.existsSync(given) ? fs.realpathSync(given) : given;
    const unescape = (p: string) => p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    const points = fs.readFileSync("/proc/self/mountinfo", "utf8").trim().split("\n").map((l) => unescape(l.split(" ")[4]!));
    return [...new Set(points.filter((p) => p === dir || p.startsWith(`${dir}/`)))].sort((a, b) => b.length - a.length);
}

/** The cgroup hierarchies mounted here (v1 controllers, named ones and the unified v2 one). */
function cgroupMounts(): string[] {
    return fs.readFileSync("/proc/self/mountinfo", "utf8").trim().split("\n")
        .map((l) => l.split(" "))
        .filter((f) => { const fsType = f[f.indexOf("-") + 1]; return fsType === "cgroup" || fsType === "cgroup2"; })
        .map((f) => f[4]!);
}

/** The cgroup directories of the node's cgroup root, in every hierarchy that has one. */
export function cgroupsOf(cgroupRoot: string): string[] {
    const out: string[] = [];
    const walk = (d: string) => {
        out.push(d);
        for (const e of fs.readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(path.join(d, e.name));
    };
    for (const m of cgroupMounts()) if (fs.existsSync(path.join(m, cgroupRoot))) walk(path.join(m, cgroupRoot));
    return out;
}

/** Processes whose command line names `dir` (the node's run directory is in every one's arguments). */
export function processesUnder(dir: string): number[] {
    try {
        return execFileSync("pgrep", ["-f", dir], { encoding: "utf8" }).trim().split("\n").filter(Boolean).map(Number).filter((p) => p !== process.pid);
    } catch {
        return []; // pgrep exits 1 when nothing matches
    }
}

/** Waits synchronously (the exit hook cannot await). */
const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * Unmounts `point`. Right after its users were killed it can still be busy for a moment (a dying
 * process lets go of its mounts last), so it is retried for 2 s, then detached lazily: it leaves the
 * mount table at once and is freed when the last user is gone.
 */
function unmount(point: string): void {
    for (let i = 0; i < 8; i++) {
        try {
            execFileSync("umount", [point], { stdio: "pipe" });
            return;
        } catch {
            sleepSync(250);
        }
    }
    execFileSync("umount", ["--lazy", point], { stdio: "pipe" });
}

/**
 * Undoes on the host what a node changed, after its kubelet and containerd were stopped (or died):
 * kills what still names its run directory (a shim outlives containerd by design), unmounts what is
 * left under it, removes its cgroups, its bridge, the kubelet's new `KUBE-*` chains and the fixed
 * directories it made, and restores the kernel settings. Synchronous, so it also runs on exit.
 */
function undoHost(o: { dir: string; cgroupRoot: string; bridge: string; before: HostState; ownDir: boolean }, attempt: (what: string, fn: () => void) => void): void {
    // Containers are in the node's cgroups (their command lines do not name the run directory).
    const inCgroups = () => cgroupsOf(o.cgroupRoot).flatMap((cg) => fs.readFileSync(path.join(cg, "cgroup.procs"), "utf8").split("\n").filter(Boolean).map(Number));
    const left = () => [...new Set([...processesUnder(o.dir), ...inCgroups()])];
    for (const pid of left()) attempt(`kill ${pid}`, () => process.kill(pid, "SIGKILL"));
    for (let i = 0; i < 40 && left().length > 0; i++) sleepSync(250);
    for (const m of mountsUnder(o.dir)) attempt(`unmount ${m}`, () => unmount(m));
    for (const cg of cgroupsOf(o.cgroupRoot).reverse()) attempt(`remove cgroup ${cg}`, () => fs.rmdirSync(cg));
    if (fs.existsSync(`/sys/class/net/${o.bridge}`)) attempt(`remove the bridge ${o.bridge}`, () => execFileSync("ip", ["link", "delete", o.bridge], { stdio: "pipe" }));
    for (const [k, v] of Object.entries(o.before.sysctls)) {
        const now = readSysctl(k);
        if (now !== v) attempt(`restore ${k} (${now} -> ${v})`, () => fs.writeFileSync(`/proc/sys/${k}`, v));
    }
    for (const family of ["v4", "v6"] as const) {
        const undo = iptablesUndo(o.before.iptables[family], iptablesSave(family));
        if (undo) attempt(`remove iptables ${family} chains: ${undo.split("\n").filter((l) => l.startsWith("-X")).join(", ")}`, () => execFileSync(family === "v4" ? "iptables-restore" : "ip6tables-restore", ["--noflush"], { input: undo, stdio: ["pipe", "pipe", "pipe"] }));
    }
    for (const p of FIXED_HOST_PATHS) {
        if (o.before.existing.has(p) || !fs.existsSync(p)) continue;
        for (const m of mountsUnder(p)) attempt(`unmount ${m}`, () => unmount(m));
        attempt(`remove ${p}`, () => fs.rmSync(p, { recursive: true, force: true }));
    }
    if (o.ownDir) attempt(`remove ${o.dir}`, () => fs.rmSync(o.dir, { recursive: true, force: true }));
}

export interface RealNode {
    readonly name: string;
    readonly dir: string;
    /** containerd's socket (for `ctr --address`). */
    readonly containerdSocket: string;
    /** The node's cgroup root (`--cgroup-root`), made in every hierarchy and removed at stop. */
    readonly cgroupRoot: string;
    /** The host's bridge of the pod network ({@link POD_CIDR}, the host at {@link POD_GATEWAY}), removed at stop. */
    readonly bridge: string;
    /** kubelet and containerd (for tests that check where they listen). */
    readonly processes: readonly { readonly name: string; readonly pid: number }[];
    /**
     * Deletes its pods, stops the kubelet and containerd, and undoes what they changed on the host;
     * resolves with what it undid (one line each: unmounts, cgroups, sysctls, chains, paths).
     */
    stop(): Promise<string[]>;
}

/** Runs `ctr` against the node's containerd in the kubelet's namespace. */
function ctr(node: Pick<RealNode, "containerdSocket">, args: string[]): string {
    try {
        return execFileSync("ctr", ["--address", node.containerdSocket, "--namespace", "k8s.io", ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    } catch (e) {
        const err = e as { stderr?: string };
        throw new Error(`ctr ${args.join(" ")} failed: ${(err.stderr || String(e)).trim()}`);
    }
}

/**
 * Imports an OCI or Docker image archive into the node's containerd, so pods there run it without a
 * registry. Its images are named `<repository>:<tag>` from the archive's own tags (a full reference
 * in the archive is kept when it starts with `repository`). Returns the names imported; an archive
 * with no image under that name is an error naming the archive.
 */
export function importImage(node: Pick<RealNode, "containerdSocket">, archive: string, repository: string): string[] {
    const out = ctr(node, ["images", "import", "--base-name", repository, archive]);
    const names = [...out.matchAll(/^unpacking (\S+) \(/gm)].map((m) => m[1]!);
    if (names.length === 0) throw new Error(`${archive} holds no image that could be named ${repository}:<tag>: tag it in the archive (e.g. with its org.opencontainers.image.ref.name) and import again; ctr said: ${out.trim() || "(nothing)"}`);
    return names;
}

/** Gives an image in the node's containerd a second name (as a registry would serve a second tag of one build). */
export function tagImage(node: Pick<RealNode, "containerdSocket">, source: string, target: string): void {
    ctr(node, ["images", "tag", "--force", source, target]);
}

/** Builds the busybox {@link TEST_IMAGE} as an OCI archive in `dir` with umoci; returns the archive's path. */
export function buildTestImage(dir: string): string {
    const layout = path.join(dir, "layout");
    const bundle = path.join(dir, "bundle");
    const umoci = (args: string[]) => execFileSync("umoci", args, { stdio: "pipe" });
    fs.rmSync(layout, { recursive: true, force: true });
    fs.rmSync(bundle, { recursive: true, force: true });
    umoci(["init", "--layout", layout]);
    umoci(["new", "--image", `${layout}:1`]);
    umoci(["unpack", "--image", `${layout}:1`, bundle]);
    fs.mkdirSync(path.join(bundle, "rootfs", "bin"), { recursive: true });
    fs.copyFileSync("/bin/busybox", path.join(bundle, "rootfs", "bin", "busybox"));
    fs.chmodSync(path.join(bundle, "rootfs", "bin", "busybox"), 0o755);
    umoci(["repack", "--image", `${layout}:1`, bundle]);
    // As a pause image it only waits; pods that run it give their own command.
    umoci(["config", "--image", `${layout}:1`, "--config.entrypoint", "/bin/busybox", "--config.cmd", "sleep", "--config.cmd", "2147483647"]);
    umoci(["gc", "--layout", layout]);
    const archive = path.join(dir, "busybox-test-double.oci.tar");
    execFileSync("tar", ["-C", layout, "-cf", archive, "."]);
    fs.rmSync(bundle, { recursive: true, force: true });
    fs.rmSync(layout, { recursive: true, force: true });
    return archive;
}

/** containerd's private configuration: everything it writes under `dir`, cgroupfs, the test image as pause. */
export function containerdConfig(dir: string, cniConfDir: string): string {
    const q = JSON.stringify;
    return `version = 2
root = ${q(path.join(dir, "root"))}
state = ${q(path.join(dir, "state"))}
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = ${q(path.join(dir, "containerd.sock"))}

[plugins."io.containerd.internal.v1.opt"]
  path = ${q(path.join(dir, "opt"))}

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = ${q(TEST_IMAGE)}
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  # This machine refuses to lower a process's oom_score_adj.
  restrict_oom_score_adj = true

[plugins."io.containerd.grpc.v1.cri".containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  SystemdCgroup = false
  Root = ${q(path.join(dir, "runc"))}

[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = "/usr/lib/cni"
  conf_dir = ${q(cniConfDir)}
`;
}

/** The kubelet's configuration file (KubeletConfiguration v1beta1, as JSON). */
export function kubeletConfig(o: { port: number; healthzPort: number; ca: string; serving: { cert: string; key: string }; containerdSocket: string; cgroupRoot: string; podLogsDir: string; volumePluginDir: string }): string {
    return JSON.stringify(
        {
            apiVersion: "kubelet.config.k8s.io/v1beta1",
            kind: "KubeletConfiguration",
            address: "127.0.0.1",
            port: o.port,
            readOnlyPort: 0,
            healthzBindAddress: "127.0.0.1",
            healthzPort: o.healthzPort,
            // The apiserver reaches it with its kubelet-client certificate, checked against the cluster CA.
            tlsCertFile: o.serving.cert,
            tlsPrivateKeyFile: o.serving.key,
            authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: o.ca } },
            authorization: { mode: "Webhook" },
            containerRuntimeEndpoint: `unix://${o.containerdSocket}`,
            cgroupDriver: "cgroupfs",
            cgroupRoot: o.cgroupRoot,
            // cgroups here are v1 and v2 mixed ("hybrid"); the kubelet refuses v1 unless told.
            failCgroupV1: false,
            failSwapOn: false,
            makeIPTablesUtilChains: false,
            // Its default (-999) lowers its own oom_score_adj, which this machine refuses.
            oomScoreAdj: 0,
            podLogsDir: o.podLogsDir,
            // Its default is under /usr/libexec: it would create a directory there.
            volumePluginDir: o.volumePluginDir,
            registerWithTaints: [{ key: REAL_NODE_KEY, value: "true", effect: "NoSchedule" }],
            // A test machine's disk and memory are shared: no eviction or image GC because of others' use.
            evictionHard: { "memory.available": "1Mi", "nodefs.available": "1%", "nodefs.inodesFree": "1%", "imagefs.available": "1%" },
            imageGCHighThresholdPercent: 100,
            imageGCLowThresholdPercent: 99,
            // No host resolver handed to pods: a pod's name lookups have nowhere to go off the machine.
            resolvConf: "",
        },
        null,
        2,
    );
}

/**
 * The pod network of the real node: its own subnet, apart from KWOK's 10.244.0.0/16 and the cluster's
 * Services (10.0.0.0/24). One real node at a time per machine: two would route the same subnet.
 */
export const POD_CIDR = "10.245.0.0/24";
/** The host's address on the node's bridge: pods on the pod network reach the host here, and only here. */
export const POD_GATEWAY = "10.245.0.1";

/**
 * The CNI network (Debian's plugins): a bridge of the node's own on the host with the subnet's first
 * address, so the kubelet's probes and the host reach pods at their IPs; each pod gets a veth on it and
 * an address from host-local (its records in the run directory). Pods get no default route and no
 * masquerading: nothing a pod sends leaves the machine. hostNetwork pods do not use it.
 */
export function cniConfig(bridge: string, ipamDir: string): string {
    return JSON.stringify({
        cniVersion: "1.0.0",
        name: "openfaas-gitops-pods",
        plugins: [{ type: "bridge", bridge, isGateway: true, isDefaultGateway: false, ipMasq: false, hairpinMode: false, ipam: { type: "host-local", ranges: [[{ subnet: POD_CIDR }]], dataDir: ipamDir } }],
    });
}

/**
 * Starts containerd and a kubelet as node `name` of `cp`, waits until the Node is Ready, and returns
 * it. The Node carries {@link REAL_NODE_KEY} as label and NoSchedule taint, and no KWOK annotation.
 * Its only address is 127.0.0.1: the kubelet refuses a loopback `--node-ip` and publishes none, so it
 * is written once into the Node's status, and the apiserver reaches the kubelet there. A component
 * that does not start fails it with its name, log file and last log lines; nothing is left behind.
 */
export async function startRealNode(cp: ControlPlane, opts: { name?: string; dir?: string; kubelet?: string; log?: (line: string) => void } = {}): Promise<RealNode> {
    const why = realNodeUnavailable() ?? realNodeMissing();
    if (why) throw new Error(`cannot start a real node: ${why}`);
    if (!cp.live) throw new Error("a real node needs a live control plane (controllers and a scheduler): start it without live: false");
    const kubelet = opts.kubelet ?? ensureKubelet(opts.log);
    const name = opts.name ?? "real-node-0";
    const ownDir = opts.dir === undefined;
    const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), "openfaas-gitops-node-"));
    fs.mkdirSync(dir, { recursive: true });
    const containerdDir = path.join(dir, "containerd");
    const containerdSocket = path.join(containerdDir, "containerd.sock");
    const cniConf = path.join(dir, "cni");
    fs.mkdirSync(containerdDir, { recursive: true });
    fs.mkdirSync(cniConf, { recursive: true });
    // Random, not from the run directory's name: two nodes given directories of the same name (say
    // two runs' `node`) would share a cgroup root and a bridge. An interface name has at most 15 bytes.
    const suffix = crypto.randomBytes(5).toString("hex");
    const cgroupRoot = `/openfaas-gitops-node-${suffix}`;
    const bridge = `ofgn-${suffix}`;
    // One real node per machine: one pod subnet and one gateway address (POD_CIDR).
    const unlock = await machineLock("openfaas-gitops-real-node", "a real node", opts.log);
    const before = hostState();
    let stopped = false;

    const group = new Components(dir);
    const components = group.list;
    // Kubectl answers "not found" until the kubelet has registered the Node: not yet, not a failure.
    const waitUntil = (waitingFor: Component, ready: () => boolean, timeoutMs: number) =>
        group.waitUntil(waitingFor, () => {
            try {
                return ready();
            } catch {
                return false;
            }
        }, timeoutMs);

    const undone: string[] = [];
    const problems: string[] = [];
    const attempt = (what: string, fn: () => void) => {
        try {
            fn();
            undone.push(what);
        } catch (e) {
            problems.push(`${what}: ${(e as Error).message}`);
        }
    };
    // If this process exits without stop() (a crash, a test runner's exit), the host is still restored:
    // every step of the undo is synchronous for this reason.
    const onExit = () => {
        if (stopped) return;
        undoHost({ dir, cgroupRoot, bridge, before, ownDir }, attempt);
        unlock();
        if (problems.length > 0) process.stderr.write(`the real node ${name} was not undone cleanly at exit:\n${problems.join("\n")}\n`);
    };
    process.on("exit", onExit);
    const stop = async (): Promise<string[]> => {
        if (stopped) return undone;
        stopped = true;
        process.off("exit", onExit);
        const kubeletC = components.find((c) => c.name === "kubelet");
        if (kubeletC && kubeletC.child.exitCode === null && kubeletC.child.signalCode === null) {
            // Cordon, then delete its pods while the kubelet runs, so it stops their containers itself.
            attempt("cordon", () => cp.kubectl(["cordon", name]));
            // With a grace period of at most 10 s: a pod's own may be minutes (the agent's waits for a
            // running update), and the node is going away.
            attempt("delete its pods", () => cp.kubectl(["delete", "pods", "--all-namespaces", `--field-selector=spec.nodeName=${name}`, "--grace-period=10", "--wait=true", "--timeout=60s"]));
        }
        if (kubeletC) await stopChild(kubeletC.child, 10_000);
        const containerdC = components.find((c) => c.name === "containerd");
        if (containerdC && containerdC.child.exitCode === null && containerdC.child.signalCode === null) {
            // What the kubelet left (its pod sandboxes): killed and deleted, so each shim exits.
            attempt("remove tasks", () => {
                for (const id of ctr({ containerdSocket }, ["tasks", "ls", "-q"]).trim().split("\n").filter(Boolean)) {
                    try {
                        ctr({ containerdSocket }, ["tasks", "delete", "--force", id]);
                    } catch (e) {
                        // Gone between the listing and the delete (its shim exited): what was wanted.
                        if (!/not found/.test((e as Error).message)) throw e;
                    }
                }
            });
            await stopChild(containerdC.child, 10_000);
        }
        attempt("delete the Node", () => cp.kubectl(["delete", "node", name, "--ignore-not-found", "--wait=false"]));
        undoHost({ dir, cgroupRoot, bridge, before, ownDir }, attempt);
        unlock();
        if (problems.length > 0) throw new Error(`the real node ${name} did not stop cleanly:\n${problems.join("\n")}`);
        return undone;
    };

    try {
        // The cgroup root exists in every hierarchy before the kubelet starts (it refuses one that does not).
        for (const m of cgroupMounts()) {
            const cg = path.join(m, cgroupRoot);
            fs.mkdirSync(cg);
            // A new v1 cpuset has no CPUs or memory nodes until given its parent's.
            for (const f of ["cpuset.cpus", "cpuset.mems"]) if (fs.existsSync(path.join(cg, f))) fs.writeFileSync(path.join(cg, f), fs.readFileSync(path.join(m, f)));
        }
        // The bridge and its gateway address exist before any pod, so the host can serve pods there
        // (POD_GATEWAY) from the start; the CNI plugin finds them as it would have made them.
        execFileSync("ip", ["link", "add", "name", bridge, "type", "bridge"], { stdio: "pipe" });
        execFileSync("ip", ["addr", "add", `${POD_GATEWAY}/${POD_CIDR.split("/")[1]}`, "dev", bridge], { stdio: "pipe" });
        execFileSync("ip", ["link", "set", bridge, "up"], { stdio: "pipe" });
        fs.writeFileSync(path.join(cniConf, "10-pods.conflist"), cniConfig(bridge, path.join(dir, "cni-ipam")));
        const containerdConf = path.join(containerdDir, "config.toml");
        fs.writeFileSync(containerdConf, containerdConfig(containerdDir, cniConf));
        const containerd = group.start("containerd", "/usr/bin/containerd", ["--config", containerdConf, "--log-level", "warn"]);
        await waitUntil(containerd, () => (ctr({ containerdSocket }, ["version"]), true), 60_000);
        const image = path.join(dir, "image");
        fs.mkdirSync(image);
        importImage({ containerdSocket }, buildTestImage(image), TEST_IMAGE_REPOSITORY);

        const creds = cp.nodeCredentials(name);
        const [port, healthzPort] = [await freePort(), await freePort()];
        const kubeletDir = path.join(dir, "kubelet");
        fs.mkdirSync(kubeletDir);
        const config = path.join(dir, "kubelet-config.json");
        fs.writeFileSync(config, kubeletConfig({ port, healthzPort, ca: creds.ca, serving: creds.serving, containerdSocket, cgroupRoot, podLogsDir: path.join(dir, "pod-logs"), volumePluginDir: path.join(dir, "volume-plugins") }));
        const kubeletC = group.start("kubelet", kubelet, [
            `--config=${config}`,
            `--kubeconfig=${creds.kubeconfig}`,
            `--root-dir=${kubeletDir}`,
            `--cert-dir=${path.join(dir, "kubelet-pki")}`,
            `--hostname-override=${name}`,
            // Refused as loopback (no address published); without it, the host's DNS name and address.
            "--node-ip=127.0.0.1",
            `--node-labels=${REAL_NODE_KEY}=true`,
            "--v=1",
        ]);
        const node = () => JSON.parse(cp.kubectl(["get", "node", name, "-o", "json"]));
        await waitUntil(kubeletC, () => node().metadata.name === name, 60_000);
        cp.kubectl(["patch", "node", name, "--subresource=status", "--type=merge", "-p", JSON.stringify({ status: { addresses: [{ type: "InternalIP", address: "127.0.0.1" }] } })]);
        // Ready, and the node lifecycle controller has lifted its not-ready taint: pods can be placed there.
        await waitUntil(kubeletC, () => {
            const n = node();
            return n.status.conditions?.some((c: { type: string; status: string }) => c.type === "Ready" && c.status === "True") && !n.spec.taints?.some((t: { key: string }) => t.key === "node.kubernetes.io/not-ready");
        }, 120_000);
    } catch (e) {
        // What could not be undone is part of the failure: the host is not as it was.
        const notUndone = await stop().then(() => "", (s: Error) => `\n${s.message}`);
        throw new Error(`the real node ${name} did not start: ${(e as Error).message}${notUndone}`);
    }
    return {
        name,
        dir,
        containerdSocket,
        cgroupRoot,
        bridge,
        processes: components.map((c) => ({ name: c.name, pid: c.child.pid! })),
        stop,
    };
}

// `npm run kubelet:build`: build the kubelet into the cache (or find it there).
if (require.main === module) console.log(`kubelet: ${ensureKubelet((l) => console.log(l))}`);
