/**
 * A real Kubernetes control plane on loopback: etcd + kube-apiserver built from their Go modules
 * (tools/controlplane/go.mod) into a cache outside the repository, started with generated
 * certificates and a service-account key, and stopped without leaving processes behind.
 * Used by the validation tests, `npm run cluster` and `npm run demo`.
 */
import { ChildProcess, execFileSync, spawn } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as https from "node:https";
import * as os from "node:os";
import * as path from "node:path";
import { startAddressStandIn, STANDIN_USER } from "./address-standin";
import { ensureGoTools, haveGo, toolCacheDir } from "./go-tools";
import { freePort } from "./net";
import { generateClusterPki, issueClientCert, issueServingCert, writeKubeconfig } from "./pki";
import { killOnExit, logTail, stopChild } from "./processes";
import { Upstream, upstream } from "./upstream";

/** The Kubernetes release built; the tools module pins the same one. */
export const KUBERNETES_VERSION = "v1.37.2";

export interface Binaries {
    readonly kubeApiserver: string;
    readonly etcd: string;
    readonly kubeControllerManager: string;
    readonly kubeScheduler: string;
    readonly kwok: string;
    /** KWOK's default "fast" Stages (node initialize and heartbeat, pod ready, complete and delete). */
    readonly kwokStages: string;
    /** KWOK's own ClusterRole (its module's kustomize/rbac/role.yaml): what its controller needs. */
    readonly kwokRole: string;
}

/** KWOK's Stage sets, as directories of its module: the `kwok` binary has none built in. */
const KWOK_STAGE_SETS = ["node/fast", "node/heartbeat-with-lease", "pod/fast"];

/**
 * Copies KWOK's Stages and ClusterRole from its module (the version the tools module pins) into the
 * cache, so they are never copied into this repository and always match the binary.
 */
function collectKwokFiles(moduleDir: string, stagesOut: string, roleOut: string): void {
    const kwokDir = execFileSync("go", ["list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/kwok"], { cwd: moduleDir, encoding: "utf8" }).trim();
    const docs = KWOK_STAGE_SETS.flatMap((set) => {
        const dir = path.join(kwokDir, "kustomize", "stage", set);
        return fs.readdirSync(dir).filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml").sort().map((f) => fs.readFileSync(path.join(dir, f), "utf8").trim());
    });
    const write = (out: string, text: string) => {
        fs.writeFileSync(`${out}.tmp`, text);
        fs.renameSync(`${out}.tmp`, out);
    };
    write(roleOut, fs.readFileSync(path.join(kwokDir, "kustomize", "rbac", "role.yaml"), "utf8"));
    write(stagesOut, docs.join("\n---\n") + "\n");
}

/**
 * The version stamp of every Kubernetes binary built here (the cluster's and the real node's
 * kubelet): without it they report v0.0.0, and a kubelet would be older than its apiserver.
 */
export const KUBERNETES_LDFLAGS = (() => {
    const [major, minor] = KUBERNETES_VERSION.slice(1).split(".");
    return [
        `-X k8s.io/component-base/version.gitVersion=${KUBERNETES_VERSION}`,
        `-X k8s.io/component-base/version.gitMajor=${major}`,
        `-X k8s.io/component-base/version.gitMinor=${minor}`,
    ].join(" ");
})();

/** Returns the cached binaries, building them first if absent (20 to 30 minutes cold on 2 cores). */
export function ensureBinaries(log?: (line: string) => void): Binaries {
    const bins = ensureGoTools(
        "controlplane",
        KUBERNETES_VERSION,
        {
            "kube-apiserver": "k8s.io/kubernetes/cmd/kube-apiserver",
            etcd: "go.etcd.io/etcd/server/v3",
            "kube-controller-manager": "k8s.io/kubernetes/cmd/kube-controller-manager",
            "kube-scheduler": "k8s.io/kubernetes/cmd/kube-scheduler",
            kwok: "sigs.k8s.io/kwok/cmd/kwok",
        },
        { ldflags: KUBERNETES_LDFLAGS, log },
    );
    const kwokStages = path.join(toolCacheDir("controlplane", KUBERNETES_VERSION), "kwok-stages.yaml");
    const kwokRole = path.join(toolCacheDir("controlplane", KUBERNETES_VERSION), "kwok-role.yaml");
    if (!fs.existsSync(kwokStages) || !fs.existsSync(kwokRole)) collectKwokFiles(path.resolve(__dirname, "controlplane"), kwokStages, kwokRole);
    return {
        kubeApiserver: bins["kube-apiserver"]!,
        etcd: bins.etcd!,
        kubeControllerManager: bins["kube-controller-manager"]!,
        kubeScheduler: bins["kube-scheduler"]!,
        kwok: bins.kwok!,
        kwokStages,
        kwokRole,
    };
}

