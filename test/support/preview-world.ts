/**
 * In-cluster previews on the engine harness (test/support/engine.ts), as the agent runs them: its
 * HTTP server with the preview exchange, the PodPreviewer on the real apiserver, the kubelet double
 * that runs the preview pods (./preview-pod-double.ts), the GitHub double (./github-double.ts) and a
 * real git repository whose pull requests live at refs/pull/<n>/head. The tests
 * (test/preview-identity-engine.test.ts) and the benchmark (bench/previews.ts) share it.
 *
 * The agent's installed dependencies are a real node_modules directory whose entries lead to this
 * checkout's packages (the agent's holds the packages themselves): no `npm ci` in the pod.
 */
import * as fs from "node:fs";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import * as yaml from "js-yaml";
import { emptyStatus } from "../../agent/conditions";
import { DEPS_MARKER, lockfileHash } from "../../agent/deps";
import { GitSource } from "../../agent/git";
import { DEFAULT_LIMIT, gitHub } from "../../agent/github";
import { PreviewLoop, PreviewLoopDeps, PreviewLoopSettings } from "../../agent/preview-loop";
import { previewInputs } from "../../agent/preview-inputs";
import { PodPreviewer, PreviewExchange } from "../../agent/preview-pods";
import { labelChange } from "../../agent/webhook";
import { AgentMetrics, createServer } from "../../agent/server";
import { kubeApi } from "../../kube/api";
import type { EngineHarness, TestStack } from "./engine";
import { GitHubDouble } from "./github-double";
import { makeRepo, Repo } from "./gitrepo";
import { PreviewPodDouble, startPreviewPodDouble } from "./preview-pod-double";
import { tempDir } from "./tmp";
import { until } from "./wait";
import { AGENT_DEFAULTS, PREVIEW_IDENTITY } from "../../agent/contract";
import { writeKubeconfig } from "../../tools/pki";

/** The preview identity's namespace. */
export const PREVIEW_NS = AGENT_DEFAULTS.previewNamespace;
export const REPOSITORY = "acme/platform";
const TOKEN = "ghs_preview_agent_token_1234";
const WEBHOOK_SECRET = "preview-webhook-secret-1234";
const LIMITS = { maxBytes: 50 * 1024 ** 2, maxExtractedBytes: 100 * 1024 ** 2 };

export interface PreviewWorld {
    readonly previewer: PodPreviewer;
    readonly pods: PreviewPodDouble;
    /** The agent's installed dependencies and their lockfile hash. */
    readonly agentProject: string;
    readonly hash: string;
    /** The agent's HTTP server: preview pods and webhooks. */
    readonly agentUrl: string;
    readonly webhookSecret: string;
    readonly github: GitHubDouble;
    /** The repository: main is the project as `stack` was applied; pull requests go on top. */
    readonly repo: Repo;
    /** The stack config file's path in the repository. */
    readonly configRel: string;
    /** The stack config with the gateway scaled to `replicas`. */
    withReplicas(replicas: string): string;
    readonly loop: PreviewLoop;
    /** Another loop on the same world, with settings of its own (a policy config, say); closed with the world. */
    newLoop(settings: Partial<PreviewLoopSettings>): PreviewLoop;
    readonly logs: string[];
    stop(): Promise<void>;
}

/**
 * A kubeconfig of the preview identity (the stack made it: `previewIdentity: true`), once its
 * admission policy is in force: until then a write would not be denied.
 */
export async function previewIdentityKubeconfig(h: EngineHarness): Promise<string> {
    const kubeconfig = path.join(tempDir("ofg-preview-identity-"), "kubeconfig");
    writeKubeconfig(kubeconfig, h.cp.server, path.join(h.cp.dir, "pki", "ca.crt"), { token: h.cp.kubectl(["create", "token", PREVIEW_IDENTITY, "-n", PREVIEW_NS, "--duration=2h"]).trim() });
    await until("the preview policy to be enforced", () => {
        try {
            h.cp.kubectl(["--kubeconfig", kubeconfig, "create", "configmap", "canary", "-n", PREVIEW_NS]);
            h.cp.kubectl(["delete", "configmap", "canary", "-n", PREVIEW_NS]);
            return undefined;
        } catch (e) {
            return /denied request/.test((e as Error).message) ? true : undefined;
        }
    }, 30_000);
    return kubeconfig;
}

/** The project as a pull request's source: no node_modules, no git, nothing a run left. */
export function copyProject(from: string, to: string): void {
    fs.cpSync(from, to, { recursive: true, filter: (src) => !/(^|\/)(node_modules|\.git|seen-env\.json)$/.test(path.relative(from, src)) });
}

