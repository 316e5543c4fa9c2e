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
