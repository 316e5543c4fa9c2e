/**
 * The few Kubernetes API calls this repository makes, on node:https: the agent's (get, create and
 * replace of a Lease, a ConfigMap and Events; get and watch of Flux's GitRepository; metadata lists
 * for the drift gate; a preview's Job and Secret created, read and deleted) and the program's CRD step (server-side apply of CRDs). Both sides import it,
 * so it lives outside agent/ and the program loads none of the agent's runtime.
 * Measured again against @kubernetes/client-node 2.0.1 doing the same calls on a real apiserver
 * (Node 24, compiled JavaScript, medians of three 20 s runs): 73.6 against 119.4 MiB of steady RSS,
 * 73.7 against 150.2 MiB at peak, 0.18 against 0.84 CPU-seconds, 2 packages against 68. The agent's
 * whole idle RSS is 74 MiB (bench/agent.ts): that client would add more than half of it again.
 */
import * as fs from "node:fs";
import * as https from "node:https";
import * as os from "node:os";
import * as path from "node:path";
import * as yaml from "js-yaml";

/** An API error: `code` is the HTTP status, `body` the server's Status object (its `message` says why). */
export class KubeApiError extends Error {
    constructor(message: string, readonly code: number, readonly body: unknown) {
        super(message);
        this.name = "KubeApiError";
    }
}

/** The HTTP status of an API error, if `e` is one. */
export function apiStatus(e: unknown): number | undefined {
    return e instanceof KubeApiError ? e.code : undefined;
}

/** An API error with the server's own message (e.g. which verb RBAC forbids), not just "HTTP 403"; any other error's message. */
export function apiErrorText(e: unknown): string {
    const message = e instanceof KubeApiError ? (e.body as { message?: unknown } | undefined)?.message : undefined;
    return typeof message === "string" && message ? `HTTP ${(e as KubeApiError).code}: ${message}` : e instanceof Error ? e.message : String(e);
}

export interface KubeConnection {
    readonly server: string;
    readonly ca?: Buffer;
    readonly cert?: Buffer;
    readonly key?: Buffer;
    /** Read on every request: projected service-account tokens rotate. */
    readonly token?: () => string;
}

const SERVICE_ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount";

interface KubeconfigFile {
    "current-context"?: string;
    contexts?: { name: string; context: { cluster: string; user: string } }[];
    clusters?: { name: string; cluster: Record<string, string> }[];
    users?: { name: string; user?: Record<string, string> }[];
}

/**
 * The connection from a kubeconfig file (its current context: token, token file or client
 * certificate; exec plugins are not supported), else the pod's service account, else ~/.kube/config.
 */
export function kubeConnection(file?: string): KubeConnection {
    const host = process.env.KUBERNETES_SERVICE_HOST;
    if (!file && host && fs.existsSync(path.join(SERVICE_ACCOUNT, "token"))) {
        return {
            server: `https://${host.includes(":") ? `[${host}]` : host}:${process.env.KUBERNETES_SERVICE_PORT ?? "443"}`,
            ca: fs.readFileSync(path.join(SERVICE_ACCOUNT, "ca.crt")),
            token: () => fs.readFileSync(path.join(SERVICE_ACCOUNT, "token"), "utf8").trim(),
        };
    }
    const where = file ?? path.join(os.homedir(), ".kube", "config");
    const cfg = yaml.load(fs.readFileSync(where, "utf8")) as KubeconfigFile;
    const context = cfg.contexts?.find((c) => c.name === cfg["current-context"])?.context;
    const cluster = cfg.clusters?.find((c) => c.name === context?.cluster)?.cluster;
    if (!context || !cluster?.server) throw new Error(`${where}: no current-context with a cluster server`);
    const user = cfg.users?.find((u) => u.name === context.user)?.user ?? {};
    if (user.exec || user["auth-provider"]) throw new Error(`${where}: user ${context.user} needs an exec or auth-provider plugin; the agent takes a token, token file or client certificate`);
    const data = (inline?: string, file?: string) => (inline ? Buffer.from(inline, "base64") : file ? fs.readFileSync(path.resolve(path.dirname(where), file)) : undefined);
    const token = user.token;
    const tokenFile = user.tokenFile;
    return {
        server: cluster.server,
        ca: data(cluster["certificate-authority-data"], cluster["certificate-authority"]),
        cert: data(user["client-certificate-data"], user["client-certificate"]),
        key: data(user["client-key-data"], user["client-key"]),
        token: token ? () => token : tokenFile ? () => fs.readFileSync(path.resolve(path.dirname(where), tokenFile), "utf8").trim() : undefined,
    };
}

