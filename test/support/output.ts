/** What a process the tests started printed, and when all of it has been read. */
import { ChildProcess } from "node:child_process";

export interface Output {
    /** Its stdout and stderr as read so far. */
    text(): string;
    /**
     * Resolves with its exit code once it has exited and its pipes are closed: "close", not "exit",
     * since a process may exit before its last lines are read from the pipes.
     */
    readonly closed: Promise<number | null>;
}

/** Collects `child`'s stdout and stderr (both piped). */
export function collectOutput(child: ChildProcess): Output {
    let text = "";
    child.stdout!.on("data", (d: Buffer) => (text += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (text += d.toString()));
    return { text: () => text, closed: new Promise((r) => child.once("close", (code) => r(code))) };
}
