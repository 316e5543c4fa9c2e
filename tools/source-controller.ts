/**
 * Flux source-controller v1.9.6 for the tests, built from its Go module (tools/source-controller) into
 * the cache, and run as a process against a test control plane: every address on loopback, no
 * leader election, artifacts served over plain HTTP from a temporary storage directory.
 */
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ensureGoTools } from "./go-tools";
import { freePort } from "./net";
import { killOnExit, stopChild } from "./processes";

export const SOURCE_CONTROLLER_VERSION = "v1.9.6";

/** Path of the source-controller binary, built on first use. */
export function ensureSourceController(log?: (line: string) => void): string {
    return ensureGoTools("source-controller", SOURCE_CONTROLLER_VERSION, { "source-controller": "github.com/fluxcd/source-controller" }, { log })["source-controller"]!;
}

export interface SourceController {
    /** Where artifacts are served, e.g. http://127.0.0.1:PORT */
    readonly storageUrl: string;
    readonly log: () => string;
    /** False once the process has exited (a bad flag, a crash). */
    readonly running: () => boolean;
    stop(): Promise<void>;
}

/** Starts source-controller for a kubeconfig; `storagePort` fixed lets a restarted controller keep its artifact URLs. */
export async function startSourceController(kubeconfig: string, opts: { namespace?: string; storageDir?: string; storagePort?: number } = {}): Promise<SourceController> {
    const bin = ensureSourceController();
    const storage = opts.storageDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "ofg-sc-"));
    const port = opts.storagePort ?? (await freePort());
    const addr = `127.0.0.1:${port}`;
    let out = "";
    const child: ChildProcess = spawn(bin, [
        `--storage-path=${storage}`,
        `--storage-addr=${addr}`,
        `--storage-adv-addr=${addr}`,
        "--enable-leader-election=false",
        "--watch-all-namespaces=true",
        `--metrics-addr=127.0.0.1:${await freePort()}`,
        `--health-addr=127.0.0.1:${await freePort()}`,
        "--log-level=info",
    ], { env: { ...process.env, KUBECONFIG: kubeconfig, RUNTIME_NAMESPACE: opts.namespace ?? "flux-system" }, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    killOnExit(child);
    return {
        storageUrl: `http://${addr}`,
        log: () => out,
        running: () => child.exitCode === null && child.signalCode === null,
        stop: async () => {
            await stopChild(child, 5000);
            // A directory of our own goes with the process; a given one may outlive it (restart tests).
            if (!opts.storageDir) fs.rmSync(storage, { recursive: true, force: true });
        },
    };
}
