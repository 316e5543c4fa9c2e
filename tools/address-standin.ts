/**
 * TEST DOUBLE for the two controllers of a real cluster that have no process here:
 * - a cloud's load-balancer controller, which gives every `type: LoadBalancer` Service an address;
 * - the ingress controller (Contour's Envoy pods run no container on simulated nodes), which writes
 *   the address it serves an Ingress on into the Ingress's status.
 * Pulumi awaits both addresses before it calls such a Service or Ingress ready, as it does on a real
 * cluster; this stand-in writes 127.0.0.1 (nothing listens there for them: no container runs) with
 * its own identity, allowed only to read Services and Ingresses and write their status.
 */
import * as https from "node:https";

export const STANDIN_USER = "openfaas-gitops:address-standin";
export const STANDIN_ADDRESS = "127.0.0.1";

interface Credentials {
    readonly server: string;
    readonly ca: Buffer;
    readonly cert: Buffer;
    readonly key: Buffer;
}

type Item = { metadata: { name: string; namespace: string }; spec?: { type?: string }; status?: { loadBalancer?: { ingress?: unknown[] } } };

function call(c: Credentials, method: string, p: string, body?: unknown): Promise<{ items?: Item[] }> {
    return new Promise((resolve, reject) => {
        const payload = body === undefined ? undefined : JSON.stringify(body);
        const req = https.request(
            `${c.server}${p}`,
            { method, ca: c.ca, cert: c.cert, key: c.key, timeout: 5000, headers: payload ? { "Content-Type": "application/merge-patch+json" } : {} },
            (res) => {
                let text = "";
                res.setEncoding("utf8");
                res.on("data", (d: string) => (text += d));
                res.on("end", () => ((res.statusCode ?? 0) < 300 ? resolve(JSON.parse(text || "{}")) : reject(new Error(`${method} ${p}: ${res.statusCode} ${text.slice(0, 200)}`))));
            },
        );
        req.on("timeout", () => req.destroy(new Error(`${method} ${p}: timed out`)));
        req.on("error", reject);
        req.end(payload);
    });
}

const WITHOUT_ADDRESS = (i: Item) => (i.status?.loadBalancer?.ingress ?? []).length === 0;
const ADDRESS = { status: { loadBalancer: { ingress: [{ ip: STANDIN_ADDRESS }] } } };

/** One pass: every LoadBalancer Service and every Ingress without an address gets one. */
async function assignAddresses(c: Credentials): Promise<void> {
    const services = (await call(c, "GET", "/api/v1/services")).items ?? [];
    for (const s of services.filter((s) => s.spec?.type === "LoadBalancer" && WITHOUT_ADDRESS(s))) {
        await call(c, "PATCH", `/api/v1/namespaces/${s.metadata.namespace}/services/${s.metadata.name}/status`, ADDRESS);
    }
    const ingresses = (await call(c, "GET", "/apis/networking.k8s.io/v1/ingresses")).items ?? [];
    for (const i of ingresses.filter(WITHOUT_ADDRESS)) {
        await call(c, "PATCH", `/apis/networking.k8s.io/v1/namespaces/${i.metadata.namespace}/ingresses/${i.metadata.name}/status`, ADDRESS);
    }
}

/**
 * Polls every `intervalMs` until stopped (a poll, not a watch: it is a stand-in, and a second of
 * delay is what a cloud takes too). Errors are kept for the caller's diagnostics, never thrown: an
 * object deleted between the list and the patch is normal.
 */
export function startAddressStandIn(c: Credentials, intervalMs = 500): { stop(): void; lastError(): string | undefined } {
    let stopped = false;
    let lastError: string | undefined;
    let timer: NodeJS.Timeout | undefined;
    const loop = async () => {
        try {
            await assignAddresses(c);
            lastError = undefined;
        } catch (e) {
            lastError = (e as Error).message;
        }
        if (!stopped) timer = setTimeout(() => void loop(), intervalMs).unref();
    };
    void loop();
    return {
        stop() {
            stopped = true;
            if (timer) clearTimeout(timer);
        },
        lastError: () => lastError,
    };
}
