/**
 * Push to live on the prod stack: the agent as a real process (test/support/agent-process.ts)
 * following a real git repository of this project (file://), the real engine and charts on the live
 * cluster (test/support/engine.ts). After the bootstrap and the agent's first apply, each round
 * commits a new image tag for one function and sends the signed push webhook; it measures the time to
 * the function's Deployment carrying that image on the apiserver and to the status saying `Applied`,
 * with the breakdown from the agent's log: the webhook's notice, fetch and dependency check (to the
 * engine run's start), the engine run, and the status write. Prints the median of the rounds.
 * Usage: npm run bench:push [-- <rounds>] (default 3; .ci/run runs 1).
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as yaml from "js-yaml";
import { KubeApi, kubeConnection } from "../kube/api";
import { AGENT_DEFAULTS } from "../agent/contract";
import { AgentProcess, startAgent } from "../test/support/agent-process";
import { projectCopy, startEngineHarness } from "../test/support/engine";
import { makeRepo } from "../test/support/gitrepo";
import { tempDir } from "../test/support/tmp";

const STACK = "prod";
const FUNCTION = "nodeinfo";
const SECRET = crypto.randomBytes(16).toString("hex");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** When the agent logged a line matching `re` after `since` (its pino `time`, ms), polled. */
async function logged(agent: AgentProcess, re: RegExp, since: number, timeoutMs = 300_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        for (const line of agent.logs().split("\n")) {
            if (!re.test(line)) continue;
            try {
                const t = (JSON.parse(line) as { time?: number }).time;
                if (t !== undefined && t >= since) return t;
            } catch {
                // not a log record
            }
        }
        if (Date.now() > deadline) throw new Error(`no log line matching ${re} in ${timeoutMs / 1000} s:\n${agent.logs().slice(-3000)}`);
        await sleep(50);
    }
}

/** Polls `read` every 50 ms until it is true; the time it was first seen. */
async function seen(what: string, read: () => Promise<boolean>, timeoutMs = 300_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        if (await read().catch(() => false)) return Date.now();
        if (Date.now() > deadline) throw new Error(`${what}: not seen in ${timeoutMs / 1000} s`);
        await sleep(50);
    }
}

async function main(): Promise<void> {
    const rounds = Number(process.argv[2] ?? 3);
    const h = await startEngineHarness();
    let agent: AgentProcess | undefined;
    try {
        const api = new KubeApi(kubeConnection(h.cp.kubeconfig));
        h.cp.kubectl(["create", "namespace", AGENT_DEFAULTS.namespace]);
        const stack = await h.stack(STACK, STACK, { secrets: ["adminPassword", "sealingKeyPem", "sealingCertPem", "agentDeployKey", "agentSyncToken", "agentWebhookSecret"] });
        await stack.run("up");
        const repo = makeRepo();
        projectCopy(repo.work);
        fs.appendFileSync(path.join(repo.work, ".gitignore"), "node_modules\n");
        const stackFile = fs.readFileSync(stack.configFile, "utf8");
        let head = repo.commit({ [`stacks/Pulumi.${STACK}.yaml`]: stackFile }, "platform");
        const secretFile = path.join(tempDir("ofg-bench-push-"), "webhook");
        fs.writeFileSync(secretFile, SECRET);
        agent = await startAgent({
            ...h.env, AGENT_STACK: STACK, AGENT_SECRETS_PROVIDER: "passphrase", AGENT_REPO_URL: `file://${repo.bare}`, AGENT_WEBHOOK_SECRET_FILE: secretFile,
            AGENT_POLL_INTERVAL: "3600", AGENT_DRIFT_INTERVAL: "0", POD_NAMESPACE: AGENT_DEFAULTS.namespace, POD_NAME: "bench-push",
        }, { dependencyCache: true });
        const status = async () => JSON.parse((await api.get<{ data: Record<string, string> }>("configmaps", AGENT_DEFAULTS.namespace, AGENT_DEFAULTS.statusConfigMap)).data["status.json"]!) as { lastAppliedRevision?: string };
        const applied = (rev: string) => seen(`${rev} applied`, async () => (await status()).lastAppliedRevision === rev);
        // The agent's first apply of the bootstrapped revision (a no-op update), then the timed rounds.
        await applied(head);
        const functions = yaml.load(fs.readFileSync(path.join(repo.work, "functions", "stack.yml"), "utf8")) as { functions: Record<string, { image: string }> };
        const image = functions.functions[FUNCTION]!.image.replace(/:[^:]*$/, "");
        const figures: Record<string, number[]> = { total: [], deployment: [], notice: [], "fetch + dependencies": [], engine: [], status: [] };
        for (let i = 1; i <= rounds; i++) {
            const text = fs.readFileSync(path.join(repo.work, "functions", "stack.yml"), "utf8");
            head = repo.commit({ "functions/stack.yml": text.replace(new RegExp(`${image}:[^\\s#]+`), `${image}:0.2.${100 + i}`) }, `${FUNCTION} 0.2.${100 + i}`);
            const body = JSON.stringify({ ref: "refs/heads/main", after: head });
            const sig = `sha256=${crypto.createHmac("sha256", SECRET).update(body).digest("hex")}`;
            const t0 = Date.now();
            const res = await fetch(`${agent.base}/webhook`, { method: "POST", body, headers: { "X-GitHub-Event": "push", "X-Hub-Signature-256": sig } });
            if (res.status !== 202) throw new Error(`webhook answered ${res.status}`);
            const deployment = seen("the Deployment's new image", async () => {
                const d = await api.getPath<{ spec: { template: { spec: { containers: { image: string }[] } } } }>(`/apis/apps/v1/namespaces/openfaas-fn/deployments/${FUNCTION}`);
                return d.spec.template.spec.containers[0]!.image.endsWith(`:0.2.${100 + i}`);
            });
            const done = await applied(head);
            const notice = await logged(agent, /webhook push: syncing now/, t0);
            const started = await logged(agent, /engine run started/, notice);
            const appliedEvent = await logged(agent, new RegExp(`"reason":"Applied"`), started);
            figures.total!.push(done - t0);
            figures.deployment!.push((await deployment) - t0);
            figures.notice!.push(notice - t0);
            figures["fetch + dependencies"]!.push(started - notice);
            figures.engine!.push(appliedEvent - started);
            figures.status!.push(done - appliedEvent);
        }
        console.log(`push to live, ${STACK} stack, one function's image changed, median of ${rounds}:`);
        console.log(`  webhook -> status Applied        ${(median(figures.total!) / 1000).toFixed(2)} s`);
        console.log(`  webhook -> Deployment updated    ${(median(figures.deployment!) / 1000).toFixed(2)} s`);
        for (const k of ["notice", "fetch + dependencies", "engine", "status"]) console.log(`    ${k.padEnd(28)} ${(median(figures[k]!) / 1000).toFixed(2)} s`);
    } finally {
        await agent?.stop();
        await h.stop();
    }
}

void main().catch((e: Error) => {
    console.error(e.message);
    process.exit(1);
});
