/**
 * TEST HARNESS: a TCP relay from the real node's bridge (tools/real-node.ts, POD_GATEWAY) to a port on
 * loopback, so a pod on the pod network reaches what the tests run on 127.0.0.1. It stands in for
 * what a cluster gives a pod: kube-proxy's route to the apiserver behind the `kubernetes` Service (no
 * kube-proxy runs here), and in-cluster addresses of the git server and the npm mirror. The bridge is
 * on this host and routes nowhere else, so nothing relayed leaves the machine. Bytes are copied as
 * they are: TLS stays end to end between the pod and the apiserver.
 */
import * as net from "node:net";

export interface Relay {
    /** The port on the bridge address that reaches the target. */
    readonly port: number;
    close(): Promise<void>;
}

/** Relays connections to `host`:<free port> to 127.0.0.1:`target`. */
export async function relay(host: string, target: number): Promise<Relay> {
    const open = new Set<net.Socket>();
    const server = net.createServer((inbound) => {
        const outbound = net.connect(target, "127.0.0.1");
        for (const s of [inbound, outbound]) {
            open.add(s);
            s.on("close", () => open.delete(s));
            // Either side's error ends both: a relay never outlives its connection's ends.
            s.on("error", () => {
                inbound.destroy();
                outbound.destroy();
            });
        }
        inbound.pipe(outbound);
        outbound.pipe(inbound);
    });
    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, host, () => resolve());
    });
    return {
        port: (server.address() as net.AddressInfo).port,
        close: () => new Promise<void>((resolve) => {
            for (const s of open) s.destroy();
            server.close(() => resolve());
        }),
    };
}