/** The API client from a kubeconfig file, else the pod's service account ({@link kubeConnection}). */
export function kubeApi(file?: string): KubeApi {
    return new KubeApi(kubeConnection(file));
}

/**
 * A call without an answer for this long is given up: the apiserver answers a get or a write in
 * milliseconds, and its own request timeout is 60 s, so a silent connection (a partitioned apiserver,
 * a proxy that holds it) would otherwise hold a poll or a CRD step for as long as TCP lets it.
 */
const REQUEST_TIMEOUT_MS = 30_000;

type Kind = "leases" | "configmaps" | "events";

/** One line of a watch stream. An ERROR event carries a Status object (410: the resourceVersion is too old). */
export interface WatchEvent<T> {
    readonly type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
    readonly object: T;
}

/** JSON over HTTPS to the apiserver, one kept-alive connection. */
export class KubeApi {
    private readonly agent: https.Agent;

    constructor(private readonly connection: KubeConnection) {
        this.agent = new https.Agent({ keepAlive: true, ca: connection.ca, cert: connection.cert, key: connection.key });
    }

    private url(kind: Kind, namespace: string, name?: string): string {
        const group = kind === "leases" ? "/apis/coordination.k8s.io/v1" : "/api/v1";
        return this.urlOf(`${group}/namespaces/${encodeURIComponent(namespace)}/${kind}${name ? `/${encodeURIComponent(name)}` : ""}`);
    }

    /** The URL of an API path (`/api/...`, `/apis/...`) on this server. */
    private urlOf(apiPath: string): string {
        return `${this.connection.server.replace(/\/$/, "")}${apiPath}`;
    }

    /**
     * One call, given up after 30 s without an answer, or when `signal` aborts (the request is
     * destroyed; the rejection is the signal's reason), e.g. at a leader's renew deadline.
     */
    private request<T>(method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE", url: string, body?: unknown, signal?: AbortSignal, types: { accept?: string; content?: string; impersonate?: string } = {}): Promise<T> {
        const payload = body === undefined ? undefined : JSON.stringify(body);
        const token = this.connection.token?.();
        const headers: Record<string, string> = { Accept: types.accept ?? "application/json" };
        if (types.impersonate) headers["Impersonate-User"] = types.impersonate;
        if (payload !== undefined) Object.assign(headers, { "Content-Type": types.content ?? "application/json", "Content-Length": String(Buffer.byteLength(payload)) });
        if (token) headers.Authorization = `Bearer ${token}`;
        return new Promise<T>((resolve, reject) => {
            if (signal?.aborted) return reject(signal.reason);
            const req = https.request(url, { method, agent: this.agent, headers, timeout: REQUEST_TIMEOUT_MS, signal }, (res) => {
                const chunks: Buffer[] = [];
                res.on("data", (c: Buffer) => chunks.push(c));
                res.on("end", () => {
                    const text = Buffer.concat(chunks).toString("utf8");
                    let parsed: unknown = text;
                    try {
                        parsed = text ? JSON.parse(text) : undefined;
                    } catch {
                        // not JSON (a proxy's error page): kept as text
                    }
                    const code = res.statusCode ?? 0;
                    if (code >= 200 && code < 300) resolve(parsed as T);
                    else reject(new KubeApiError(`HTTP ${code} from ${method} ${url}`, code, parsed));
                });
                res.on("error", (e) => reject(signal?.aborted ? signal.reason : e));
            });
            req.on("timeout", () => req.destroy(new Error(`no answer in ${REQUEST_TIMEOUT_MS / 1000} s from ${method} ${url}`)));
            req.on("error", (e) => reject(signal?.aborted ? signal.reason : e));
            req.end(payload);
        });
    }

    /** GET of an API path, e.g. `/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/gitrepositories/x`. */
    getPath<T>(apiPath: string): Promise<T> {
        return this.request("GET", this.urlOf(apiPath));
    }

