/** What the benchmarks read about a process from /proc (Linux): its CPU time and its memory. */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";

/** Clock ticks per second, the unit of /proc's CPU times. */
const TICKS = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }));

/**
 * CPU seconds (user + system) of a process: its own (`self`), its reaped children's (`children`:
 * each child's time is added once its parent has waited for it), or both.
 */
export function cpuSeconds(pid: number | "self", which: "self" | "children" | "both" = "self"): number {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command, which is in parentheses and may hold spaces: utime, stime, cutime, cstime are fields 14 to 17.
    const [utime, stime, cutime, cstime] = stat.slice(stat.lastIndexOf(")") + 2).split(" ").slice(11, 15).map(Number) as [number, number, number, number];
    const own = utime + stime;
    const children = cutime + cstime;
    return (which === "self" ? own : which === "children" ? children : own + children) / TICKS;
}

/** Resident memory of a process now and at its peak, in MiB. */
export function memoryMiB(pid: number): { rss: number; peak: number } {
    const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)![1]);
    return { rss: kb("VmRSS") / 1024, peak: kb("VmHWM") / 1024 };
}
