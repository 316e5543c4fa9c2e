/**
 * A pull request's preview pod (issue 22): `node build/agent/preview-main.js`, in the agent's image,
 * under the preview identity (components/preview-identity.ts), with none of the agent's Secrets.
 * It asks the agent for its job and the pull request's source (agent/preview-pods.ts serves them
 * once each, to the bearer of the token its own Secret holds), installs the source's dependencies
 * (`npm ci --ignore-scripts`, as the agent does for the branch), previews against a private copy of
 * the state (agent/preview-run.ts) and posts the result back. The agent reads that result as
 * hostile and withholds every secret value from what it posts to GitHub: this process runs the pull
 * request's code, which can make it say anything.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { ByteCap } from "./byte-cap";
import { lockfileHash, prepareDependencies } from "./deps";
import { EngineRunError, engineEnvironment, linkPreinstalledPlugins, pulumiHome } from "./pulumi-engine";
import { extract } from "./flux-source";
import { PREVIEW_PATHS, PREVIEW_SECRET_DIR, PREVIEW_SECRET_KEYS, PREVIEW_URL_ENV, PreviewJob, PreviewPodResult } from "./preview-protocol";
import { runPreview } from "./preview-run";
import { assertContained } from "./worktree";

/** One request to the agent: it is on the cluster's network, so a minute is a stuck agent. */
const REQUEST_TIMEOUT_MS = 60_000;

function log(line: string): void {
    process.stdout.write(`${line}\n`);
}

async function request(url: string, token: string, init: RequestInit = {}): Promise<Response> {
    const res = await fetch(url, { ...init, headers: { ...init.headers, Authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS), redirect: "error" });
    if (!res.ok) throw new Error(`${init.method ?? "GET"} ${new URL(url).pathname}: HTTP ${res.status} ${(await res.text()).slice(0, 200).trim()}`);
    return res;
}

/** Downloads `url` to `file`, refusing more than `maxBytes`. */
async function download(url: string, token: string, file: string, maxBytes: number): Promise<void> {
    const res = await request(url, token);
    const counter = new ByteCap(maxBytes, () => new Error(`the source is over ${maxBytes} bytes`));
    await pipeline(Readable.fromWeb(res.body as import("node:stream/web").ReadableStream), counter, fs.createWriteStream(file, { mode: 0o600 }));
}

/** The agent's node_modules can be large: this only bounds one that never ends. */
const MAX_DEPENDENCY_BYTES = 8 * 1024 ** 3;

/**
 * Unpacks the agent's node_modules tar (agent/preview-pods.ts) into `projectDir`; true when it did.
 * The agent streams the node_modules of its checkout, which an apply may replace meanwhile (its
 * npm ci for a new lockfile, or a new flux artifact): a transfer that fails for any reason leaves no
 * node_modules here, and the preview installs its own (npm ci) as for another lockfile, rather than
 * failing. A node_modules that arrives whole but for another lockfile is caught by its marker
 * (prepareDependencies installs again).
 */
export async function takeDependencies(url: string, token: string, projectDir: string, say: (line: string) => void = log): Promise<boolean> {
    let tar: ReturnType<typeof spawn> | undefined;
    let exited: Promise<number | null> = Promise.resolve(null);
    let stderr = "";
    try {
        const res = await request(url, token);
        tar = spawn("tar", ["-x", "-f", "-", "-C", projectDir, "--no-same-owner"], { stdio: ["pipe", "ignore", "pipe"] });
        tar.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d).slice(-2000)));
        const child = tar;
        exited = new Promise<number | null>((r) => {
            child.on("close", r);
            child.on("error", (e) => ((stderr += e.message), r(null)));
        });
        const counter = new ByteCap(MAX_DEPENDENCY_BYTES, () => new Error(`the dependencies are over ${MAX_DEPENDENCY_BYTES} bytes`));
        await pipeline(Readable.fromWeb(res.body as import("node:stream/web").ReadableStream), counter, tar.stdin!);
        const code = await exited;
        if (code !== 0) throw new Error(stderr.trim() || `tar exited ${code}`);
        return true;
    } catch (e) {
        tar?.kill("SIGKILL");
        await exited;
        fs.rmSync(path.join(projectDir, "node_modules"), { recursive: true, force: true });
        say(`dependencies: the agent's could not be taken (${(e as Error).message.trim().replace(/\s*\n\s*/g, "; ")}); npm ci instead`);
        return false;
    }
}

