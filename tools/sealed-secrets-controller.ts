/**
 * The sealed-secrets controller (cmd/controller of github.com/bitnami-labs/sealed-secrets v0.36.6, the
 * release of the pinned chart and of tools/kubeseal), built from the kubeseal tools module into the
 * cache and run as a process against a test control plane, with the flags the program's chart values
 * give it.
 *
 * The controller reads no kubeconfig: it calls client-go's `rest.InClusterConfig()` and nothing else,
 * so it needs KUBERNETES_SERVICE_HOST/PORT and a token and CA at the fixed path
 * /var/run/secrets/kubernetes.io/serviceaccount. Outside a pod we give it exactly that, in a private
 * mount namespace (`unshare --user --map-root-user --mount`): a tmpfs over /var/run with the two files
 * bound in, seen by the controller only. Nothing on the machine changes, and the binary is the
 * upstream one, unpatched.
 */
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import * as yaml from "js-yaml";
import { KEY_SECRET_NAME, sealedSecretsValues } from "../components/sealed-secrets";
import { ensureGoTools, haveGo, toolCacheDir } from "./go-tools";
import { KUBESEAL_VERSION } from "./kubeseal";
import { freePort } from "./net";
import { killOnExit, logTail, stopChild } from "./processes";

const BINARY = "sealed-secrets-controller";

/** Path of the controller binary, built on first use (same module and version as kubeseal). */
export function ensureSealedSecretsController(log?: (line: string) => void): string {
    // The controller logs this version at start (a linker flag, as its release build sets it).
    const bins = ensureGoTools("kubeseal", KUBESEAL_VERSION, { [BINARY]: "github.com/bitnami-labs/sealed-secrets/cmd/controller" }, { ldflags: `-X main.VERSION=${KUBESEAL_VERSION}`, log });
    return bins[BINARY]!;
}

/** Whether the controller is cached or can be built here. */
export function sealedSecretsControllerAvailable(): boolean {
    return haveGo() || fs.existsSync(path.join(toolCacheDir("kubeseal", KUBESEAL_VERSION), BINARY));
}

/** Where client-go's InClusterConfig looks for the token and the CA; a constant in client-go. */
const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/**
 * Pure: the controller's arguments as the pinned chart's Deployment template renders them from the
 * program's values ({@link sealedSecretsValues}), except the two listen addresses: the chart's `:8080`
 * and `:8081` would bind every interface of the machine; a test binds loopback ports of its own.
 * test/sealed-secrets-controller-engine.test.ts compares this with the Deployment the chart renders.
 */
export function controllerArgs(listen: { http: number; metrics: number }): string[] {
    const values = sealedSecretsValues();
    return [
        // chart default updateStatus: true
        "--update-status",
        "--key-renew-period", String(values.keyrenewperiod),
        // chart default secretName, the name the program gives the key Secret
        "--key-prefix", KEY_SECRET_NAME,
        "--listen-addr", `127.0.0.1:${listen.http}`,
        "--listen-metrics-addr", `127.0.0.1:${listen.metrics}`,
    ];
}

/** The apiserver address, its CA and a bearer token, as a pod would find them. */
export interface InClusterCredentials {
    /** https://127.0.0.1:PORT */
    readonly server: string;
    /** PEM */
    readonly ca: string;
    readonly token: string;
}

/**
 * Credentials from a kubeconfig's current context (a token user), e.g. the control plane's admin
 * kubeconfig. `token` replaces the kubeconfig's own, e.g. a ServiceAccount token from
 * `kubectl create token`.
 */
