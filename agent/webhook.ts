/** GitHub push webhooks: HMAC-SHA256 signature check in constant time, and which pushes matter. */
import * as crypto from "node:crypto";

/** Pure: whether `header` (X-Hub-Signature-256, "sha256=<hex>") signs `body` with `secret`. */
export function validSignature(secret: string, body: Buffer, header: string | undefined): boolean {
    // Exactly 64 hex digits: Buffer.from(..., "hex") stops at the first bad character, so a valid
    // signature with trailing garbage would otherwise pass.
    if (!header || !/^sha256=[0-9a-f]{64}$/i.test(header)) return false;
    const given = Buffer.from(header.slice("sha256=".length), "hex");
    const expected = crypto.createHmac("sha256", secret).update(body).digest();
    // Equal lengths first: timingSafeEqual throws otherwise, and the length is not secret.
    return given.length === expected.length && crypto.timingSafeEqual(given, expected);
}

/** How much of a ref a verdict's reason shows. */
const REF_SHOWN = 200;

export type PushVerdict = { readonly sync: true; readonly revision?: string } | { readonly sync: false; readonly reason: string };

/** Pure: whether a verified delivery should start a sync of `branch`. */
export function pushVerdict(event: string | undefined, body: Buffer, branch: string): PushVerdict {
    if (event === "ping") return { sync: false, reason: "ping" };
    if (event !== "push") return { sync: false, reason: `event ${event ?? "(none)"} is not a push` };
    let parsed: unknown;
    try {
        parsed = JSON.parse(body.toString("utf8"));
    } catch {
        return { sync: false, reason: "payload is not JSON" };
    }
    // Any JSON value parses (null, a number, an array): only an object can be a push.
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return { sync: false, reason: "payload is not a JSON object" };
    const payload = parsed as { ref?: unknown; after?: unknown };
    if (payload.ref !== `refs/heads/${branch}`) {
        // The reason is the answer's body: a signed but huge ref is not echoed whole.
        const ref = typeof payload.ref === "string" ? (payload.ref.length > REF_SHOWN ? `${payload.ref.slice(0, REF_SHOWN)}...` : payload.ref) : "(no ref)";
        return { sync: false, reason: `push to ${ref}, following refs/heads/${branch}` };
    }
    // A deleted branch has an all-zero `after`; anything that is not a sha is no hint.
    const after = typeof payload.after === "string" && /^[0-9a-f]{40}([0-9a-f]{24})?$/.test(payload.after) && !/^0+$/.test(payload.after) ? payload.after : undefined;
    return { sync: true, revision: after };
}

/** A signed `pull_request` delivery's label change: the head it happened on, as GitHub saw it then. */
export interface LabelChange {
    readonly action: "labeled" | "unlabeled";
    readonly number: number;
    readonly label: string;
    readonly headSha: string;
}

/**
 * Pure: the label change a `pull_request` delivery carries, or undefined (another action, or a
 * payload without every field in its form). The head comes from GitHub's signed payload: the commit
 * the pull request had when the label was added, which a later push cannot change.
 */
export function labelChange(body: Buffer): LabelChange | undefined {
    let parsed: unknown;
    try {
        parsed = JSON.parse(body.toString("utf8"));
    } catch {
        return undefined;
    }
    const p = parsed as { action?: unknown; number?: unknown; label?: { name?: unknown }; pull_request?: { head?: { sha?: unknown } } } | null;
    if (typeof p !== "object" || p === null || (p.action !== "labeled" && p.action !== "unlabeled")) return undefined;
    const name = p.label?.name;
    const sha = p.pull_request?.head?.sha;
    if (typeof p.number !== "number" || !Number.isSafeInteger(p.number) || p.number < 1) return undefined;
    if (typeof name !== "string" || name.length === 0 || name.length > 50) return undefined;
    if (typeof sha !== "string" || !/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(sha)) return undefined;
    return { action: p.action, number: p.number, label: name, headSha: sha };
}
