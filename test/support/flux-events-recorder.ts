/**
 * TEST DOUBLE for notification-controller's event endpoint (the controller cannot be built here):
 * an HTTP server on loopback that only records the Flux events posted to it and answers 202, as
 * notification-controller does. The payloads' schema is checked against Flux's own Event type
 * (tools/flux-event) in the tests that use it.
 */
import * as http from "node:http";
import { AddressInfo } from "node:net";
import type { FluxEvent } from "../../agent/flux-events";

export interface EventsRecorder {
    /** Every event received so far, in order. */
    readonly received: FluxEvent[];
    /** The endpoint to give the agent (AGENT_FLUX_EVENTS_URL). */
    readonly url: string;
    close(): void;
}

export async function startEventsRecorder(): Promise<EventsRecorder> {
    const received: FluxEvent[] = [];
    const server = http.createServer((req, res) => {
        let body = "";
        req.on("data", (c) => (body += c));
        req.on("end", () => {
            received.push(JSON.parse(body) as FluxEvent);
            res.writeHead(202).end();
        });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    return { received, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, close: () => server.close() };
}
