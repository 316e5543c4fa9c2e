/**
 * The processes the tools start and must never leave behind (a cluster's components, a
 * controller): kill on an abrupt exit of this process, stop with a grace period, and the last lines
 * of a log file for the error that names a process that did not start.
 */
import { ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Kills `child` if this process exits while it runs: the last resort for an abrupt exit. */
export function killOnExit(child: ChildProcess): void {
    running.add(child);
    child.on("exit", () => running.delete(child));
    if (!exitHookInstalled) {
        exitHookInstalled = true;
        process.on("exit", () => {
            for (const c of running) c.kill("SIGKILL");
        });
        // A signal's default action ends the process without running `exit` hooks (this one, the real
        // node's undo): end it through process.exit instead, with the code a shell reports for the
        // signal. A tool with its own handler (a graceful stop) stays in charge of it.
        for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
            process.on(signal, () => {
                if (process.listenerCount(signal) === 1) process.exit(128 + os.constants.signals[signal]);
            });
        }
    }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
export function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
        const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
        child.once("exit", () => {
            clearTimeout(timer);
            resolve();
        });
        child.kill("SIGTERM");
    });
}

/** The last `lines` lines of a log file, or "(no log)" when it cannot be read. */
export function logTail(file: string, lines = 15): string {
    try {
        return fs.readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
    } catch {
        return "(no log)";
    }
}
