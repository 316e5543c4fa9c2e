/**
 * `npm run agent`: the reconcile agent. Settings come from the environment (what the Deployment
 * sets) or flags (agent/settings.ts); logs are JSON lines on stdout.
 */
import * as path from "node:path";
import pino from "pino";
import { redactUrl, redactUrls } from "../model/git";
import { prepareDependencies } from "./deps";
import { clusterReader, DriftGate } from "./drift-gate";
import { GitSource, SourceError } from "./git";
import { kubeApi } from "../kube/api";
import { LeaseElector } from "./leader-election";
import { StatusStore } from "./status-store";
import { engineEnvironment, linkPreinstalledPlugins, PulumiEngine, pulumiHome } from "./pulumi-engine";
import { sendFluxEvents } from "./flux-events";
import { FluxSource } from "./flux-source";
import { guardProcess } from "./process-guard";
import { PermanentError } from "./errors";
import { jittered, Reconciler, Source } from "./reconciler";
import { Reason, Trigger } from "./status";
import { secretFile } from "./secret-file";
import { AgentMetrics, createServer } from "./server";
import { AGENT_DEFAULTS, FIELDS, helpText } from "./contract";
import { AgentSettings, parseSettings, SettingsError } from "./settings";
import { gitHub } from "./github";
import { labelChange } from "./webhook";
import { PREVIEW_LIST_LIMIT, PreviewLoop } from "./preview-loop";
import { previewInputs } from "./preview-inputs";
import { PodPreviewer, PreviewExchange } from "./preview-pods";
import { proxyEnvironment } from "../model/engine-env";
import type { KubeApi } from "../kube/api";

