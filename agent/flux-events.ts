/**
 * The agent's results as Flux events, posted to notification-controller's event endpoint, so the
 * stack's Flux Alerts (Slack, Teams, Discord, webhooks) carry applies, failures, drift and stalls,
 * and a `github` Provider sets the commit status of the applied commit.
 *
 * The payload is Flux's event API (github.com/fluxcd/pkg/apis/event/v1beta1 Event). What
 * notification-controller (v1.8, Flux 2.8) does with it decides its shape:
 * - the involved object is the GitRepository whose artifact was applied: Alerts select events by the
 *   object's kind and name, and the Flux component's Alerts list GitRepository;
 * - metadata keys are prefixed with the involved object's API group (`source.toolkit.fluxcd.io/`);
 *   the controller drops every other key and strips the prefix, so `<group>/revision` arrives as
 *   `revision`, the key its git notifiers parse the commit from (`main@sha1:<sha>`);
 * - git providers (github, ...) take only events marked `<group>/commit_status: update`, and every
 *   other provider skips those; so an apply result goes out twice: once for chat and webhooks,
 *   once as the commit status.
 */
import * as http from "node:http";
import * as https from "node:https";
import { redactUrl } from "../model/git";
import { AgentEvent, Reason } from "./status";
// Used inside functions only: settings.ts imports this module too.
import { AGENT_DEFAULTS } from "./contract";

/** The API group of the involved object (GitRepository): the prefix of every metadata key. */
export const SOURCE_GROUP = "source.toolkit.fluxcd.io";

/** Flux's event (fluxcd/pkg/apis/event/v1beta1), as JSON. */
export interface FluxEvent {
    readonly involvedObject: { readonly apiVersion: string; readonly kind: "GitRepository"; readonly namespace: string; readonly name: string };
    readonly severity: "info" | "error";
    readonly timestamp: string;
    readonly message: string;
    readonly reason: string;
    readonly metadata?: Readonly<Record<string, string>>;
    readonly reportingController: string;
    readonly reportingInstance?: string;
}

/** Reasons that are the outcome of applying a revision: they become that commit's status. */
const COMMIT_STATUS_REASONS: ReadonlySet<string> = new Set([Reason.Applied, Reason.ApplyFailed, Reason.RetriesExhausted, Reason.VerificationFailed, Reason.DigestMismatch]);

/** Flux events carry at most 39,000 characters of message (the Event type's MaxLength). */
const MAX_MESSAGE = 39_000;

/**
 * Pure: the Flux events for one agent event. Progress notes are not sent (Flux's git notifiers skip
 * them too); a Warning is severity error. With a revision, the event names it; an apply outcome
 * also goes out as the commit status of that revision.
 */
export function fluxEvents(e: AgentEvent, o: { readonly namespace: string; readonly name: string; readonly revision?: string; readonly instance?: string; readonly at: Date }): FluxEvent[] {
    if (e.reason === Reason.Progressing) return [];
    const base: FluxEvent = {
        involvedObject: { apiVersion: `${SOURCE_GROUP}/v1`, kind: "GitRepository", namespace: o.namespace, name: o.name },
        severity: e.type === "Warning" ? "error" : "info",
        // metav1.Time: RFC 3339 in whole seconds.
        timestamp: o.at.toISOString().replace(/\.\d{3}Z$/, "Z"),
        message: e.message.slice(0, MAX_MESSAGE),
        reason: e.reason,
        reportingController: AGENT_DEFAULTS.name,
        ...(o.instance ? { reportingInstance: o.instance } : {}),
    };
    if (!o.revision) return [base];
    const revision = { [`${SOURCE_GROUP}/revision`]: o.revision };
    const events: FluxEvent[] = [{ ...base, metadata: revision }];
    if (COMMIT_STATUS_REASONS.has(e.reason)) events.push({ ...base, metadata: { ...revision, [`${SOURCE_GROUP}/commit_status`]: "update" } });
    return events;
}

/** notification-controller's event endpoint in a Flux namespace (the chart's Service, port 80). */
export function eventsUrl(fluxNamespace: string): string {
    return `http://notification-controller.${fluxNamespace}.svc.cluster.local./`;
}

/**
 * notification-controller answers within milliseconds; an event is a report, so one that cannot be
 * delivered is given up rather than left to hold a connection.
 */
const EVENT_POST_TIMEOUT_MS = 15_000;

/** Posts one event; resolves the HTTP status (notification-controller answers 202). */
export function postEvent(url: string, event: FluxEvent): Promise<number> {
    const body = JSON.stringify(event);
    // Errors are logged: they name the endpoint, never a credential in its URL.
    const where = redactUrl(url);
    const request = url.startsWith("https:") ? https.request : http.request;
    return new Promise((resolve, reject) => {
        const req = request(url, { method: "POST", timeout: EVENT_POST_TIMEOUT_MS, headers: { "Content-Type": "application/json", "Content-Length": String(Buffer.byteLength(body)) } }, (res) => {
            res.resume();
            res.on("end", () => ((res.statusCode ?? 0) < 300 ? resolve(res.statusCode!) : reject(new Error(`HTTP ${res.statusCode} from ${where}`))));
        });
        req.on("timeout", () => req.destroy(new Error(`no answer in 15 s from ${where}`)));
        req.on("error", reject);
        req.end(body);
    });
}

/**
 * Sends the Flux events of one agent event, in order. A failure is reported to `onError` and never
 * thrown: a notification outage must not hold up or fail an apply.
 */
export async function sendFluxEvents(url: string, e: AgentEvent, o: Parameters<typeof fluxEvents>[1], onError: (error: Error, event: FluxEvent) => void): Promise<void> {
    for (const fe of fluxEvents(e, o)) await postEvent(url, fe).catch((err: Error) => onError(err, fe));
}