/** The preview: job, source, dependencies, engine. Its failures are results too. */
async function preview(base: string, token: string, passphrase: string, work: string): Promise<PreviewPodResult> {
    const job = (await (await request(`${base}/${PREVIEW_PATHS.job}`, token)).json()) as PreviewJob;
    log(`previewing ${job.revision} for stack ${job.stack}`);
    const archive = path.join(work, "source.tar.gz");
    await download(`${base}/${PREVIEW_PATHS.source}`, token, archive, job.sourceMaxBytes);
    const unpacked = path.join(work, "unpacked");
    fs.mkdirSync(unpacked);
    await extract(archive, unpacked, job.sourceMaxExtractedBytes, job.revision);
    fs.rmSync(archive);
    // One directory at the top: git archive's prefix, or GitHub's <owner>-<repo>-<sha>.
    const top = fs.readdirSync(unpacked);
    if (top.length !== 1) throw new Error(`the source archive of ${job.revision} holds ${top.length} entries at its top, not one directory`);
    const root = path.join(unpacked, top[0]!);
    assertContained(root, `revision ${job.revision}`);
    const projectDir = path.resolve(root, job.projectPath);
    // The branch's lockfile: the agent's installed packages; another: npm ci, as the agent would.
    if (job.dependencies && fs.existsSync(path.join(projectDir, "package-lock.json")) && lockfileHash(projectDir) === job.dependencies) {
        if (await takeDependencies(`${base}/${PREVIEW_PATHS.dependencies}`, token, projectDir)) log("dependencies: the agent's, for the same lockfile");
    }
    await prepareDependencies(projectDir, log);
    const env = engineEnvironment(process.env);
    if (process.env.AGENT_PULUMI_PLUGINS) log(linkPreinstalledPlugins(process.env.AGENT_PULUMI_PLUGINS, pulumiHome(env)));
    // The pack and its config as the pull-request workflow runs them: the stack's config, if the revision has one.
    const packConfig = path.join(projectDir, "policies", "config", `${job.policyConfig ?? job.stack}.json`);
    try {
        const r = await runPreview({
            projectDir,
            stack: job.stack,
            state: job.state,
            passphrase,
            env,
            policyPacks: [path.join(projectDir, "policies", "analyzer.sh")],
            policyPackConfigs: fs.existsSync(packConfig) ? [packConfig] : undefined,
            log,
        });
        return { ok: true, changes: r.changes, changed: r.changed, violations: r.violations ?? [] };
    } catch (e) {
        return { ok: false, message: (e as Error).message, violations: e instanceof EngineRunError ? e.violations : [] };
    }
}

async function main(): Promise<void> {
    const base = process.env[PREVIEW_URL_ENV];
    if (!base) throw new Error(`${PREVIEW_URL_ENV} is not set: this program runs in a preview pod the agent starts`);
    const secretDir = process.env.PREVIEW_SECRET_DIR ?? PREVIEW_SECRET_DIR;
    const token = fs.readFileSync(path.join(secretDir, PREVIEW_SECRET_KEYS.token), "utf8").trim();
    const passphrase = fs.readFileSync(path.join(secretDir, PREVIEW_SECRET_KEYS.passphrase), "utf8");
    const work = fs.mkdtempSync(path.join(process.env.TMPDIR ?? "/tmp", "preview-"));
    const result = await preview(base, token, passphrase, work).catch((e: Error): PreviewPodResult => ({ ok: false, message: e.message, violations: [] }));
    log(result.ok ? `preview done: ${JSON.stringify(result.changes)}` : "preview failed");
    await request(`${base}/${PREVIEW_PATHS.result}`, token, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(result) });
}

if (require.main === module) {
    main().then(
        () => process.exit(0),
        (e: Error) => {
            process.stderr.write(`preview pod failed: ${e.message}\n`);
            process.exit(1);
        },
    );
}