/** Whether the binaries are cached or can be built here. */
export function controlPlaneAvailable(): boolean {
    return haveGo() || fs.existsSync(path.join(toolCacheDir("controlplane", KUBERNETES_VERSION), "kube-apiserver"));
}

export interface ControlPlane {
    readonly dir: string;
    /** The admin's kubeconfig (system:masters). */
    readonly kubeconfig: string;
    readonly server: string;
    /** Whether controllers, a scheduler and simulated nodes run (see {@link startControlPlane}). */
    readonly live: boolean;
    /** Names of the simulated nodes (KWOK): pods on them are marked Running, no container runs. */
    readonly nodes: readonly string[];
    /** The running processes of the cluster (for tests that check where they listen). */
    readonly processes: readonly { readonly name: string; readonly pid: number }[];
    /** Runs kubectl against this control plane; returns stdout, throws with stderr on failure. */
    kubectl(args: string[], input?: string): string;
    /**
     * Credentials for a real node (a kubelet) named `node`: a kubeconfig as user `system:node:<node>`
     * in group `system:nodes`, so the Node authorizer and NodeRestriction scope it to its own node,
     * and its kubelet's serving certificate for 127.0.0.1, signed by the cluster CA, which the
     * apiserver checks when it reaches the kubelet (logs, exec).
     */
    nodeCredentials(node: string): { kubeconfig: string; ca: string; serving: { cert: string; key: string } };
    stop(): Promise<void>;
}

/** GET an apiserver path with the admin token; resolves the status code (0 when unreachable). */
function probe(url: string, opts: https.RequestOptions): Promise<number> {
    return new Promise((resolve) => {
        const req = https.get(url, { ...opts, timeout: 2000 }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
        });
        req.on("error", () => resolve(0));
        req.on("timeout", () => req.destroy());
    });
}

/** One process of the cluster (or of a real node), with its log file. */
export interface Component {
    readonly name: string;
    readonly child: ChildProcess;
    readonly log: string;
    /** Why the process could not be started at all (a missing or non-executable binary). */
    spawnError?: Error;
}

/** Why a component is not serving: its name, its log file and the last lines of that log. */
function componentFailure(c: Component, what: string): string {
    return `${c.name} ${what}; its log ${c.log} ends with:\n${logTail(c.log)}`;
}

/**
 * The processes started for one run directory (the cluster's, or a real node's), each logging to
 * `<dir>/<name>.log` and killed if this process exits first.
 */
export class Components {
    readonly list: Component[] = [];
    constructor(private readonly dir: string) {}

    start(name: string, bin: string, args: string[], env?: NodeJS.ProcessEnv): Component {
        const log = path.join(this.dir, `${name}.log`);
        const fd = fs.openSync(log, "a");
        const child = spawn(bin, args, { stdio: ["ignore", fd, fd], env: env ?? process.env });
        fs.closeSync(fd);
        killOnExit(child);
        const c: Component = { name, child, log };
        // Without a listener a failed spawn is an uncaught exception that names nothing.
        child.on("error", (e) => (c.spawnError = e));
        this.list.push(c);
        return c;
    }

