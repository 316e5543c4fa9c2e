/**
 * Repair of a DIY file backend's state after a killed write. The backend (gocloud's fileblob) writes
 * each blob atomically (a temp file renamed into place) but its metadata file beside it,
 * `<blob>.attrs`, by truncating and rewriting it in place. A run killed in between (an OOM kill, a
 * node lost) leaves an empty or cut `.attrs`, and from then on every operation on the stack fails
 * with `failed to load checkpoint: EOF`: the agent would be stuck until someone edited its volume.
 * fileblob reads a missing `.attrs` as default metadata (nothing the backend relies on lives there),
 * so removing a torn one makes the blob readable again, unchanged.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * An error that may come from a torn metadata file: a JSON decoder that ran out of input (`EOF`,
 * `unexpected EOF`). Only a hint to look: what is removed is decided by reading the files.
 */
export const MAYBE_TORN_STATE = /\b(unexpected )?EOF\b/;

/** The directory of a `file://` backend URL (`file:///abs`, `file://~/rel`); undefined for any other backend. */
export function fileBackendDir(url: string | undefined): string | undefined {
    if (!url?.startsWith("file://")) return undefined;
    const bare = url.replace(/\?.*$/, "");
    if (bare.startsWith("file://~")) return path.join(os.homedir(), bare.slice("file://~".length));
    try {
        return fileURLToPath(bare);
    } catch {
        return undefined;
    }
}

/** Whether an `.attrs` file's text is whole: fileblob writes one JSON object. */
export function attrsAreWhole(text: string): boolean {
    try {
        const v = JSON.parse(text) as unknown;
        return v !== null && typeof v === "object" && !Array.isArray(v);
    } catch {
        return false;
    }
}

/** Largest `.attrs` file read: fileblob's are a few hundred bytes; anything larger is not one of its own. */
const ATTRS_MAX_BYTES = 64 * 1024;

/**
 * Removes every torn `.attrs` under the backend's `.pulumi` directory; returns the paths removed,
 * relative to the backend directory. Symbolic links are never followed or removed.
 */
export function removeTornAttrs(backendDir: string): string[] {
    const root = path.join(backendDir, ".pulumi");
    if (!fs.existsSync(root)) return [];
    const removed: string[] = [];
    for (const entry of fs.readdirSync(root, { recursive: true, withFileTypes: true })) {
        if (!entry.isFile() || !entry.name.endsWith(".attrs")) continue;
        const file = path.join(entry.parentPath, entry.name);
        const size = fs.lstatSync(file).size;
        if (size > ATTRS_MAX_BYTES) continue;
        if (attrsAreWhole(fs.readFileSync(file, "utf8"))) continue;
        fs.rmSync(file);
        removed.push(path.relative(backendDir, file));
    }
    return removed;
}
