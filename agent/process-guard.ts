import { redactUrls } from "../model/git";

/**
 * What the agent process does with an error nobody caught. A rejection nobody handled (a request,
 * a sync, a drift check) is logged and the agent keeps serving: one bad request or object must not
 * stop it (Node's default ends the process). An uncaught exception is different: it unwound a
 * synchronous call half-way and Node cannot say what state it left, so it is logged as fatal and the
 * process exits for the kubelet to restart it (the status ConfigMap and the Lease make a restart safe).
 */
export interface GuardLog {
    error(fields: Record<string, unknown>, msg: string): void;
    fatal(fields: Record<string, unknown>, msg: string): void;
}

export function guardProcess(log: GuardLog): void {
    // Nobody chose what these errors hold: a URL credential in them is redacted, as in every other error the agent logs.
    const text = (s: string | undefined) => (s === undefined ? undefined : redactUrls(s));
    process.on("unhandledRejection", (reason) =>
        log.error({ error: text(reason instanceof Error ? reason.message : String(reason)), stack: text((reason as Error | undefined)?.stack) }, "unhandled rejection; still serving"));
    process.on("uncaughtException", (e) => {
        log.fatal({ error: text(e.message), stack: text(e.stack) }, "uncaught exception; exiting for a restart");
        process.exit(1);
    });
}