    /** Polls `ready` until true; fails naming the first component that exited, or `waitingFor` on timeout. */
    async waitUntil(waitingFor: Component, ready: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
            const unstarted = this.list.find((c) => c.spawnError);
            if (unstarted) throw new Error(`${unstarted.name} could not be started (${unstarted.spawnError!.message}); rebuild it with npm run tools:build`);
            const dead = this.list.find((c) => c.child.exitCode !== null || c.child.signalCode !== null);
            if (dead) throw new Error(componentFailure(dead, `exited (${dead.child.exitCode ?? dead.child.signalCode}) while starting`));
            if (await ready()) return;
            if (Date.now() > deadline) throw new Error(componentFailure(waitingFor, `did not become ready within ${timeoutMs / 1000} s`));
            await new Promise((r) => setTimeout(r, 250));
        }
    }
}

/** RBAC of the cluster's own users that are not Kubernetes components with built-in roles. */
function clusterRbac(kwokRole: string): string {
    const binding = (name: string, role: string, user: string) =>
        ["apiVersion: rbac.authorization.k8s.io/v1", "kind: ClusterRoleBinding", `metadata: {name: ${name}}`, `roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: ${role}}`, `subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: "${user}"}]`].join("\n");
    return [
        fs.readFileSync(kwokRole, "utf8"),
        binding("openfaas-gitops:kwok", "kwok-controller", KWOK_USER),
        [
            "apiVersion: rbac.authorization.k8s.io/v1",
            "kind: ClusterRole",
            "metadata: {name: openfaas-gitops:address-standin}",
            "rules:",
            "- {apiGroups: [''], resources: [services], verbs: [list]}",
            "- {apiGroups: [''], resources: [services/status], verbs: [patch]}",
            "- {apiGroups: [networking.k8s.io], resources: [ingresses], verbs: [list]}",
            "- {apiGroups: [networking.k8s.io], resources: [ingresses/status], verbs: [patch]}",
        ].join("\n"),
        binding("openfaas-gitops:address-standin", "openfaas-gitops:address-standin", STANDIN_USER),
        // What the apiserver needs to reach a real kubelet (logs, exec): the built-in role for it.
        binding("openfaas-gitops:apiserver-kubelet-client", "system:kubelet-api-admin", APISERVER_KUBELET_CLIENT),
    ].join("\n---\n");
}

const KWOK_USER = "openfaas-gitops:kwok";
const APISERVER_KUBELET_CLIENT = "kube-apiserver-kubelet-client";
/** Simulated nodes: KWOK manages only nodes with this annotation, so a real kubelet's node is left alone. */
export const KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node";

/**
 * What a simulated node offers the scheduler. KWOK's default has no ephemeral-storage, so any pod
 * that requests some (Contour's do) would stay Pending; these are a large worker's figures, room for
 * several stacks' requests on one node.
 */
const NODE_RESOURCES = { cpu: "32", memory: "128Gi", "ephemeral-storage": "500Gi", pods: "250" };

/** A simulated node: Linux/amd64 like a typical worker, no taint, so every pod may land on it. */
function simulatedNode(name: string): string {
    return JSON.stringify({
        apiVersion: "v1",
        kind: "Node",
        metadata: {
            name,
            annotations: { [KWOK_NODE_ANNOTATION]: "fake" },
            labels: { "kubernetes.io/arch": "amd64", "kubernetes.io/os": "linux", "kubernetes.io/hostname": name, type: "kwok" },
        },
    });
}

export interface ControlPlaneOptions {
    readonly dir?: string;
    readonly binaries?: Binaries;
    readonly log?: (line: string) => void;
    readonly live?: boolean;
    readonly nodes?: number;
    readonly admissionWebhooks?: boolean;
}

/** A failed start, with the run directory that keeps its logs. */
class StartError extends Error {
    constructor(message: string, readonly runDir: string) {
        super(message);
    }
}

/** Starts taken, at most, when a component loses its free port to another process (see below). */
const START_ATTEMPTS = 3;

/** Whether a failed start is a lost race for a port: free when picked, taken before the component bound it. */
/**
 * Whether a failed start is etcd answering too slowly while the components start (seen in CI with
 * three clusters starting side by side on 2 cores: kube-controller-manager exited on "etcdserver:
 * request timed out"): a fresh start passes.
 */
export function etcdTooSlow(message: string): boolean {
    return /etcdserver: request timed out/.test(message);
}

