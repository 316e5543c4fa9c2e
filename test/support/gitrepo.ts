/** Real git repositories on disk for the agent tests: a bare "remote" and a clone to commit from. */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { tempDir } from "./tmp";

export interface Repo {
    readonly bare: string;
    readonly work: string;
    /** Writes files, commits and pushes; returns the new commit. */
    commit(files: Record<string, string>, message?: string, signWith?: string): string;
    /**
     * Commits `files` on top of the branch head (or of pull request `number`'s head, if it has one)
     * and pushes that commit to `refs/pull/<number>/head`, as GitHub keeps a pull request's head, with
     * the branch left where it was; returns the commit.
     */
    pullRequest(number: number, files: Record<string, string>): string;
}

const GIT_ENV = { GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null", GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@example.com", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@example.com" };

export function git(args: string[], cwd: string): string {
    return execFileSync("git", args, { cwd, encoding: "utf8", env: { ...process.env, ...GIT_ENV }, stdio: ["ignore", "pipe", "pipe"] }).trim();
}

export function makeRepo(branch = "main"): Repo {
    const dir = tempDir("ofg-git-");
    const bare = path.join(dir, "remote.git");
    const work = path.join(dir, "work");
    git(["init", "--quiet", "--bare", `--initial-branch=${branch}`, bare], dir);
    git(["clone", "--quiet", bare, work], dir);
    git(["checkout", "--quiet", "-b", branch], work);
    return {
        bare,
        work,
        commit(files, message = "change", signWith) {
            for (const [rel, text] of Object.entries(files)) {
                fs.mkdirSync(path.dirname(path.join(work, rel)), { recursive: true });
                fs.writeFileSync(path.join(work, rel), text);
            }
            git(["add", "-A"], work);
            const sign = signWith ? ["-c", "gpg.format=ssh", "-c", `user.signingkey=${signWith}`, "commit", "-S"] : ["commit"];
            git([...sign, "--quiet", "-m", message], work);
            git(["push", "--quiet", "origin", `HEAD:refs/heads/${branch}`], work);
            return git(["rev-parse", "HEAD"], work);
        },
        pullRequest(number, files) {
            const ref = `refs/pull/${number}/head`;
            let base = "HEAD";
            try {
                git(["fetch", "--quiet", "origin", `+${ref}:${ref}`], work);
                base = ref;
            } catch {
                // its first commit: on top of the branch head
            }
            git(["checkout", "--quiet", "--detach", base], work);
            try {
                for (const [rel, text] of Object.entries(files)) {
                    fs.mkdirSync(path.dirname(path.join(work, rel)), { recursive: true });
                    fs.writeFileSync(path.join(work, rel), text);
                }
                git(["add", "-A"], work);
                git(["commit", "--quiet", "-m", `pull request #${number}`], work);
                git(["push", "--quiet", "--force", "origin", `HEAD:${ref}`], work);
                return git(["rev-parse", "HEAD"], work);
            } finally {
                git(["checkout", "--quiet", "--force", branch], work);
            }
        },
    };
}
