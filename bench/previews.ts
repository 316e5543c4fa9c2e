/**
 * In-cluster pull-request previews on the prod stack (test/support/preview-world.ts, real engine,
 * real charts, real apiserver; the preview pod runs as a local process under the kubelet double):
 * the time from a push to a pull request (its signed `pull_request` webhook delivery to the agent)
 * to the commit status posted on its head, and the CPU of the preview (the pod's process and all it
 * ran: preview-main, the engine run, the CLI, the provider and the policy pack).
 * Usage: npm run bench:previews [-- <pushes>] (default 3; also in npm run bench; .ci/run runs 1)
 */
import * as crypto from "node:crypto";
import { startEngineHarness } from "../test/support/engine";
import { previewIdentityKubeconfig, REPOSITORY, startPreviewWorld } from "../test/support/preview-world";
import { until, within } from "../test/support/wait";
import { cpuSeconds } from "./proc";

const SECRETS = ["adminPassword", "sealingKeyPem", "sealingCertPem", "agentDeployKey", "agentSyncToken", "agentWebhookSecret"] as const;

async function main(pushes: number): Promise<void> {
    const h = await startEngineHarness();
    try {
        const s = await h.stack("bench", "prod", { secrets: SECRETS, extra: { previewIdentity: true } });
        await s.run("up");
        const w = await startPreviewWorld(h, s, await previewIdentityKubeconfig(h), () => undefined);
        const rows: { seconds: number; cpu: number; state: string }[] = [];
        try {
            w.github.pulls.push({ number: 100, headSha: "0".repeat(40), headRepository: REPOSITORY, baseRef: "main", author: "alice", state: "closed" });
            for (let i = 0; i < pushes; i++) {
                const head = w.repo.pullRequest(100, { [w.configRel]: w.withReplicas(String(i + 4)) });
                Object.assign(w.github.pulls[0]!, { headSha: head, state: "open" });
                const ran = w.pods.ran.length;
                const cpu0 = cpuSeconds("self", "children");
                const body = JSON.stringify({ action: "synchronize", number: 100, pull_request: { head: { sha: head } } });
                const start = process.hrtime.bigint();
                const res = await fetch(`${w.agentUrl}/webhook`, {
                    method: "POST",
                    body,
                    headers: { "X-GitHub-Event": "pull_request", "X-Hub-Signature-256": `sha256=${crypto.createHmac("sha256", w.webhookSecret).update(body).digest("hex")}` },
                });
                if (res.status !== 202) throw new Error(`the webhook answered ${res.status}`);
                const status = await until("the status of the pushed head", () => w.github.statuses.find((x) => x.sha === head && x.state !== "pending"), 600_000);
                const seconds = Number(process.hrtime.bigint() - start) / 1e9;
                // The pod's process has exited (its CPU, and its children's, are then this process's children's).
                const pod = await until("the preview pod", () => (w.pods.ran.length > ran ? w.pods.ran.at(-1) : undefined), 60_000);
                await within("the preview pod's process to exit", pod.exited, 60_000);
                rows.push({ seconds, cpu: cpuSeconds("self", "children") - cpu0, state: status.state });
            }
        } finally {
            await w.stop();
        }
        console.log(`in-cluster previews, prod stack (a push scaling the gateway; the pod's processes local, the kubelet a double):`);
        for (const [i, r] of rows.entries()) console.log(`  push ${i + 1}: push to posted status ${r.seconds.toFixed(1).padStart(5)} s, preview CPU ${r.cpu.toFixed(1).padStart(5)} s (${r.state})`);
        const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
        console.log(`  median: ${median(rows.map((r) => r.seconds)).toFixed(1)} s to the status, ${median(rows.map((r) => r.cpu)).toFixed(1)} CPU-seconds`);
    } finally {
        await h.stop();
    }
}

void main(Number(process.argv[2] ?? 3)).catch((e: Error) => {
    console.error(e.stack ?? e.message);
    process.exit(1);
});
