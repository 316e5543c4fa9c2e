/**
 * The TCP sockets a process holds, read from /proc (Linux): its socket inodes from /proc/<pid>/fd,
 * their addresses from /proc/<pid>/net/tcp and tcp6. Lets a test assert that a Go tool it started
 * listens and connects on loopback only.
 */
import * as fs from "node:fs";

export interface Socket {
    readonly local: string;
    readonly remote: string;
    readonly state: "listen" | "established" | "other";
}

/** Pure: "0100007F:1F90" (little-endian IPv4) or a 32-digit IPv6 (four little-endian words) as address:port. */
export function procAddress(hex: string): string {
    const [addr, port] = hex.split(":") as [string, string];
    const p = parseInt(port, 16);
    if (addr.length === 8) return `${[...Buffer.from(addr, "hex").reverse()].join(".")}:${p}`;
    const words = addr.match(/.{8}/g)!.map((w) => Buffer.from(w, "hex").reverse());
    const bytes = Buffer.concat(words);
    // ::ffff:a.b.c.d is IPv4 on a dual-stack socket: shown as a.b.c.d.
    if (bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) return `${[...bytes.subarray(12)].join(".")}:${p}`;
    const groups = (bytes.toString("hex").match(/.{4}/g) ?? []).map((g) => g.replace(/^0+(?=.)/, ""));
    return `[${groups.join(":")}]:${p}`;
}

/** What a loopback-only socket reads as: `local remote`, both on 127.0.0.1 (a listening one's remote is 0.0.0.0:0). */
export const LOOPBACK_ONLY = /^127\.0\.0\.1:\d+ (127\.0\.0\.1|0\.0\.0\.0):\d+$/;

/** Whether a socket is on loopback at both ends (see {@link LOOPBACK_ONLY}). */
export const onLoopback = (s: Socket): boolean => LOOPBACK_ONLY.test(`${s.local} ${s.remote}`);

export function socketsOf(pid: number): Socket[] {
    const inodes = new Set<string>();
    for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
        try {
            const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
            if (m) inodes.add(m[1]!);
        } catch {
            // closed in the meantime
        }
    }
    const out: Socket[] = [];
    for (const table of ["tcp", "tcp6"]) {
        const lines = fs.readFileSync(`/proc/${pid}/net/${table}`, "utf8").trim().split("\n").slice(1);
        for (const line of lines) {
            const f = line.trim().split(/\s+/);
            if (!inodes.has(f[9]!)) continue;
            const state = f[3] === "0A" ? "listen" : f[3] === "01" ? "established" : "other";
            out.push({ local: procAddress(f[1]!), remote: procAddress(f[2]!), state });
        }
    }
    return out;
}