/**
 * Starts the world for `s` (applied, without `gatewayReplicas`) on harness `h`; `kubeconfig` is the
 * preview identity's, which the pod double's processes use in place of a mounted token.
 */
export async function startPreviewWorld(h: EngineHarness, s: TestStack, kubeconfig: string, log: (line: string) => void): Promise<PreviewWorld> {
    const agentProject = tempDir("ofg-preview-agent-project-");
    const installed = path.join(agentProject, "node_modules");
    fs.mkdirSync(installed);
    const root = path.resolve(__dirname, "..", "..");
    for (const e of fs.readdirSync(path.join(root, "node_modules"))) fs.symlinkSync(path.join(root, "node_modules", e), path.join(installed, e));
    const hash = lockfileHash(h.projectDir);
    fs.writeFileSync(path.join(agentProject, DEPS_MARKER), hash + "\n");

    const github = await GitHubDouble.forPreviews(REPOSITORY, TOKEN);

    const repo = makeRepo();
    copyProject(h.projectDir, repo.work);
    const configRel = path.relative(h.projectDir, s.configFile);
    const applied = yaml.load(fs.readFileSync(s.configFile, "utf8")) as { config: Record<string, unknown> };
    const { ["openfaas-gitops:gatewayReplicas"]: _scaled, ...appliedConfig } = applied.config;
    repo.commit({ [configRel]: yaml.dump({ ...applied, config: appliedConfig }) });
    const withReplicas = (n: string) => yaml.dump({ ...applied, config: { ...appliedConfig, "openfaas-gitops:gatewayReplicas": n } });

    const exchange = new PreviewExchange();
    const logs: string[] = [];
    let loop: PreviewLoop | undefined;
    const server = createServer({
        status: () => emptyStatus(0), metrics: new AgentMetrics(), branch: "main", sync: () => undefined, suspend: () => undefined,
        election: () => ({ identity: "a", leader: "a" }), leads: () => true, webhookSecret: () => ({ value: WEBHOOK_SECRET }), syncToken: () => undefined,
        notReady: () => undefined, log: () => undefined, previews: exchange, onPullRequest: (body) => loop?.poke(labelChange(body)),
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const agentUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const pods = startPreviewPodDouble(h.cp, PREVIEW_NS, { kubeconfig, env: { PATH: h.env.PATH! }, log });
    // No simulated node may take the pod (one would "complete" it at once): the double runs it.
    const previewer = new PodPreviewer(kubeApi(h.cp.kubeconfig), exchange, { namespace: PREVIEW_NS, image: "openfaas-gitops-agent:test", agentUrl, timeoutSeconds: 600, nodeSelector: { "openfaas-gitops.dev/test": "no-such-node" } }, () => undefined);
    const git = new GitSource({ repoUrl: `file://${repo.bare}`, branch: "main", verifySignatures: "off", workDir: tempDir("ofg-preview-agent-work-") });
    const settings: PreviewLoopSettings = { repository: REPOSITORY, branch: "main", writers: true, stack: s.name, projectPath: ".", parallel: 1, statusUrl: "https://agent.example/", workDir: tempDir("ofg-preview-loop-"), listLimit: DEFAULT_LIMIT };
    const deps: PreviewLoopDeps = {
        github: gitHub({ repository: REPOSITORY, token: () => TOKEN, baseUrl: github.url }),
        archive: (n, head, file) => git.pullRequestArchive(n, head, file, LIMITS),
        // The trusted side is the harness's project (its state backend); the installed dependencies are the world's.
        inputs: async (prConfig) => ({ ...(await previewInputs(s.name, prConfig, { cwd: h.projectDir, env: h.env }, LIMITS)), dependencies: { hash, dir: agentProject } }),
        preflight: () => previewer.preflight(),
        preview: (input, signal) => previewer.preview(input, signal),
        busy: () => false,
        leads: () => true,
        log: (msg, fields) => logs.push(`${msg} ${JSON.stringify(fields ?? {})}`),
        clock: Date.now,
    };
    loop = new PreviewLoop(settings, deps);
    const theLoop = loop;
    const others: PreviewLoop[] = [];
    return {
        previewer, pods, agentProject, hash, agentUrl, webhookSecret: WEBHOOK_SECRET, github, repo, configRel, withReplicas, loop: theLoop, logs,
        newLoop(over) {
            const other = new PreviewLoop({ ...settings, ...over }, deps);
            others.push(other);
            return other;
        },
        async stop() {
            await Promise.all([theLoop, ...others].map((l) => l.close()));
            await pods.stop();
            server.close();
            await github.close();
        },
    };
}