export function credentialsFromKubeconfig(kubeconfig: string, token?: string): InClusterCredentials {
    const cfg = yaml.load(fs.readFileSync(kubeconfig, "utf8")) as {
        "current-context"?: string;
        contexts?: { name: string; context: { cluster: string; user: string } }[];
        clusters?: { name: string; cluster: { server: string; "certificate-authority"?: string; "certificate-authority-data"?: string } }[];
        users?: { name: string; user: { token?: string } }[];
    };
    const ctx = cfg.contexts?.find((c) => c.name === cfg["current-context"])?.context;
    const cluster = cfg.clusters?.find((c) => c.name === ctx?.cluster)?.cluster;
    const user = cfg.users?.find((u) => u.name === ctx?.user)?.user;
    if (!cluster) throw new Error(`${kubeconfig}: no cluster for the current context ${JSON.stringify(cfg["current-context"])}`);
    const ca = cluster["certificate-authority-data"] !== undefined
        ? Buffer.from(cluster["certificate-authority-data"], "base64").toString("utf8")
        : cluster["certificate-authority"] !== undefined
          ? fs.readFileSync(path.resolve(path.dirname(kubeconfig), cluster["certificate-authority"]), "utf8")
          : undefined;
    if (ca === undefined) throw new Error(`${kubeconfig}: cluster ${ctx!.cluster} has no certificate-authority: the controller verifies the apiserver with it`);
    const bearer = token ?? user?.token;
    if (!bearer) throw new Error(`${kubeconfig}: user ${ctx!.user} has no token: the controller authenticates with a bearer token only; pass one`);
    return { server: cluster.server, ca, token: bearer };
}

export interface SealedSecretsController {
    /** The controller's own HTTP server (`/healthz`, `/v1/cert.pem`, `/v1/verify`), on loopback. */
    readonly url: string;
    /** Its process id (unshare and sh exec into it). */
    readonly pid: number;
    /** Its log file (stdout and stderr). */
    readonly logFile: string;
    readonly log: () => string;
    /** False once the process has exited. */
    readonly running: () => boolean;
    /** SIGTERM, then SIGKILL after 5 s; resolves once it has exited and its token file is gone. */
    stop(): Promise<void>;
}


function healthz(url: string): Promise<number> {
    return new Promise((resolve) => {
        const req = http.get(`${url}/healthz`, { timeout: 2000 }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
        });
        req.on("error", () => resolve(0));
        req.on("timeout", () => req.destroy());
    });
}

/**
 * Starts the controller against an apiserver, for the key Secret in `namespace` (the program's
 * sealed-secrets namespace; the controller reads its own namespace from POD_NAMESPACE), and waits
 * until its HTTP server answers /healthz, which it starts only after it has loaded its keys and
 * started its informers. The token and CA go to files under `dir` (mode 0600), never to a command
 * line, and are removed when it stops or fails to start.
 */
