/**
 * The errors the reconcile loop tells apart by type: a failure retrying cannot fix (it stalls at
 * once), a run stopped at its deadline, and a source that cannot be reached (no backoff). Anything
 * else is a failure of the revision, retried with backoff.
 */
import { redactUrls } from "../model/git";
import { Reason, ReasonName } from "./status";

/**
 * Pure: an error's text as the agent records it. The engine's and git's output can hold any URL the
 * program or a tool printed (a state backend's, a registry's): a credential in one is redacted before
 * the text reaches the status, an Event or the log.
 */
export function errorText(e: unknown): string {
    return redactUrls(e instanceof Error ? e.message : String(e));
}

/**
 * A failure that retrying cannot fix (a bad signature, an unpinned host key): it stalls at once.
 * `artifact` (a digest) keys the stall on that artifact rather than on the revision.
 */
export class PermanentError extends Error {
    constructor(message: string, readonly reason: ReasonName = Reason.VerificationFailed, readonly artifact?: string) {
        super(message);
    }
}

/**
 * A pull request's source over the agent's limits: its preview fails, said so on the pull request,
 * and that head is not fetched again (a new push is).
 */
export class TooLargeError extends Error {}

/** Why a run was stopped at its deadline (AGENT_RUN_TIMEOUT): a failure of the revision, not a cancellation. */
export class RunTimeoutError extends Error {}

/**
 * The source cannot be reached right now (e.g. source-controller's artifact server is down): not a
 * failure of the revision, so no backoff or Stalled; the source is reported unavailable and the next
 * check tries again.
 */
export class SourceUnavailableError extends Error {}
