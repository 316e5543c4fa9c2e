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
import { ensureGoTools, haveGo, toolCacheDir } from "./go-tools";
import { freePort } from "./net";
import { Upstream, upstream } from "./upstream";

/** The Kubernetes release built; the tools module pins the same one. */
export const KUBERNETES_VERSION = "v1.37.2";

export interface Binaries {
    readonly kubeApiserver: string;
    readonly etcd: string;
}

/** Returns the cached binaries, building them first if absent (10 to 13 minutes cold on 2 cores). */
export function ensureBinaries(log?: (line: string) => void): Binaries {
    const [major, minor] = KUBERNETES_VERSION.slice(1).split(".");
    const ldflags = [
        `-X k8s.io/component-base/version.gitVersion=${KUBERNETES_VERSION}`,
        `-X k8s.io/component-base/version.gitMajor=${major}`,
        `-X k8s.io/component-base/version.gitMinor=${minor}`,
    ].join(" ");
    const bins = ensureGoTools("controlplane", KUBERNETES_VERSION, { "kube-apiserver": "k8s.io/kubernetes/cmd/kube-apiserver", etcd: "go.etcd.io/etcd/server/v3" }, { ldflags, log });
    return { kubeApiserver: bins["kube-apiserver"]!, etcd: bins.etcd! };
}

/** Whether the binaries are cached or can be built here. */
export function controlPlaneAvailable(): boolean {
    return haveGo() || fs.existsSync(path.join(toolCacheDir("controlplane", KUBERNETES_VERSION), "kube-apiserver"));
}

function openssl(args: string[], cwd: string): void {
    execFileSync("openssl", args, { cwd, stdio: "pipe" });
}

/** A CA, an apiserver serving certificate for 127.0.0.1/localhost, and the service-account key pair. */
function generateCertificates(dir: string): void {
    openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=openfaas-gitops-test-ca"], dir);
    openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "apiserver.key", "-out", "apiserver.csr", "-subj", "/CN=kube-apiserver"], dir);
    fs.writeFileSync(path.join(dir, "san.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\n");
    openssl(["x509", "-req", "-in", "apiserver.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "apiserver.crt", "-days", "2", "-extfile", "san.ext"], dir);
    openssl(["genrsa", "-out", "sa.key", "2048"], dir);
    openssl(["rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub"], dir);
}

export interface ControlPlane {
    readonly dir: string;
    readonly kubeconfig: string;
    readonly server: string;
    /** Runs kubectl against this control plane; returns stdout, throws with stderr on failure. */
    kubectl(args: string[], input?: string): string;
    stop(): Promise<void>;
}

/** GET an apiserver path with the admin token; resolves the status code (0 when unreachable). */
function probe(server: string, token: string, ca: Buffer, p: string): Promise<number> {
    return new Promise((resolve) => {
        const req = https.get(`${server}${p}`, { ca, headers: { Authorization: `Bearer ${token}` }, timeout: 2000 }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
        });
        req.on("error", () => resolve(0));
        req.on("timeout", () => req.destroy());
    });
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function track(child: ChildProcess): void {
    running.add(child);
    child.on("exit", () => running.delete(child));
    if (!exitHookInstalled) {
        exitHookInstalled = true;
        // Last resort for an abrupt exit: never leave etcd or the apiserver running.
        process.on("exit", () => {
            for (const c of running) c.kill("SIGKILL");
        });
    }
}

function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
        const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
        child.once("exit", () => {
            clearTimeout(timer);
            resolve();
        });
        child.kill("SIGTERM");
    });
}