export function lostPortRace(message: string): boolean {
    return /bind: address already in use|EADDRINUSE/.test(message);
}

/**
 * Starts etcd and kube-apiserver on free loopback ports; with `live` (the default) also
 * kube-controller-manager, kube-scheduler and KWOK with `nodes` simulated nodes, each with its own
 * credentials, and the address stand-in (./address-standin.ts). Resolves once the apiserver is ready
 * and, when live, the nodes are Ready, the scheduler is healthy and the controllers act. A component
 * that does not start is named with its log; nothing is left running then.
 * The apiserver calls no admission webhook unless `admissionWebhooks` is true: a webhook's pod runs
 * no process on a simulated node, and the apiserver would fail closed calling it (and call off
 * loopback). The webhook configurations are stored as declared, so the program reaches the apiserver
 * unchanged; a cluster with a real node that runs the webhook's pod may turn them on.
 */
export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
    // A free port is free when picked and bound a moment later by the component; with several
    // clusters starting side by side (the test runner runs three files at once) another process can
    // take it in between. Only that failure is retried, on fresh ports.
    for (let attempt = 1; ; attempt++) {
        try {
            return await startOnce(opts);
        } catch (e) {
            if (attempt >= START_ATTEMPTS || !(e instanceof StartError) || !(lostPortRace(e.message) || etcdTooSlow(e.message))) throw e;
            const why = lostPortRace(e.message) ? "a port was taken by another process before the cluster bound it" : "etcd answered too slowly while the components started";
            opts.log?.(`${why}; starting again (attempt ${attempt + 1} of ${START_ATTEMPTS})`);
            // The failed attempt's logs go with it: this one is not reported.
            if (opts.dir) for (const entry of fs.readdirSync(opts.dir)) fs.rmSync(path.join(opts.dir, entry), { recursive: true, force: true });
            else fs.rmSync(e.runDir, { recursive: true, force: true });
        }
    }
}

