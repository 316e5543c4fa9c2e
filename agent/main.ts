/**
 * `npm run agent`: the reconcile agent. Settings come from the environment (what the Deployment
 * sets) or flags (agent/settings.ts); logs are JSON lines on stdout.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import pino from "pino";
import { prepareDependencies } from "./deps";
import { GitSource, SourceError } from "./git";
import { kubeConfig, LeaseElector, StatusStore } from "./kube";
import { engineEnvironment, PulumiEngine } from "./pulumi-engine";
import { PermanentError, Reconciler, Trigger } from "./reconciler";
import { AgentMetrics, createServer } from "./server";
import { parseSettings, SettingsError } from "./settings";

function readSecretFile(file?: string): string | undefined {
    return file ? fs.readFileSync(file, "utf8").trim() : undefined;
}

async function main(): Promise<void> {
    let settings;
    try {
        settings = parseSettings(process.env, process.argv.slice(2));
    } catch (e) {
        process.stderr.write(`${(e as Error).message}\n`);
        process.exit(e instanceof SettingsError ? 2 : 1);
    }
    const log = pino({ level: settings.logLevel, base: { component: "openfaas-gitops-agent", stack: settings.stack } });
    log.info({ repo: settings.repoUrl, branch: settings.branch, path: settings.projectPath }, "starting");

    const kc = kubeConfig(process.env.KUBECONFIG);
    const store = new StatusStore(kc, settings.namespace, settings.statusConfigMap);
    const metrics = new AgentMetrics();
    const elector = new LeaseElector(kc, { namespace: settings.namespace, name: settings.leaseName, identity: settings.identity }, (leader) =>
        log.info({ identity: settings.identity }, leader ? "became leader" : "not the leader"),
    );
    const git = new GitSource(settings);
    const source = {
        head: () => git.head(),
        checkout: (rev: string) => git.checkout(rev),
        verify: (rev: string) =>
            git.verify(rev).catch((e: SourceError) => {
                throw new PermanentError(e.message); // retrying cannot make a signature valid
            }),
    };
    const engine = new PulumiEngine({
        stack: settings.stack,
        projectPath: settings.projectPath,
        backendUrl: settings.backendUrl,
        secretsProvider: settings.secretsProvider,
        env: engineEnvironment(process.env, settings.backendUrl),
    });
    const engineLog = (line: string) => log.info({ engine: true }, line);
    let checkedOnce = false;
    const reconciler = new Reconciler(
        {
            source,
            engine,
            clock: Date.now,
            isLeader: () => elector.isLeader(),
            prepare: (dir, l) => prepareDependencies(path.join(dir, settings.projectPath), l).then(() => undefined),
            log: engineLog,
            settings,
            onChange: async (status, event, run) => {
                metrics.observe(status, run);
                if (event) log[event.type === "Warning" ? "warn" : "info"]({ reason: event.reason }, event.message);
                try {
                    await store.save(status);
                    if (event) await store.event(event);
                } catch (e) {
                    log.warn({ error: (e as Error).message }, "could not write the status ConfigMap or Event");
                }
            },
        },
        await store.load().catch((e: Error) => {
            log.warn({ error: e.message }, "could not read the previous status; starting fresh");
            return undefined;
        }),
    );

    const sync = (trigger: Trigger) => {
        void reconciler.sync(trigger).then((d) => {
            checkedOnce = true;
            log.debug({ trigger, decision: d }, "sync");
        });
    };
    const server = createServer({
        status: () => reconciler.status,
        metrics,
        sync,
        branch: settings.branch,
        webhookSecret: readSecretFile(settings.webhookSecretFile),
        syncToken: readSecretFile(settings.syncTokenFile),
        ready: () => checkedOnce,
        log: (msg, fields) => log.info(fields ?? {}, msg),
    });
    server.listen(settings.listenPort, settings.listenHost, () => log.info({ listen: `${settings.listenHost}:${settings.listenPort}` }, "serving webhook, /sync, /metrics and the status page"));

    elector.start();
    const poll = setInterval(() => sync("poll"), settings.pollIntervalMs);
    const drift = settings.driftIntervalMs > 0 ? setInterval(() => void reconciler.checkDrift(), settings.driftIntervalMs) : undefined;
    setTimeout(() => sync("poll"), 2000).unref(); // first check once the first election round is done

    let stopping = false;
    const shutdown = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        log.info({ signal, graceMs: settings.shutdownGraceMs }, "stopping: no new work; a running update may finish");
        clearInterval(poll);
        if (drift) clearInterval(drift);
        const how = await reconciler.stop(settings.shutdownGraceMs);
        log.info({ running: how }, "stopped");
        await elector.stop();
        server.close();
        process.exit(0);
    };
    process.on("SIGTERM", () => void shutdown("SIGTERM"));
    process.on("SIGINT", () => void shutdown("SIGINT"));
}

void main();