/** Starts etcd and kube-apiserver on free loopback ports and waits until /readyz answers 200. */
export async function startControlPlane(opts: { dir?: string; binaries?: Binaries; log?: (line: string) => void } = {}): Promise<ControlPlane> {
    const bins = opts.binaries ?? ensureBinaries(opts.log);
    const ownDir = opts.dir === undefined;
    const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), "openfaas-gitops-cp-"));
    fs.mkdirSync(dir, { recursive: true });
    generateCertificates(dir);
    const token = crypto.randomBytes(24).toString("hex");
    fs.writeFileSync(path.join(dir, "tokens.csv"), `${token},admin,admin,system:masters\n`, { mode: 0o600 });

    const [etcdClient, etcdPeer, apiPort] = [await freePort(), await freePort(), await freePort()];
    const logFile = (name: string) => fs.openSync(path.join(dir, `${name}.log`), "a");
    const etcd = spawn(
        bins.etcd,
        [
            "--name=test", `--data-dir=${path.join(dir, "etcd")}`,
            `--listen-client-urls=http://127.0.0.1:${etcdClient}`, `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
            `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`, `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
            `--initial-cluster=test=http://127.0.0.1:${etcdPeer}`, "--log-level=warn",
        ],
        { stdio: ["ignore", logFile("etcd"), logFile("etcd")] },
    );
    track(etcd);
    const apiserver = spawn(
        bins.kubeApiserver,
        [
            `--etcd-servers=http://127.0.0.1:${etcdClient}`,
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", `--secure-port=${apiPort}`,
            // No kubernetes Service endpoints to keep: nothing in this cluster dials the apiserver by ClusterIP.
            "--endpoint-reconciler-type=none",
            `--tls-cert-file=${path.join(dir, "apiserver.crt")}`, `--tls-private-key-file=${path.join(dir, "apiserver.key")}`,
            `--client-ca-file=${path.join(dir, "ca.crt")}`,
            `--token-auth-file=${path.join(dir, "tokens.csv")}`,
            "--authorization-mode=Node,RBAC",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            `--service-account-key-file=${path.join(dir, "sa.pub")}`,
            `--service-account-signing-key-file=${path.join(dir, "sa.key")}`,
            "--service-cluster-ip-range=10.0.0.0/24",
            `--cert-dir=${path.join(dir, "certs")}`,
        ],
        { stdio: ["ignore", logFile("kube-apiserver"), logFile("kube-apiserver")] },
    );
    track(apiserver);

    const server = `https://127.0.0.1:${apiPort}`;
    const kubeconfig = path.join(dir, "kubeconfig");
    fs.writeFileSync(
        kubeconfig,
        [
            "apiVersion: v1",
            "kind: Config",
            "clusters:",
            `- name: local\n  cluster:\n    server: ${server}\n    certificate-authority: ${path.join(dir, "ca.crt")}`,
            "users:",
            `- name: admin\n  user:\n    token: ${token}`,
            "contexts:",
            "- name: local\n  context:\n    cluster: local\n    user: admin",
            "current-context: local",
            "",
        ].join("\n"),
        { mode: 0o600 },
    );

    const stop = async () => {
        await stopChild(apiserver, 10_000);
        await stopChild(etcd, 10_000);
        if (ownDir) fs.rmSync(dir, { recursive: true, force: true });
    };
    const ca = fs.readFileSync(path.join(dir, "ca.crt"));
    const deadline = Date.now() + 120_000;
    while ((await probe(server, token, ca, "/readyz")) !== 200) {
        if (apiserver.exitCode !== null || etcd.exitCode !== null || Date.now() > deadline) {
            const tail = (f: string) => fs.readFileSync(path.join(dir, f), "utf8").split("\n").slice(-15).join("\n");
            const logs = `--- kube-apiserver.log\n${tail("kube-apiserver.log")}\n--- etcd.log\n${tail("etcd.log")}`;
            await stop();
            throw new Error(`control plane did not become ready:\n${logs}`);
        }
        await new Promise((r) => setTimeout(r, 250));
    }

    const kubectl = (args: string[], input?: string) => {
        try {
            return execFileSync("kubectl", ["--kubeconfig", kubeconfig, ...args], { input, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] });
        } catch (e) {
            const err = e as { stderr?: string; stdout?: string };
            throw new Error(`kubectl ${args.join(" ")} failed: ${(err.stderr || err.stdout || String(e)).trim()}`);
        }
    };
    return { dir, kubeconfig, server, kubectl, stop };
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