async function startOnce(opts: ControlPlaneOptions): Promise<ControlPlane> {
    const bins = opts.binaries ?? ensureBinaries(opts.log);
    const live = opts.live ?? true;
    const nodeNames = live ? Array.from({ length: opts.nodes ?? 1 }, (_, i) => `kwok-node-${i}`) : [];
    const ownDir = opts.dir === undefined;
    const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), "openfaas-gitops-cp-"));
    fs.mkdirSync(dir, { recursive: true });
    const pki = path.join(dir, "pki");
    fs.mkdirSync(pki, { recursive: true });
    generateClusterPki(pki);
    const caFile = path.join(pki, "ca.crt");
    const token = crypto.randomBytes(24).toString("hex");
    fs.writeFileSync(path.join(pki, "tokens.csv"), `${token},admin,admin,system:masters\n`, { mode: 0o600 });

    const [etcdClient, etcdPeer, apiPort, schedulerPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const server = `https://127.0.0.1:${apiPort}`;
    const kubeconfigOf = (name: string, user: string, groups: readonly string[] = []) => {
        const file = path.join(pki, `${name}.kubeconfig`);
        writeKubeconfig(file, server, caFile, issueClientCert(pki, name, user, groups));
        return file;
    };
    const group = new Components(dir);
    const components = group.list;
    const start = (name: string, bin: string, args: string[], env?: NodeJS.ProcessEnv) => group.start(name, bin, args, env);
    /**
     * Stops every component, dependants first (nothing should log errors about an apiserver that
     * went away under it), and removes a directory of its own; after a failed start it keeps the
     * logs there, which the error names, and removes everything else (keys, tokens, etcd's data).
     */
    const stop = async (o: { keepLogs?: boolean } = {}) => {
        standin?.stop();
        for (const c of [...components].reverse()) await stopChild(c.child, 10_000);
        if (!ownDir) return;
        if (!o.keepLogs) return fs.rmSync(dir, { recursive: true, force: true });
        for (const entry of fs.readdirSync(dir)) if (!entry.endsWith(".log")) fs.rmSync(path.join(dir, entry), { recursive: true, force: true });
    };
    let standin: ReturnType<typeof startAddressStandIn> | undefined;

    const kubeconfig = path.join(dir, "kubeconfig");
    writeKubeconfig(kubeconfig, server, caFile, { token });
    const kubectl = (args: string[], input?: string) => {
        try {
            return execFileSync("kubectl", ["--kubeconfig", kubeconfig, ...args], { input, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] });
        } catch (e) {
            const err = e as { stderr?: string; stdout?: string };
            throw new Error(`kubectl ${args.join(" ")} failed: ${(err.stderr || err.stdout || String(e)).trim()}`);
        }
    };
    const waitUntil = (waitingFor: Component, ready: () => Promise<boolean> | boolean, timeoutMs: number) => group.waitUntil(waitingFor, ready, timeoutMs);

    try {
        start("etcd", bins.etcd, [
            "--name=test", `--data-dir=${path.join(dir, "etcd")}`,
            `--listen-client-urls=http://127.0.0.1:${etcdClient}`, `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
            `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`, `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
            `--initial-cluster=test=http://127.0.0.1:${etcdPeer}`, "--log-level=warn",
        ]);
        const kubeletClient = issueClientCert(pki, "apiserver-kubelet-client", APISERVER_KUBELET_CLIENT);
        const apiserver = start("kube-apiserver", bins.kubeApiserver, [
            `--etcd-servers=http://127.0.0.1:${etcdClient}`,
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", `--secure-port=${apiPort}`,
            // No kubernetes Service endpoints to keep: nothing in this cluster dials the apiserver by ClusterIP.
            "--endpoint-reconciler-type=none",
            `--tls-cert-file=${path.join(pki, "apiserver.crt")}`, `--tls-private-key-file=${path.join(pki, "apiserver.key")}`,
            `--client-ca-file=${caFile}`,
            `--token-auth-file=${path.join(pki, "tokens.csv")}`,
            "--authorization-mode=Node,RBAC",
            // A real kubelet's credentials may touch only its own Node and the pods bound to it.
            "--enable-admission-plugins=NodeRestriction",
            ...(opts.admissionWebhooks ? [] : ["--disable-admission-plugins=MutatingAdmissionWebhook,ValidatingAdmissionWebhook"]),
            `--kubelet-client-certificate=${kubeletClient.cert}`, `--kubelet-client-key=${kubeletClient.key}`,
            `--kubelet-certificate-authority=${caFile}`,
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            `--service-account-key-file=${path.join(pki, "sa.pub")}`,
            `--service-account-signing-key-file=${path.join(pki, "sa.key")}`,
            "--service-cluster-ip-range=10.0.0.0/24",
            `--cert-dir=${path.join(dir, "certs")}`,
        ]);
        const ca = fs.readFileSync(caFile);
        await waitUntil(apiserver, async () => (await probe(`${server}/readyz`, { ca, headers: { Authorization: `Bearer ${token}` } })) === 200, 120_000);
        if (!live) return { dir, kubeconfig, server, live, nodes: [], processes: processesOf(components), kubectl, nodeCredentials: () => notLive(), stop: () => stop() };

        kubectl(["apply", "-f", "-"], clusterRbac(bins.kwokRole));
        const controllerManager = start("kube-controller-manager", bins.kubeControllerManager, [
            `--kubeconfig=${kubeconfigOf("controller-manager", "system:kube-controller-manager")}`,
            // Each controller acts as its own service account, with its built-in role, as on a real cluster.
            "--use-service-account-credentials=true",
            `--service-account-private-key-file=${path.join(pki, "sa.key")}`,
            `--root-ca-file=${caFile}`,
            // Signs a real kubelet's certificate requests with the cluster CA.
            `--cluster-signing-cert-file=${caFile}`, `--cluster-signing-key-file=${path.join(pki, "ca.key")}`,
            "--leader-elect=false", "--bind-address=127.0.0.1", "--secure-port=0",
            // Its default is under /usr/libexec: it would create a directory there.
            `--flex-volume-plugin-dir=${path.join(dir, "flexvolume")}`,
            `--cert-dir=${path.join(dir, "certs")}`,
        ]);
        const scheduler = start("kube-scheduler", bins.kubeScheduler, [
            `--kubeconfig=${kubeconfigOf("scheduler", "system:kube-scheduler")}`,
            "--leader-elect=false", "--bind-address=127.0.0.1", `--secure-port=${schedulerPort}`,
            `--cert-dir=${path.join(dir, "certs")}`,
        ]);
        fs.mkdirSync(path.join(dir, "kwok"));
        const kwok = start(
            "kwok",
            bins.kwok,
            [
                `--kubeconfig=${kubeconfigOf("kwok", KWOK_USER)}`,
                `--config=${bins.kwokStages}`,
                "--manage-all-nodes=false", `--manage-nodes-with-annotation-selector=${KWOK_NODE_ANNOTATION}=fake`,
                "--node-ip=127.0.0.1", "--cidr=10.244.0.0/16", "--node-lease-duration-seconds=40",
            ],
            { ...process.env, KWOK_WORKDIR: path.join(dir, "kwok") },
        );
        for (const n of nodeNames) {
            kubectl(["create", "-f", "-"], simulatedNode(n));
            // Status is a subresource (create ignores it); a merge patch keeps whatever KWOK wrote.
            kubectl(["patch", "node", n, "--subresource=status", "--type=merge", "-p", JSON.stringify({ status: { capacity: NODE_RESOURCES, allocatable: NODE_RESOURCES } })]);
        }
        const standinCert = issueClientCert(pki, "address-standin", STANDIN_USER);
        standin = startAddressStandIn({ server, ca, cert: fs.readFileSync(standinCert.cert), key: fs.readFileSync(standinCert.key) });

        await waitUntil(scheduler, async () => (await probe(`https://127.0.0.1:${schedulerPort}/healthz`, { rejectUnauthorized: false })) === 200, 60_000);
        const readyNodes = () => kubectl(["get", "nodes", "-o", "jsonpath={range .items[*]}{.status.conditions[?(@.type=='Ready')].status}{'\\n'}{end}"]).split("\n").filter((l) => l === "True").length;
        await waitUntil(kwok, () => readyNodes() === nodeNames.length, 60_000);
        // The service-account controller made `default` in `default`: without it no pod is admitted.
        await waitUntil(controllerManager, () => kubectl(["get", "serviceaccount", "default", "-n", "default", "--ignore-not-found", "-o", "name"]).trim() !== "", 60_000);
    } catch (e) {
        await stop({ keepLogs: true });
        throw new StartError(`the local cluster did not start: ${(e as Error).message}`, dir);
    }

    return {
        dir,
        kubeconfig,
        server,
        live,
        nodes: nodeNames,
        processes: processesOf(components),
        kubectl,
        nodeCredentials(node) {
            return {
                kubeconfig: kubeconfigOf(`node-${node}`, `system:node:${node}`, ["system:nodes"]),
                ca: caFile,
                serving: issueServingCert(pki, `kubelet-${node}`, `/O=system:nodes/CN=system:node:${node}`, ["127.0.0.1"]),
            };
        },
        stop: () => stop(),
    };
}

function processesOf(components: readonly Component[]): { name: string; pid: number }[] {
    return components.map((c) => ({ name: c.name, pid: c.child.pid! }));
}

function notLive(): never {
    throw new Error("this control plane was started with live: false: it has no controllers, so no node can join it");
}

/** Installs the real CRDs of the platform's pinned charts (tools/upstream.ts says from where) and waits until they are served. */
export function installCrds(cp: ControlPlane, from: Upstream = upstream()): string[] {
    for (const crds of from.crds()) cp.kubectl(["apply", "--server-side", "--field-manager=openfaas-gitops-tests", "-f", "-"], crds.yaml);
    cp.kubectl(["wait", "--for=condition=Established", "crd", "--all", "--timeout=60s"]);
    return cp.kubectl(["get", "crd", "-o", "name"]).trim().split("\n");
}

// `npm run controlplane:build`: build the binaries into the cache (or find them there).
if (require.main === module) {
    const bins = ensureBinaries((l) => console.log(l));
    console.log(`kube-apiserver: ${bins.kubeApiserver}\netcd: ${bins.etcd}`);
}
