/** The TCP sockets of running processes (from `ss`), for the tests that assert every socket stays on loopback. */
import { execFileSync } from "node:child_process";

export interface Socket {
    readonly local: string;
    readonly peer: string;
    /** The process name ss reports. */
    readonly owner: string;
}

/** Every TCP socket (listening or connected) held by one of `pids`. */
export function socketsOf(pids: readonly number[]): Socket[] {
    const out = execFileSync("ss", ["-tanpH"], { encoding: "utf8" });
    return out.split("\n").flatMap((line) => {
        const cols = line.trim().split(/\s+/);
        const owner = /pid=(\d+)/.exec(line);
        if (!owner || !pids.includes(Number(owner[1]))) return [];
        return [{ local: cols[3]!, peer: cols[4]!, owner: /users:\(\("([^"]+)"/.exec(line)?.[1] ?? "?" }];
    });
}

export const LOOPBACK = /^(127\.0\.0\.1|\[::1\]|\[::ffff:127\.0\.0\.1\]):/;
/** The peer of a listening socket. */
export const ANY = /^(\*|0\.0\.0\.0|\[::\]):\*$|^0\.0\.0\.0:\*$/;
