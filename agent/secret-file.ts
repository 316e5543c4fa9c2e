/**
 * A credential mounted from a Secret (the webhook secret, the sync token), re-read while the agent
 * runs. Kubernetes updates a mounted Secret's files in place (an atomic swap of its `..data`
 * symlink), so a rotation through git reaches the running agent without a restart.
 */
import * as fs from "node:fs";
import { Credential } from "./server";

/** How long a read is reused: a rotation counts within a second, and a request costs no read. */
const SECRET_FILE_MAX_AGE_MS = 1000;

/**
 * A getter of the credential in `file` (`setting` names it in messages). The file is read at most
 * once per `maxAgeMs`, by time rather than by mtime: file timestamps are as coarse as the kernel's
 * clock tick, so a rewrite of the same length can keep its mtime. `log` hears of every change of the
 * outcome (rotated, unreadable, readable again), never the value.
 */
export function secretFile(
    file: string,
    setting: string,
    log: (level: "info" | "error", msg: string) => void,
    opts: { readonly maxAgeMs?: number; readonly clock?: () => number } = {},
): () => Credential {
    const maxAge = opts.maxAgeMs ?? SECRET_FILE_MAX_AGE_MS;
    const clock = opts.clock ?? Date.now;
    let current: Credential | undefined;
    let readAt = 0;
    return () => {
        const now = clock();
        // Reused only from readAt to readAt + maxAge: a wall clock stepped back (NTP) must not make
        // a read look fresh, which served a rotated-out token until the clock caught up.
        if (current && now >= readAt && now - readAt < maxAge) return current;
        readAt = now;
        let next: Credential;
        try {
            const value = fs.readFileSync(file, "utf8").trim();
            next = value ? { value } : { error: `${setting} ${file} is empty` };
        } catch (e) {
            next = { error: `${setting} ${file} cannot be read: ${(e as Error).message}` };
        }
        const before = current;
        current = next;
        if ("error" in next) {
            if (!before || !("error" in before) || before.error !== next.error) log("error", `${next.error}; the endpoint it guards answers 503 until it can be read`);
        } else if (before && "error" in before) log("info", `${setting} ${file} can be read again`);
        else if (before && before.value !== next.value) log("info", `${setting} ${file} changed: the new value is in use`);
        return next;
    };
}
