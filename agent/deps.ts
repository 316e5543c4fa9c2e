/**
 * Installs the program's dependencies in a checkout, only when its lockfile changed (cache keyed by
 * hash). A revision is code from whoever can push to the branch: npm runs none of its scripts, and
 * sees none of the agent's credentials.
 */
import { execFile } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { proxyEnvironment } from "../model/engine-env";
import { redactUrls } from "../model/git";

/**
 * npm's own limit, for an install without a run deadline (AGENT_RUN_TIMEOUT unset): a cold install
 * of the program's packages from a slow mirror takes minutes, so this only stops one that hangs.
 */
const NPM_CI_TIMEOUT_MS = 30 * 60_000;

const run = promisify(execFile);

/** Pure-ish: the cache key of a project's dependencies. */
export function lockfileHash(projectDir: string): string {
    const lock = path.join(projectDir, "package-lock.json");
    if (!fs.existsSync(lock)) throw new Error(`${lock} is missing: the agent installs exactly what the lockfile pins (npm ci)`);
    return crypto.createHash("sha256").update(fs.readFileSync(lock)).digest("hex");
}

/**
 * Pure: the whole environment of `npm ci`, from the agent's: PATH, HOME and npm's cache under it (the
 * Deployment's HOME is the work directory), the proxy and NODE_EXTRA_CA_CERTS if set, and nothing
 * else: no engine credential, no KUBECONFIG, no AGENT_* setting or token file path, no NODE_ENV (a
 * `.npmrc` in the revision could expand any variable npm sees into a request to a registry of its
 * choosing, and the engine run needs the dev dependencies: tsx loads the program).
 */
export function installEnvironment(agentEnv: Readonly<Record<string, string | undefined>>): Record<string, string> {
    const home = agentEnv.HOME || os.homedir();
    const env: Record<string, string> = { ...proxyEnvironment(agentEnv), PATH: agentEnv.PATH ?? "/usr/local/bin:/usr/bin:/bin", HOME: home, npm_config_cache: path.join(home, ".npm") };
    if (agentEnv.NODE_EXTRA_CA_CERTS) env.NODE_EXTRA_CA_CERTS = agentEnv.NODE_EXTRA_CA_CERTS;
    return env;
}

/**
 * Pure: what a failed npm run said, on one line: its first lines (the error code and the request or
 * package that failed, e.g. `404 Not Found - GET <url>`) and its last (where the whole log is). The
 * advice npm prints in between is dropped.
 */
export function npmFailure(stderr: string): string {
    const lines = stderr.trim().split("\n");
    return (lines.length <= 5 ? lines : [...lines.slice(0, 4), lines[lines.length - 1]!]).join(" ");
}

/** Where an install keeps the hash of the lockfile it installed (inside node_modules: a removed node_modules never looks installed). */
export const DEPS_MARKER = path.join("node_modules", ".openfaas-gitops-deps.sha256");

/**
 * Runs `npm ci --ignore-scripts` in `projectDir` unless node_modules was installed from the same
 * lockfile. The hash is kept inside node_modules, so a removed node_modules can never look
 * installed. Returns whether it installed.
 */
export async function prepareDependencies(projectDir: string, log: (line: string) => void, agentEnv: Readonly<Record<string, string | undefined>> = process.env, signal?: AbortSignal): Promise<boolean> {
    const hash = lockfileHash(projectDir);
    const marker = path.join(projectDir, DEPS_MARKER);
    const current = fs.existsSync(marker) ? fs.readFileSync(marker, "utf8").trim() : "";
    if (current === hash) return false;
    log(`lockfile changed (${hash.slice(0, 12)}): npm ci`);
    try {
        // No install script is needed: the providers are the image's (@pulumi/kubernetes's would
        // download one), protobufjs's only warns, esbuild works without its own. The run's signal
        // kills npm at AGENT_RUN_TIMEOUT, a leadership loss or shutdown, as it stops the engine.
        await run("npm", ["ci", "--ignore-scripts", "--no-audit", "--no-fund", "--no-update-notifier"], { cwd: projectDir, env: installEnvironment(agentEnv), maxBuffer: 64 * 1024 * 1024, timeout: NPM_CI_TIMEOUT_MS, signal });
    } catch (e) {
        const err = e as { stderr?: string; message: string };
        throw new Error(redactUrls(`npm ci failed in ${projectDir}: ${npmFailure(err.stderr || err.message)}`));
    }
    fs.mkdirSync(path.dirname(marker), { recursive: true });
    fs.writeFileSync(marker, hash + "\n");
    return true;
}
