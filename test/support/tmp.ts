/** Temporary directories for the tests, removed when the test process exits (however the test ended). */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const made = new Set<string>();
let hooked = false;

/** A new directory under the OS temp directory, named `<prefix>XXXXXX`, removed at exit. */
export function tempDir(prefix: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    made.add(dir);
    if (!hooked) {
        hooked = true;
        process.on("exit", () => {
            for (const d of made) fs.rmSync(d, { recursive: true, force: true });
        });
    }
    return dir;
}
