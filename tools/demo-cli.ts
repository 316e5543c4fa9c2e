/**
 * `npm run demo [-- --flux] [--dir <path>] [--keep]`: the command line of tools/demo.ts. It starts
 * the demo, prints what to try, reports each revision the agent applies, and stops everything on
 * Ctrl-C (SIGINT) or SIGTERM.
 */
import { parseArgs } from "node:util";
import type { AgentStatus } from "../agent/status";
import { Demo, DemoError, startDemo } from "./demo";

const USAGE = "usage: npm run demo [-- --flux] [--dir <path>] [--keep]\n" +
    "  --flux        the agent applies Flux source-controller's artifact instead of fetching the repository itself\n" +
    "  --dir <path>  a new or empty directory for the demo (default: a new one under the temp directory)\n" +
    "  --keep        leave the directory (repository, Pulumi state, logs) behind when the demo stops";

/** Pure: the options, or the problem with the arguments (for the usage line). */
export function parseDemoArgs(args: readonly string[]): { flux: boolean; dir?: string; keep: boolean } | { problem: string } {
    try {
        const { values } = parseArgs({
            args: [...args],
            options: { flux: { type: "boolean", default: false }, dir: { type: "string" }, keep: { type: "boolean", default: false } },
            strict: true,
            allowPositionals: false,
        });
        if (values.dir !== undefined && values.dir.trim() === "") return { problem: "--dir: the path is empty" };
        return { flux: values.flux!, dir: values.dir, keep: values.keep! };
    } catch (e) {
        return { problem: (e as Error).message };
    }
}

/** Pure: lines for what the agent started or finished since `before` (its persisted status). */
function progress(before: AgentStatus | undefined, now: AgentStatus): string[] {
    const lines: string[] = [];
    if (now.running && now.running.revision !== before?.running?.revision) lines.push(`agent: applying ${now.running.revision} (${now.running.trigger})`);
    const run = now.history?.[0];
    if (run && run.startedAt !== before?.history?.[0]?.startedAt) {
        const why = run.message ? `: ${run.message.split("\n")[0]!.slice(0, 300)}` : "";
        lines.push(`agent: ${run.kind} of ${run.revision} ${run.result} after ${Math.round(run.durationMs / 1000)} s${why}`);
    }
    return lines;
}

async function main(): Promise<void> {
    const args = parseDemoArgs(process.argv.slice(2));
    if ("problem" in args) {
        console.error(`${args.problem}\n${USAGE}`);
        process.exit(2);
    }
    const controller = new AbortController();
    let demo: Demo | undefined;
    let stopping = false;
    const stop = async (code: number) => {
        if (stopping) return;
        stopping = true;
        console.log("\nstopping the agent, the cluster and everything else the demo started...");
        await demo?.stop();
        process.exit(code);
    };
    const onSignal = () => {
        // Before the demo is up, aborting makes startDemo clean up after itself.
        if (demo) void stop(0);
        else controller.abort();
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    try {
        demo = await startDemo({
            dir: args.dir,
            keep: args.keep,
            source: args.flux ? "flux" : "git",
            log: (l) => console.log(l),
            // The CLI's output comes in chunks of several lines.
            engineLog: (text) => {
                for (const l of text.split(/\r?\n/)) if (l.trim()) console.log(`  | ${l}`);
            },
            signal: controller.signal,
        });
    } catch (e) {
        // Ctrl-C in a terminal reaches the cluster's processes too, so an interrupted start may fail
        // on one of them first: the interruption is what the user needs to hear.
        if (controller.signal.aborted) {
            console.error("interrupted: everything the demo had started is stopped");
            process.exit(130);
        }
        console.error(e instanceof DemoError ? e.message : `the demo could not start: ${(e as Error).message}`);
        process.exit(1);
    }
    console.log(`\n${demo.nextSteps()}\n`);
    let last: AgentStatus | undefined;
    for (;;) {
        if (stopping) return;
        try {
            const now = demo.status();
            if (now) {
                for (const line of progress(last, now)) console.log(line);
                last = now;
            }
        } catch {
            // The cluster is stopping, or kubectl was interrupted with it.
        }
        await new Promise((r) => setTimeout(r, 3000));
    }
}

if (require.main === module) void main();
