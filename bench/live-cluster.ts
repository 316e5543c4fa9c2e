/**
 * Start-up time and memory of the live test cluster (tools/controlplane.ts), against etcd and the
 * apiserver alone: each started `rounds` times, the time until start resolves (nodes Ready, the
 * scheduler healthy, the controllers acting) and the summed RSS of its processes (from /proc) 5 s
 * later. Figures only, no assertion on them. Usage: npm run bench:cluster [-- <rounds>] (default 3;
 * CI runs 1 so it cannot rot).
 */
import { ensureBinaries, startControlPlane } from "../tools/controlplane";
import { memoryMiB } from "./proc";

const ROUNDS = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 3);


const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function measure(live: boolean): Promise<{ seconds: number; rss: Record<string, number> }> {
    const t = Date.now();
    const cp = await startControlPlane({ live });
    const seconds = (Date.now() - t) / 1000;
    await new Promise((r) => setTimeout(r, 5000));
    const rss = Object.fromEntries(cp.processes.map((p) => [p.name, memoryMiB(p.pid).rss]));
    await cp.stop();
    return { seconds, rss };
}

async function main(): Promise<void> {
    ensureBinaries((l) => console.log(l));
    for (const live of [false, true]) {
        const runs: Awaited<ReturnType<typeof measure>>[] = [];
        for (let i = 0; i < ROUNDS; i++) runs.push(await measure(live));
        const total = runs.map((r) => Object.values(r.rss).reduce((a, b) => a + b, 0));
        const names = Object.keys(runs[0]!.rss);
        console.log(
            `${live ? "live cluster (5 processes)" : "etcd + kube-apiserver only"}: start-up median ${median(runs.map((r) => r.seconds)).toFixed(1)} s ` +
                `(${runs.map((r) => r.seconds.toFixed(1)).join(", ")}), RSS median ${median(total).toFixed(0)} MiB ` +
                `(${names.map((n) => `${n} ${median(runs.map((r) => r.rss[n]!)).toFixed(0)}`).join(", ")})`,
        );
    }
}

void main();
