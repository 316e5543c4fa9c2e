/**
 * What a revision may put in the checkout. A symlink from an artifact or a commit that points
 * outside the checkout would let the next step write there: `npm ci` empties a `node_modules` that
 * links to `../victim`, and the engine runs in a project directory wherever it leads. So such links
 * refuse the revision before anything runs in it, and a `node_modules` that is a symlink at all is
 * refused, since it is the dependency cache npm replaces wholesale.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { PermanentError } from "./errors";
import { Reason } from "./status";

/** At most this many offending entries are named in the message. */
const NAMED = 5;

/** Pure-ish: whether `target` (absolute) is `root` or below it. */
function inside(root: string, target: string): boolean {
    const rel = path.relative(root, target);
    return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

/**
 * Why the entry at `rel` (relative to `root`) may not stay, or undefined: a symlink leading outside
 * `root` (by its text, and where it resolves, if it does), a symlink named node_modules, or (with
 * `specials`) anything but a file, directory or symlink.
 */
function problemOf(root: string, rootReal: string, rel: string, specials: boolean): string | undefined {
    const abs = path.join(root, rel);
    const st = fs.lstatSync(abs, { throwIfNoEntry: false });
    if (!st) return undefined;
    if (st.isSymbolicLink()) {
        const target = fs.readlinkSync(abs);
        const link = `${rel} -> ${target.slice(0, 200)}`;
        if (path.basename(rel) === "node_modules") return `${link} (node_modules must be a directory: it is the dependency cache npm ci replaces)`;
        // Where its text leads from where its directory really is (a dangling link has only this).
        const lexical = path.resolve(fs.realpathSync(path.dirname(abs)), target);
        let real: string | undefined;
        try {
            real = fs.realpathSync(abs);
        } catch {
            real = undefined; // dangling or a loop: its text decides
        }
        if (!inside(rootReal, lexical) || (real !== undefined && !inside(rootReal, real))) return `${link} (leads outside the checkout)`;
        return undefined;
    }
    if (specials && !st.isFile() && !st.isDirectory()) return `${rel} (not a file, directory or symlink)`;
    return undefined;
}

/**
 * Every entry under `dir`, relative to it, without following symlinks. Iterative, and no spread
 * of a directory's entries into push(): an artifact can hold one directory of 200,000 files, which
 * as call arguments overflow the stack ("Maximum call stack size exceeded" instead of a verdict).
 */
function walk(dir: string): string[] {
    const out: string[] = [];
    const pending = [""];
    while (pending.length > 0) {
        const rel = pending.pop()!;
        for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
            const r = path.join(rel, e.name);
            out.push(r);
            if (e.isDirectory()) pending.push(r);
        }
    }
    return out;
}

/**
 * Gives the owner read, write and search permission on `root` and every directory under it (without
 * following symlinks). An artifact's directory of mode 000 or 0555 (tar applies the archive's modes)
 * could not be walked, and neither it nor the checkout it became could be removed: every later
 * checkout failed with EACCES, for the life of the pod's work volume. The agent owns what it unpacked.
 */
export function ownerAccess(root: string): void {
    const pending = [root];
    while (pending.length > 0) {
        const dir = pending.pop()!;
        const st = fs.lstatSync(dir, { throwIfNoEntry: false });
        if (!st?.isDirectory()) continue;
        if ((st.mode & 0o700) !== 0o700) fs.chmodSync(dir, (st.mode & 0o7777) | 0o700);
        for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) pending.push(path.join(dir, e.name));
    }
}

/** Removes `p` and everything under it, whatever the modes of its directories ({@link ownerAccess}). */
export function removeTree(p: string): void {
    if (fs.lstatSync(p, { throwIfNoEntry: false })?.isDirectory()) ownerAccess(p);
    fs.rmSync(p, { recursive: true, force: true });
}

/** The sizes of the regular files under `root`, added up (a sparse file counts by its size, not its blocks). */
export function regularFileBytes(root: string): number {
    return walk(root).reduce((sum, rel) => {
        const st = fs.lstatSync(path.join(root, rel));
        return st.isFile() ? sum + st.size : sum;
    }, 0);
}

/**
 * Refuses `what` unless every entry of `entries` (relative to `root`; default: the whole tree,
 * where special files are refused too) is safe. Offending entries are removed first, so nothing
 * that runs later can follow them; the error is permanent for the revision (retrying cannot change
 * its content) and names up to five of them.
 */
export function assertContained(root: string, what: string, entries?: readonly string[]): void {
    const rootReal = fs.realpathSync(root);
    const problems = (entries ?? walk(root)).flatMap((rel) => {
        const p = problemOf(root, rootReal, rel, entries === undefined);
        return p ? [{ rel, p }] : [];
    });
    if (problems.length === 0) return;
    // unlink, not rm: rm looks through a link to a directory and refuses it.
    for (const { rel } of problems) fs.unlinkSync(path.join(root, rel));
    const more = problems.length > NAMED ? ` and ${problems.length - NAMED} more` : "";
    throw new PermanentError(
        `${what} is refused: ${problems.slice(0, NAMED).map((x) => x.p).join("; ")}${more}. Nothing of it was installed or applied; ` +
            "remove these entries from the repository (symlinks must stay inside it; node_modules is never committed as a link)",
        Reason.VerificationFailed,
    );
}
