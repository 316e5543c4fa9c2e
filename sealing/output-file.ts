/**
 * Writing the sealing tools' output files (sealed manifests, a plaintext Secret from
 * --recovery-unseal, an exported private key): replaced whole, never written through a link.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";

/** What a path is when it is not a regular file, for the refusal to replace it. */
function notRegular(st: fs.Stats): string | undefined {
    if (st.isFile()) return undefined;
    return st.isSymbolicLink() ? "a symbolic link" : st.isDirectory() ? "a directory" : "not a regular file";
}

/**
 * Replaces `file` with `text`: written to a fresh file beside it (O_EXCL, so no link planted at that
 * name is followed) created with `mode`, then renamed over it, so a reader never sees half of it and
 * a replaced world-readable file does not lend its mode. A `file` that is a link, a directory or a
 * device is refused rather than replaced. Throws an Error naming the file.
 */
export function replaceFile(file: string, text: string, mode: number): void {
    let existing: fs.Stats | undefined;
    try {
        existing = fs.lstatSync(file);
    } catch {
        existing = undefined;
    }
    const kind = existing && notRegular(existing);
    if (kind) throw new Error(`output file ${file} is ${kind}, not a regular file; remove it or write elsewhere`);
    const tmp = `${file}.tmp-${crypto.randomBytes(6).toString("hex")}`;
    try {
        const fd = fs.openSync(tmp, "wx", mode);
        try {
            fs.writeFileSync(fd, text);
        } finally {
            fs.closeSync(fd);
        }
        fs.renameSync(tmp, file);
    } catch (e) {
        fs.rmSync(tmp, { force: true });
        throw new Error(`cannot write output file ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
}
