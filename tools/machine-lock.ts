/**
 * A lock of the whole machine (a directory under /run/lock holding its owner's pid), for what only
 * one process may do at a time however many run: a real node (one pod subnet per machine), and the
 * test files that compare the host before and after one. A lock whose process is gone is taken over.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const alive = (pid: number) => {
    try {
        process.kill(pid, 0);
        return true;
    } catch (e) {
        return (e as NodeJS.ErrnoException).code === "EPERM";
    }
};

/** The lock directory of `name`. */
export function machineLockPath(name: string): string {
    return path.join(fs.existsSync("/run/lock") ? "/run/lock" : os.tmpdir(), name);
}

/**
 * Takes the lock `name`, waiting while another live process holds it (saying so once through `log`,
 * with `what` it waits for); returns its release. A process asking again for a lock it holds is an
 * error, not a wait on itself.
 */
export async function machineLock(name: string, what: string, log?: (line: string) => void): Promise<() => void> {
    const dir = machineLockPath(name);
    const pidFile = path.join(dir, "pid");
    let told = false;
    for (;;) {
        try {
            fs.mkdirSync(dir);
            fs.writeFileSync(pidFile, String(process.pid));
            return () => fs.rmSync(dir, { recursive: true, force: true });
        } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
        }
        const holder = Number(fs.existsSync(pidFile) ? fs.readFileSync(pidFile, "utf8") : "0");
        if (holder === process.pid) throw new Error(`this process already holds ${dir} (${what}): release it before asking again`);
        // No pid yet: its owner is between the two calls above, unless it died there long ago.
        const stale = holder ? !alive(holder) : Date.now() - fs.statSync(dir).mtimeMs > 10_000;
        if (stale) {
            fs.rmSync(dir, { recursive: true, force: true });
            continue;
        }
        if (!told) log?.(`waiting for ${what} of process ${holder || "?"} (one at a time on this machine: ${dir})`);
        told = true;
        await new Promise((r) => setTimeout(r, 500));
    }
}
