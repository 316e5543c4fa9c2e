/**
 * Calls into a module on a worker thread, for tests of hostile input whose old code hung or took
 * minutes. node:test's per-test `timeout` cannot stop synchronous work: its timer only runs once the
 * test function returns, so a walk that never ends hangs the whole file and one of 100 s passes. With
 * the work on a worker the test's thread stays free and the `timeout` fires (a hang guard, not a speed
 * target: speed is measured in bench/).
 */
import type { TestContext } from "node:test";
import { Worker } from "node:worker_threads";

/** How a call that threw comes back: the error's class name and message (class identity does not cross threads). */
export class ThrownInWorker extends Error {
    constructor(public readonly className: string, message: string) {
        super(message);
    }
}

const WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
require("tsx/cjs");
const m = require(workerData);
parentPort.on("message", ({ id, name, args }) => {
    try {
        parentPort.postMessage({ id, value: m[name](...args) });
    } catch (e) {
        parentPort.postMessage({ id, thrown: { className: e?.constructor?.name ?? typeof e, message: String(e?.message ?? e) } });
    }
});`;

/**
 * A worker (under tsx, as the tests run) that has loaded `modulePath` (absolute) for test `t`; `call`
 * runs one of its exports with structured-cloneable arguments and result. The worker ends with the
 * test, and is terminated, busy or not, when the test times out (else it would keep the file's process
 * alive).
 */
export function offThread(t: TestContext, modulePath: string): { call<T>(name: string, ...args: unknown[]): Promise<T> } {
    const worker = new Worker(WORKER, { eval: true, workerData: modulePath });
    t.signal.addEventListener("abort", () => void worker.terminate(), { once: true });
    t.after(() => worker.terminate());
    const pending = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void }>();
    let next = 0;
    worker.on("message", ({ id, value, thrown }: { id: number; value?: unknown; thrown?: { className: string; message: string } }) => {
        const p = pending.get(id)!;
        pending.delete(id);
        if (thrown) p.reject(new ThrownInWorker(thrown.className, thrown.message));
        else p.resolve(value);
    });
    worker.on("error", (e) => pending.forEach((p) => p.reject(e)));
    return {
        call: <T>(name: string, ...args: unknown[]) =>
            new Promise<T>((resolve, reject) => {
                pending.set(next, { resolve: resolve as (v: unknown) => void, reject });
                worker.postMessage({ id: next++, name, args });
            }),
    };
}