async function main(): Promise<void> {
    if (process.argv.slice(2).some((a) => a === "--help" || a === "-h")) {
        process.stdout.write(helpText());
        return;
    }
    let settings;
    try {
        settings = parseSettings(process.env, process.argv.slice(2));
    } catch (e) {
        process.stderr.write(`${(e as Error).message}\n`);
        process.exit(e instanceof SettingsError ? 2 : 1);
    }
    const log = pino({ level: settings.logLevel, base: { component: AGENT_DEFAULTS.name, stack: settings.stack } });
    guardProcess(log);
    log.info(settings.flux ? { source: "flux", gitRepository: `${settings.flux.namespace}/${settings.flux.name}`, path: settings.projectPath } : { source: "git", repo: redactUrl(settings.repoUrl), branch: settings.branch, path: settings.projectPath }, "starting");

    const kc = kubeApi(process.env.KUBECONFIG);
    const store = new StatusStore(kc, settings.namespace, settings.statusConfigMap);
    // Validated whoever wrote it (an older agent, a person): what does not fit is dropped and named.
    const loadStatus = async () => {
        const loaded = await store.load();
        if (loaded?.dropped.length) log.warn({ dropped: loaded.dropped }, `the status ConfigMap ${settings.statusConfigMap} held fields of an unexpected shape; they were dropped, the rest kept`);
        return loaded?.status;
    };
    const metrics = new AgentMetrics();
    // Whether this leader has read the status the previous one left (or failed to and keeps its own).
    // Until then it writes nothing: a change recorded in the same election round that made it leader
    // ("works again") would put the facts it read at its start over the previous leader's newer ones,
    // and the adoption would then read them back (seen on the real node in a rollout).
    let adopted = false;
    const elector = new LeaseElector(kc, { namespace: settings.namespace, name: settings.leaseName, identity: settings.identity }, {
        leader: (leads) => {
            log.info({ identity: settings.identity }, leads ? "became leader" : "not the leader");
            adopted = false;
            if (!leads) {
                reconciler.leadershipLost();
                previews?.loop.stop();
            }
            else
                void reconciler
                    .adoptLeaderStatus(async () => {
                        const stored = await loadStatus();
                        adopted = true;
                        return stored;
                    })
                    .catch((e: Error) => {
                        adopted = true;
                        log.warn({ error: e.message }, "could not read the previous leader's status; keeping this replica's");
                    })
                    // A new leader checks at once: a failover, or a first election slower than the
                    // first poll (whose check found a follower), would otherwise wait a poll interval.
                    .then(() => {
                        sync("elected");
                        void previews?.loop.tick();
                    });
        },
        error: (error) => {
            if (error) log.error({ identity: settings.identity }, error);
            else log.info({ identity: settings.identity }, "leader election works again");
            void reconciler.leaderElection(error);
        },
    });
    // Flux mode: source-controller fetches; a change of its artifact triggers a sync at once.
    const flux = settings.flux
        ? new FluxSource(kc, {
              ...settings.flux,
              workDir: settings.workDir,
              projectPath: settings.projectPath,
              limits: settings.artifact,
              onRevision: (revision) => sync("watch", revision),
              log: (line) => log.warn(line),
          })
        : undefined;
    const origin: Source = flux ?? gitSource(settings);
    // Ready once the first check of the source has finished (whatever it found), not the first
    // apply: an apply can take minutes, and a new pod that is not Ready holds up the rollout that
    // replaces the old one (an agent upgrade through git would wait on itself).
    let checkedOnce = false;
    const source: Source = {
        head: (hint) => origin.head(hint).finally(() => (checkedOnce = true)),
        checkout: (revision) => origin.checkout(revision),
        verify: (revision) => origin.verify(revision),
        // Flux's artifact digest keys a DigestMismatch stall; a wrapper without it would key it on the revision.
        ...(origin.artifact ? { artifact: () => origin.artifact!() } : {}),
    };
    const engineEnv = engineEnvironment(process.env, settings.backendUrl);
    if (settings.pulumiPlugins) {
        try {
            log.info(linkPreinstalledPlugins(settings.pulumiPlugins, pulumiHome(engineEnv)));
        } catch (e) {
            // Without the link every run would download its plugins, and fail where that is impossible.
            log.error({ error: (e as Error).message }, `cannot link ${settings.pulumiPlugins} as the engine's plugin directory`);
            process.exit(1);
        }
    }
    const engine = new DriftGate(
        new PulumiEngine({
            stack: settings.stack,
            projectPath: settings.projectPath,
            backendUrl: settings.backendUrl,
            secretsProvider: settings.secretsProvider,
            env: engineEnv,
        }),
        clusterReader(kc),
        Date.now,
    );
    // The CLI prints what the program and its providers say; a URL credential in it is redacted.
    const engineLog = (line: string) => log.info({ engine: true }, redactUrls(line));
    let fluxEventsSent: Promise<void> = Promise.resolve();
    let storedStatusRead = true;
    const reconciler = new Reconciler(
        {
            source,
            engine,
            clock: Date.now,
            isLeader: () => elector.isLeader(),
            prepare: (dir, l, signal) => prepareDependencies(path.join(dir, settings.projectPath), l, process.env, signal).then(() => undefined),
            log: engineLog,
            settings,
            onChange: async (status, event, run) => {
                metrics.observe(status, run);
                if (event) log[event.type === "Warning" ? "warn" : "info"]({ reason: event.reason }, event.message);
                // The leader's status is the one that counts. A replica that does not lead writes only
                // to report why nobody can (an election round failed and no holder is known), and
                // only when it read the stored status at start: before its first round, or with a
                // status it could not read, it would overwrite a live leader's facts with its own.
                const reportsFailedElection = elector.error !== undefined && elector.leader === undefined && storedStatusRead;
                if (!elector.isLeader() && !reportsFailedElection) return;
                try {
                    // "No holder known" may only mean this replica's request failed while a leader lives:
                    // it adds its election error to the stored status, never its own facts.
                    if (elector.isLeader()) {
                        if (adopted) await store.save(status);
                    } else await store.reportElectionError(status.leaderElectionError, status);
                    if (event) await store.event(event);
                } catch (e) {
                    log.warn({ error: (e as Error).message }, "could not write the status ConfigMap or Event");
                }
                const events = settings.flux?.eventsUrl;
                if (event && events) {
                    // In order, but never awaited here: a notification-controller that does not answer
                    // (15 s a request) must not hold up the next sync.
                    const o = { ...settings.flux!, revision: run?.revision, instance: settings.identity, at: new Date() };
                    fluxEventsSent = fluxEventsSent.then(() => sendFluxEvents(events, event, o, (e, fe) =>
                        log.warn({ error: e.message, reason: fe.reason }, "could not send the Flux event to notification-controller")));
                }
            },
        },
        await loadStatus().catch((e: Error) => {
            storedStatusRead = false;
            log.warn({ error: e.message }, "could not read the previous status; starting fresh (written only once this replica leads and has read it)");
            return undefined;
        }),
    );

    // agent.suspend is desired state at every start; a suspension by POST /suspend outlives restarts.
    await reconciler.applySuspendSetting();

    const sync = (trigger: Trigger, revision?: string) => {
        reconciler.sync(trigger, revision).then(
            (d) => {
                // A follower, a suspended or a stalled agent checks nothing: its check is done too.
                checkedOnce = true;
                log.debug({ trigger, decision: d }, "sync");
            },
            (e: unknown) => log.error({ trigger, error: e instanceof Error ? e.message : String(e) }, "sync failed"),
        );
    };
    const credentialLog = (level: "info" | "error", msg: string) => log[level](msg);
    const webhookSecret = settings.webhookSecretFile ? secretFile(settings.webhookSecretFile, FIELDS.webhookSecretFile.env, credentialLog) : undefined;
    const syncToken = settings.syncTokenFile ? secretFile(settings.syncTokenFile, FIELDS.syncTokenFile.env, credentialLog) : undefined;
    // Read once now, so that a file that cannot be read is in the log from the start.
    webhookSecret?.();
    syncToken?.();
    const previews = settings.previews ? startPreviews(settings, kc, engineEnv, reconciler, () => elector.isLeader(), credentialLog, (msg, fields) => log.info(fields ?? {}, msg)) : undefined;
    const server = createServer({
        previews: previews?.exchange,
        onPullRequest: previews && ((body: Buffer) => elector.isLeader() && previews.loop.poke(labelChange(body))),
        status: () => reconciler.status,
        metrics,
        sync,
        suspend: (on) => void reconciler.suspend(on),
        election: () => ({ identity: settings.identity, leader: elector.leader }),
        leads: () => elector.isLeader(),
        branch: settings.branch,
        webhookSecret: () => webhookSecret?.(),
        syncToken: () => syncToken?.(),
        notReady: () => elector.error ?? (checkedOnce ? undefined : "the first check of the source has not finished"),
        log: (msg, fields) => log.info(fields ?? {}, msg),
    });
    server.listen(settings.listenPort, settings.listenHost, () => log.info({ listen: `${settings.listenHost}:${settings.listenPort}` }, "serving webhook, /sync, /metrics and the status page"));

    elector.start();
    flux?.start();
    // Jittered, so replicas and agents of several stacks do not poll one git server in step. In flux
    // mode the check reads the watched GitRepository (no request): it retries after a backoff and
    // catches anything the watch missed.
    let poll: NodeJS.Timeout;
    const schedulePoll = (ms: number) => {
        poll = setTimeout(() => {
            sync("poll");
            // Only the leader previews: the loop asks (PreviewLoopDeps.leads).
            void previews?.loop.tick();
            schedulePoll(jittered(settings.pollIntervalMs));
        }, ms);
    };
    schedulePoll(2000); // first check once the first election round is done
    const drift = settings.driftIntervalMs > 0 ? setInterval(() => void reconciler.checkDrift(), jittered(settings.driftIntervalMs)) : undefined;

    let stopping = false;
    const shutdown = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        log.info({ signal, graceMs: settings.shutdownGraceMs }, "stopping: no new work; a running update may finish");
        clearTimeout(poll);
        flux?.stop();
        if (drift) clearInterval(drift);
        const how = await reconciler.stop(settings.shutdownGraceMs);
        await previews?.loop.close();
        log.info({ running: how }, "stopped");
        await elector.stop();
        server.close();
        process.exit(0);
    };
    process.on("SIGTERM", () => void shutdown("SIGTERM"));
    process.on("SIGINT", () => void shutdown("SIGINT"));
}

