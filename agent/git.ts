/**
 * The git source, on the git CLI: cheap head checks with ls-remote, fetch and checkout of one
 * revision, optional signature verification. SSH uses the deploy key and a pinned known_hosts only
 * (StrictHostKeyChecking yes: an unknown or changed host key is an error, never accepted); HTTPS
 * sends a token read from a file through git's environment, never on a command line. Every message
 * is redacted: no URL credential reaches the log, the status or an Event.
 */
import { execFile, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { pipeline } from "node:stream/promises";
import { promisify } from "node:util";
import { redactUrls } from "../model/git";
import { proxyEnvironment } from "../model/engine-env";
import { ByteCap } from "./byte-cap";
import { FIELDS, settingNames } from "./contract";
import { TooLargeError } from "./errors";
import { AgentSettings } from "./settings";
import { assertContained, regularFileBytes, removeTree } from "./worktree";

const run = promisify(execFile);

/** A failure of the source, with a message that says what to do, and no URL credential in it. */
export class SourceError extends Error {
    constructor(message: string, public readonly kind: "host-key" | "auth" | "unreachable" | "not-found" | "signature" | "git") {
        super(redactUrls(message));
        this.name = "SourceError";
    }
}

export type GitSourceSettings = Pick<
    AgentSettings,
    "repoUrl" | "branch" | "sshKeyFile" | "knownHostsFile" | "httpsTokenFile" | "httpsCaFile" | "verifySignatures" | "allowedSignersFile" | "gpgHome" | "workDir"
>;

/**
 * git has no deadline of its own and ssh waits on a server that stops answering: 5 minutes is a
 * fetch of a large repository over a slow link, and ends one that hangs.
 */
const GIT_TIMEOUT_MS = 5 * 60_000;

/** Single-quotes a path for the ssh command line git runs through a shell. */
function shq(s: string): string {
    return `'${s.replace(/'/g, "'\\''")}'`;
}

/**
 * Names what a failed git command means, from everything git (and ssh) printed. Every line is kept:
 * the cause ("Connection refused") is usually not the last one ("Could not read from remote").
 * HTTP statuses are matched only as git prints them, never as bare digits: a port such as 40347
 * in the URL is not a 403.
 */
export function classifyGitFailure(output: string, s: Pick<GitSourceSettings, "repoUrl" | "knownHostsFile">): SourceError {
    const text = output.trim();
    const said = text.split("\n").map((l) => l.trim()).filter(Boolean).join("; ");
    // `No \S+ host key`, not `No .* host key`: the text holds what the server printed, and `.*` made a
    // line of many "No " quadratic.
    if (/Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED|No \S+ host key is known/i.test(text)) {
        return new SourceError(
            `the SSH host key of ${s.repoUrl} is not the one pinned in ${s.knownHostsFile} (unknown or changed); refusing to connect. ` +
                "If the server really changed its key, put its published key in the known_hosts setting; never disable the check.",
            "host-key",
        );
    }
    if (/Permission denied|Authentication failed|could not read Username|returned error: 40[13]\b/i.test(text)) {
        return new SourceError(`access to ${s.repoUrl} was refused: check the deploy key (or token) is registered for the repository. git said: ${said}`, "auth");
    }
    if (/Could not resolve|Connection refused|timed out|unable to access|Could not read from remote/i.test(text)) {
        return new SourceError(`cannot reach ${s.repoUrl}: ${said}`, "unreachable");
    }
    return new SourceError(`git failed: ${said}`, "git");
}

export class GitSource {
    /** The working tree the engine runs in. */
    readonly checkoutDir: string;

    constructor(private readonly settings: GitSourceSettings) {
        this.checkoutDir = path.join(settings.workDir, "checkout");
    }

    /** git's environment: pinned SSH, token header, no prompts, no user or system config; the proxy, if the pod has one. */
    private env(): NodeJS.ProcessEnv {
        const env: NodeJS.ProcessEnv = {
            ...proxyEnvironment(process.env),
            PATH: process.env.PATH,
            HOME: this.settings.workDir,
            GIT_TERMINAL_PROMPT: "0",
            GIT_CONFIG_NOSYSTEM: "1",
            GIT_CONFIG_GLOBAL: "/dev/null",
        };
        if (this.settings.sshKeyFile && this.settings.knownHostsFile) {
            env.GIT_SSH_COMMAND = [
                "ssh", "-F", "/dev/null", "-i", shq(this.settings.sshKeyFile), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
                "-o", "StrictHostKeyChecking=yes", "-o", `UserKnownHostsFile=${shq(this.settings.knownHostsFile)}`, "-o", "GlobalKnownHostsFile=/dev/null",
            ].join(" ");
        }
        if (this.settings.httpsTokenFile && this.settings.repoUrl.startsWith("https://")) {
            const token = fs.readFileSync(this.settings.httpsTokenFile, "utf8").trim();
            const basic = Buffer.from(`x-access-token:${token}`).toString("base64");
            Object.assign(env, { GIT_CONFIG_COUNT: "1", GIT_CONFIG_KEY_0: "http.extraHeader", GIT_CONFIG_VALUE_0: `Authorization: Basic ${basic}` });
        }
        if (this.settings.httpsCaFile) env.GIT_SSL_CAINFO = this.settings.httpsCaFile;
        if (this.settings.gpgHome) env.GNUPGHOME = this.settings.gpgHome;
        return env;
    }

    /** Runs git; a failure is classified, except the exit codes in `outcomes`, which are returned as they are. */
    private async git(args: string[], cwd?: string, outcomes: readonly number[] = []): Promise<{ readonly code: number; readonly stdout: string }> {
        try {
            const { stdout } = await run("git", args, { cwd, env: this.env(), maxBuffer: 16 * 1024 * 1024, timeout: GIT_TIMEOUT_MS });
            return { code: 0, stdout };
        } catch (e) {
            const err = e as { code?: unknown; stdout?: string; stderr?: string; message: string };
            if (typeof err.code === "number" && outcomes.includes(err.code)) return { code: err.code, stdout: err.stdout ?? "" };
            throw classifyGitFailure(err.stderr || err.message, this.settings);
        }
    }

    /**
     * The branch head. Without a hint: ls-remote, nothing fetched. With a push's `after` sha: the
     * branch is fetched (the checkout needs it anyway) and the sha must be on it; the fetched tip is
     * returned, which is the sha itself unless the branch moved on since the push.
     */
    async head(hint?: string): Promise<string> {
        if (hint) return this.confirm(hint);
        // With --exit-code, 2 is git's own "no such ref": the repository answered and has no such branch.
        // Any other failure (GitHub's "Repository not found", a refused token) keeps git's message.
        const { code, stdout } = await this.git(["ls-remote", "--exit-code", this.settings.repoUrl, `refs/heads/${this.settings.branch}`], undefined, [2]);
        const sha = stdout.trim().split(/\s+/)[0];
        if (code === 2 || !sha) throw new SourceError(`branch ${this.settings.branch} does not exist in ${this.settings.repoUrl}`, "not-found");
        if (!/^[0-9a-f]{40,64}$/.test(sha)) throw new SourceError(`ls-remote of ${this.settings.repoUrl} returned no revision for ${this.settings.branch}: ${stdout.trim().slice(0, 200)}`, "git");
        return sha;
    }

    /**
     * Makes the working tree exactly `revision`: fetches the branch, checks the revision out
     * detached and removes untracked files (ignored ones, such as node_modules, stay as a cache).
     * git creates the symlinks a commit holds: one leading outside the checkout, or a node_modules
     * link, refuses the revision before anything runs in it (agent/worktree.ts).
     */
    async checkout(revision: string): Promise<string> {
        const dir = await this.fetch();
        await this.git(["cat-file", "-e", `${revision}^{commit}`], dir).catch(() => {
            throw new SourceError(`revision ${revision} is not on ${this.settings.branch} any more (force-pushed?); the next check picks up the new head`, "not-found");
        });
        await this.git(["checkout", "--quiet", "--force", "--detach", revision], dir);
        await this.git(["clean", "-ffdq"], dir);
        // Mode 120000: the tracked symlinks. The dependency cache is untracked: the agent's, not the commit's.
        const links = (await this.git(["ls-files", "--stage", "-z"], dir)).stdout.split("\0").filter((e) => e.startsWith("120000 ")).map((e) => e.slice(e.indexOf("\t") + 1));
        assertContained(dir, `revision ${revision}`, links);
        return dir;
    }

    /** Fetches the branch into the checkout's repository (created on first use); returns its directory. */
    private async fetch(): Promise<string> {
        const dir = this.checkoutDir;
        if (!fs.existsSync(path.join(dir, ".git"))) {
            fs.mkdirSync(dir, { recursive: true });
            await this.git(["init", "--quiet"], dir);
            await this.git(["remote", "add", "origin", this.settings.repoUrl], dir);
        } else {
            await this.git(["remote", "set-url", "origin", this.settings.repoUrl], dir);
        }
        await this.git(["fetch", "--quiet", "--no-tags", "--prune", "origin", `+refs/heads/${this.settings.branch}:refs/remotes/origin/${this.settings.branch}`], dir);
        return dir;
    }

    private async confirm(sha: string): Promise<string> {
        const dir = await this.fetch();
        const tip = (await this.git(["rev-parse", `refs/remotes/origin/${this.settings.branch}`], dir)).stdout.trim();
        if (tip === sha) return tip;
        await this.git(["merge-base", "--is-ancestor", sha, tip], dir).catch(() => {
            throw new SourceError(`the pushed revision ${sha} is not on ${this.settings.branch} (force-pushed since?); the next check picks up the branch head`, "not-found");
        });
        return tip;
    }

    /**
     * Writes the tree of pull request `number`'s head, if its head is still `sha`, to `file` as a gzip'd tar
     * whose entries are under `source/`: what a preview of it runs (agent/preview-run.ts). GitHub
     * serves `refs/pull/<n>/head` to every reader of the repository, a deploy key included. The ref
     * is fetched into a bare repository of this preview's own that borrows the checkout's objects
     * (alternates), so only the pull request's own commits are downloaded, the checkout the agent
     * applies is never touched by it, and nothing of it stays on the work volume afterwards. Nothing
     * of the pull request runs here: git writes its blobs into the tar. git has no limit of its own,
     * and anyone who may push a pull request could otherwise fill the agent's work volume: the fetch
     * is stopped once that repository holds more than `limits.maxExtractedBytes`, and the archive
     * once it passes `limits.maxBytes` (one blob at many paths makes a pack small and a tar huge).
     * Both refusals are {@link TooLargeError}s.
     */
    async pullRequestArchive(number: number, sha: string, file: string, limits: { readonly maxBytes: number; readonly maxExtractedBytes: number }): Promise<void> {
        if (!Number.isSafeInteger(number) || number < 1) throw new Error(`pull request number ${number} is not a positive integer`);
        if (!/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(sha)) throw new Error(`pull request #${number}'s head ${JSON.stringify(sha.slice(0, 80))} is not a commit sha`);
        fs.mkdirSync(this.settings.workDir, { recursive: true });
        const dir = fs.mkdtempSync(path.join(this.settings.workDir, `pull-${number}-`));
        try {
            await this.git(["init", "--quiet", "--bare"], dir);
            const borrowed = path.join(this.checkoutDir, ".git", "objects");
            if (fs.existsSync(borrowed)) fs.writeFileSync(path.join(dir, "objects", "info", "alternates"), borrowed + "\n");
            const fetched = await this.bounded(["fetch", "--quiet", "--no-tags", this.settings.repoUrl, `+refs/pull/${number}/head:refs/pull/${number}`], dir, { watch: () => regularFileBytes(dir) > limits.maxExtractedBytes });
            if (fetched === "over" || regularFileBytes(dir) > limits.maxExtractedBytes) {
                throw new TooLargeError(`pull request #${number} is over the agent's limit of ${limits.maxExtractedBytes} bytes fetched (${settingNames(FIELDS.artifactMaxExtractedBytes)}): it is not previewed`);
            }
            const head = (await this.git(["rev-parse", `refs/pull/${number}`], dir)).stdout.trim();
            if (head !== sha) throw new SourceError(`pull request #${number}'s head is ${head.slice(0, 12)} now, not ${sha.slice(0, 12)}: the newer head is previewed instead`, "not-found");
            const out = fs.createWriteStream(file, { mode: 0o600 });
            if ((await this.bounded(["archive", "--format=tar.gz", "--prefix=source/", sha], dir, { out, maxOut: limits.maxBytes })) === "over") {
                fs.rmSync(file, { force: true });
                throw new TooLargeError(`pull request #${number}'s source is over the agent's limit of ${limits.maxBytes} bytes packed (${settingNames(FIELDS.artifactMaxBytes)}): it is not previewed`);
            }
        } finally {
            // A cleanup that fails must not hide why the preview failed; the next one's is a new directory.
            try {
                removeTree(dir);
            } catch {
                // left for the volume's owner: nothing of it is read again
            }
        }
    }

    /** How often a bounded git command's watch looks. */
    private static readonly WATCH_MS = 250;

    /**
     * git `args` in `cwd`, in a process group of its own, so that stopping it stops what it started
     * too (ssh, index-pack), and resolved only once all of them are gone. It is stopped ("over") when
     * `watch` says so (asked every {@link WATCH_MS}) or when its output, written to `out`, passes
     * `maxOut` bytes; at GIT_TIMEOUT_MS; a failure is classified as every git failure is.
     */
    private bounded(args: string[], cwd: string, o: { readonly watch?: () => boolean; readonly out?: fs.WriteStream; readonly maxOut?: number }): Promise<"done" | "over"> {
        return new Promise((resolve, reject) => {
            const child = spawn("git", args, { cwd, env: this.env(), detached: true, stdio: ["ignore", o.out ? "pipe" : "ignore", "pipe"] });
            let over = false;
            let timedOut = false;
            let stderr = "";
            const stop = () => {
                try {
                    process.kill(-child.pid!, "SIGKILL");
                } catch {
                    // the group is gone already
                }
            };
            child.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-8000)));
            const looks = o.watch && setInterval(() => {
                try {
                    if (o.watch!()) (over = true), stop();
                } catch {
                    // a temporary file renamed while it was measured: the next look counts it
                }
            }, GitSource.WATCH_MS);
            const deadline = setTimeout(() => ((timedOut = true), stop()), GIT_TIMEOUT_MS);
            let written: Promise<unknown> = Promise.resolve();
            if (o.out) {
                const cap = new ByteCap(o.maxOut ?? Number.POSITIVE_INFINITY, () => {
                    over = true;
                    stop();
                    return new Error("over");
                });
                written = pipeline(child.stdout!, cap, o.out).catch(() => undefined);
            }
            child.on("error", (e) => {
                o.out?.destroy();
                clearInterval(looks);
                clearTimeout(deadline);
                reject(classifyGitFailure(e.message, this.settings));
            });
            child.on("close", (code) => {
                clearInterval(looks);
                clearTimeout(deadline);
                // The group may outlive git itself (an ssh it started): it goes too.
                stop();
                void written.then(() => {
                    if (over) resolve("over");
                    else if (timedOut) reject(new SourceError(`git ${args[0]} took longer than ${GIT_TIMEOUT_MS / 1000} s and was stopped`, "unreachable"));
                    else if (code === 0) resolve("done");
                    else reject(classifyGitFailure(stderr || `git ${args[0]} exited ${code}`, this.settings));
                });
            });
        });
    }

    /** Refuses a revision whose commit signature does not verify, when verification is on. */
    async verify(revision: string): Promise<void> {
        if (this.settings.verifySignatures === "off") return;
        const args = this.settings.verifySignatures === "ssh" ? ["-c", `gpg.ssh.allowedSignersFile=${this.settings.allowedSignersFile}`, "verify-commit", revision] : ["verify-commit", revision];
        try {
            await this.git(args, this.checkoutDir);
        } catch (e) {
            throw new SourceError(
                `commit ${revision.slice(0, 12)} has no signature that verifies against the ${this.settings.verifySignatures === "ssh" ? `allowed signers in ${this.settings.allowedSignersFile}` : `keys in ${this.settings.gpgHome}`}; it is not applied. ${(e as Error).message}`,
                "signature",
            );
        }
    }
}