export async function startSealedSecretsController(opts: {
    readonly credentials: InClusterCredentials;
    readonly namespace: string;
    /** Its working directory: the log file and the service account files go here. */
    readonly dir: string;
    readonly binary?: string;
    /** @default 60 000 */
    readonly readyTimeoutMs?: number;
}): Promise<SealedSecretsController> {
    const bin = opts.binary ?? ensureSealedSecretsController();
    const server = new URL(opts.credentials.server);
    if (server.protocol !== "https:") throw new Error(`sealed-secrets controller: the apiserver ${opts.credentials.server} is not https (in-cluster clients only speak https)`);
    // The tmpfs over /var/run would hide a directory under it from the controller.
    const varRun = fs.realpathSync("/var/run");
    fs.mkdirSync(opts.dir, { recursive: true });
    if ((fs.realpathSync(opts.dir) + "/").startsWith(varRun + "/")) throw new Error(`sealed-secrets controller: its directory ${opts.dir} is under ${varRun}, which its mount namespace covers; give one elsewhere (e.g. under ${os.tmpdir()})`);
    const saDir = path.join(opts.dir, "serviceaccount");
    fs.mkdirSync(saDir, { recursive: true, mode: 0o700 });
    fs.writeFileSync(path.join(saDir, "token"), opts.credentials.token, { mode: 0o600 });
    fs.writeFileSync(path.join(saDir, "ca.crt"), opts.credentials.ca, { mode: 0o600 });
    fs.writeFileSync(path.join(saDir, "namespace"), opts.namespace, { mode: 0o600 });

    const [httpPort, metricsPort] = [await freePort(), await freePort()];
    const logFile = path.join(opts.dir, "sealed-secrets-controller.log");
    const fd = fs.openSync(logFile, "a");
    // unshare execs sh, which execs the controller: the pid we hold is the controller's, and SIGTERM reaches it.
    const script = [
        "set -e",
        "mount -t tmpfs -o mode=0755 tmpfs /var/run",
        `mkdir -p ${SERVICE_ACCOUNT_DIR}`,
        `mount --bind "$1" ${SERVICE_ACCOUNT_DIR}`,
        'shift',
        'exec "$@"',
    ].join("\n");
    const child = spawn(
        "unshare",
        ["--user", "--map-root-user", "--mount", "sh", "-c", script, "sh", saDir, bin, ...controllerArgs({ http: httpPort, metrics: metricsPort })],
        {
            env: {
                PATH: process.env.PATH ?? "/usr/bin:/bin",
                KUBERNETES_SERVICE_HOST: server.hostname.replace(/^\[(.*)\]$/, "$1"),
                KUBERNETES_SERVICE_PORT: server.port || "443",
                POD_NAMESPACE: opts.namespace,
            },
            stdio: ["ignore", fd, fd],
        },
    );
    fs.closeSync(fd);
    // No unshare on PATH: spawn reports it here, not as an exit.
    let spawnError: Error | undefined;
    child.on("error", (e) => (spawnError = e));
    killOnExit(child);

    const url = `http://127.0.0.1:${httpPort}`;
    const deadline = Date.now() + (opts.readyTimeoutMs ?? 60_000);
    while ((await healthz(url)) !== 200) {
        if (spawnError) {
            fs.rmSync(saDir, { recursive: true, force: true });
            throw new Error(`sealed-secrets controller: cannot run unshare (${spawnError.message}): it runs the controller in a private mount namespace; install util-linux`);
        }
        const exited = child.exitCode !== null || child.signalCode !== null;
        if (exited || Date.now() > deadline) {
            await stopChild(child, 5000);
            fs.rmSync(saDir, { recursive: true, force: true });
            const tail = logTail(logFile, 20);
            const hint = /unshare|mount/.test(tail)
                ? "\n(it runs in a private mount namespace, because it only reads in-cluster credentials from " +
                  `${SERVICE_ACCOUNT_DIR}: this machine must let a user create one (unprivileged user namespaces; Ubuntu 24.04 restricts them with kernel.apparmor_restrict_unprivileged_userns), or run the tests as root)`
                : "";
            throw new Error(
                `sealed-secrets controller ${exited ? `exited (${child.exitCode ?? child.signalCode})` : "did not answer /healthz"} before it was ready; ` +
                    `its log ${logFile} ends:\n${tail}${hint}`,
            );
        }
        await new Promise((r) => setTimeout(r, 200));
    }
    return {
        url,
        pid: child.pid!,
        logFile,
        log: () => fs.readFileSync(logFile, "utf8"),
        running: () => child.exitCode === null && child.signalCode === null,
        stop: async () => {
            await stopChild(child, 5000);
            // The token has no use once the controller is gone.
            fs.rmSync(saDir, { recursive: true, force: true });
        },
    };
}

/** A bearer token for a ServiceAccount (TokenRequest API), e.g. the chart's, so the controller runs with the chart's RBAC. */
export function serviceAccountToken(kubeconfig: string, namespace: string, serviceAccount: string): string {
    return execFileSync("kubectl", ["--kubeconfig", kubeconfig, "-n", namespace, "create", "token", serviceAccount, "--duration=1h"], { encoding: "utf8" }).trim();
}

if (require.main === module) ensureSealedSecretsController((l) => console.log(l));