/** The built-in git source; retrying cannot make a signature valid or a host key pinned: those stall at once. */
/**
 * Pull-request previews (issue 22): the exchange the preview pods talk to, and the loop the leader
 * ticks. Pull request heads come from git (`refs/pull/<n>/head`, with the deploy key) in git mode,
 * and from GitHub's tarball of the head in flux mode: source-controller follows one ref per
 * GitRepository, and a GitRepository per pull request would have it fetch and serve untrusted heads
 * to the whole cluster.
 */
function startPreviews(
    settings: AgentSettings,
    kc: KubeApi,
    engineEnv: Readonly<Record<string, string>>,
    reconciler: Pick<Reconciler, "busy" | "withCheckout">,
    leads: () => boolean,
    credentialLog: (level: "info" | "error", msg: string) => void,
    log: (msg: string, fields?: Record<string, unknown>) => void,
): { exchange: PreviewExchange; loop: PreviewLoop } {
    const p = settings.previews!;
    const token = secretFile(p.githubTokenFile, FIELDS.githubTokenFile.env, credentialLog);
    const github = gitHub({
        repository: p.repository,
        baseUrl: p.githubApiUrl,
        token: () => {
            const t = token();
            if ("error" in t) throw new Error(t.error);
            return t.value;
        },
        log: (line) => log(line),
        limit: PREVIEW_LIST_LIMIT,
    });
    const exchange = new PreviewExchange();
    const previewer = new PodPreviewer(kc, exchange, { namespace: p.namespace, image: p.image, agentUrl: p.agentUrl, timeoutSeconds: p.timeoutMs / 1000, env: proxyEnvironment(process.env), nodeSelector: p.nodeSelector, tolerations: p.tolerations }, (line) => log(line));
    const git = settings.flux ? undefined : new GitSource(settings);
    const loop = new PreviewLoop(
        {
            repository: p.repository,
            branch: settings.branch,
            writers: p.writers,
            label: p.label,
            stack: settings.stack,
            policyConfig: p.policyConfig,
            projectPath: settings.projectPath,
            parallel: p.parallel,
            statusUrl: p.statusUrl,
            workDir: settings.workDir,
            listLimit: PREVIEW_LIST_LIMIT,
        },
        {
            github,
            archive: (number, sha, file) => (git ? git.pullRequestArchive(number, sha, file, settings.artifact) : github.archive(sha, file, settings.artifact.maxBytes)),
            // The tracked branch's checkout: the state is exported, and secrets read, by the agent's CLI there.
            inputs: (prConfig) => reconciler.withCheckout((dir) => previewInputs(settings.stack, prConfig, { cwd: path.join(dir, settings.projectPath), env: engineEnv }, settings.artifact)),
            preflight: () => previewer.preflight(),
            preview: (input, signal) => previewer.preview(input, signal),
            busy: () => reconciler.busy,
            leads,
            log,
            clock: Date.now,
        },
    );
    return { exchange, loop };
}

function gitSource(settings: AgentSettings): Source {
    const git = new GitSource(settings);
    const permanent = (e: unknown) => {
        if (e instanceof SourceError && e.kind === "host-key") throw new PermanentError(e.message, Reason.HostKeyMismatch);
        throw e;
    };
    return {
        head: (hint?: string) => git.head(hint).catch(permanent),
        checkout: (rev: string) => git.checkout(rev).catch(permanent),
        verify: (rev: string) =>
            git.verify(rev).catch((e: SourceError) => {
                throw new PermanentError(e.message, Reason.VerificationFailed);
            }),
    };
}

// main() resolves once the agent is serving; a failure before that is a failed start.
main().catch((e: Error) => {
    process.stderr.write(`the agent could not start: ${e.stack ?? e.message}\n`);
    process.exit(1);
});