    /**
     * Watches the collection at `apiPath` from `resourceVersion` (`?watch=1`): `onEvent` gets each
     * event as it arrives. Resolves when the server closes the stream (it does after
     * `timeoutSeconds`), rejects on a connection error or a non-200 answer; the caller re-lists and
     * watches again, as client-go's reflector does.
     */
    watch<T>(apiPath: string, query: Record<string, string>, onEvent: (e: WatchEvent<T>) => void, signal: AbortSignal): Promise<void> {
        const qs = new URLSearchParams({ ...query, watch: "1", allowWatchBookmarks: "true" }).toString();
        const url = this.urlOf(`${apiPath}?${qs}`);
        const token = this.connection.token?.();
        const headers: Record<string, string> = { Accept: "application/json" };
        if (token) headers.Authorization = `Bearer ${token}`;
        return new Promise<void>((resolve, reject) => {
            // Its own connection: a long-lived stream must not hold up the kept-alive one.
            const req = https.request(url, { method: "GET", ca: this.connection.ca, cert: this.connection.cert, key: this.connection.key, headers, signal }, (res) => {
                if (res.statusCode !== 200) {
                    res.resume();
                    return reject(new KubeApiError(`HTTP ${res.statusCode} from watch ${url}`, res.statusCode ?? 0, undefined));
                }
                let buffered = "";
                res.setEncoding("utf8");
                res.on("data", (chunk: string) => {
                    buffered += chunk;
                    let nl: number;
                    while ((nl = buffered.indexOf("\n")) >= 0) {
                        const line = buffered.slice(0, nl).trim();
                        buffered = buffered.slice(nl + 1);
                        if (!line) continue;
                        let event: WatchEvent<T>;
                        try {
                            event = JSON.parse(line) as WatchEvent<T>;
                        } catch {
                            // A cut or garbled stream: end this watch; the caller lists again.
                            req.destroy(new Error(`watch ${url} sent a line that is not JSON`));
                            return;
                        }
                        onEvent(event);
                    }
                });
                res.on("end", () => resolve());
                res.on("error", reject);
            });
            req.on("error", (e) => (signal.aborted ? resolve() : reject(e)));
            req.end();
        });
    }

    /**
     * The metadata of a collection's objects (PartialObjectMetadataList): names, labels and
     * annotations without the bodies (a CRD's schema is up to a few hundred kB).
     */
    listMetadata<T>(apiPath: string, labelSelector: string, limit?: number): Promise<{ metadata?: { continue?: string }; items: T[] }> {
        const qs = new URLSearchParams({ labelSelector, ...(limit ? { limit: String(limit) } : {}) }).toString();
        return this.request("GET", this.urlOf(`${apiPath}?${qs}`), undefined, undefined, { accept: "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1" });
    }

    /** The metadata of one object (PartialObjectMetadata). */
    getMetadata<T>(apiPath: string): Promise<T> {
        return this.request("GET", this.urlOf(apiPath), undefined, undefined, { accept: "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1" });
    }

    /** A server-side apply of `body` at `apiPath` (conflicts forced); `dryRun` validates it without storing it. */
    apply<T>(apiPath: string, body: unknown, fieldManager: string, dryRun = false): Promise<T> {
        const qs = new URLSearchParams({ fieldManager, force: "true", ...(dryRun ? { dryRun: "All" } : {}) }).toString();
        return this.request("PATCH", this.urlOf(`${apiPath}?${qs}`), body, undefined, { content: "application/apply-patch+yaml" });
    }

    /** A POST of `body` to an API path (a collection): the object created; `as` makes it as that user (impersonation). */
    createAt<T>(apiPath: string, body: unknown, as?: string): Promise<T> {
        return this.request("POST", this.urlOf(apiPath), body, undefined, { impersonate: as });
    }

    /** A DELETE of an API path; `propagationPolicy` decides what happens to the objects it owns. */
    deleteAt(apiPath: string, propagationPolicy: "Background" | "Foreground" | "Orphan" = "Background"): Promise<unknown> {
        return this.request("DELETE", this.urlOf(apiPath), { kind: "DeleteOptions", apiVersion: "v1", propagationPolicy });
    }

    get<T>(kind: Kind, namespace: string, name: string, signal?: AbortSignal): Promise<T> {
        return this.request("GET", this.url(kind, namespace, name), undefined, signal);
    }

    create<T>(kind: Kind, namespace: string, body: T, signal?: AbortSignal): Promise<T> {
        return this.request("POST", this.url(kind, namespace), body, signal);
    }

    replace<T>(kind: Kind, namespace: string, name: string, body: T, signal?: AbortSignal): Promise<T> {
        return this.request("PUT", this.url(kind, namespace, name), body, signal);
    }
}

/** A MicroTime as the apiserver writes it: RFC 3339 with six fractional digits. */
export function microTime(ms: number): string {
    return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}
