import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import { AddressInfo } from "node:net";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { classifyGitFailure, GitSource, GitSourceSettings, SourceError } from "../agent/git";
import { TooLargeError } from "../agent/errors";
import { freePort } from "../tools/net";
import { makeRepo } from "./support/gitrepo";
import { SSHD, Sshd, startSshd } from "./support/sshd";
import { serveGit } from "../tools/git-http";
import { tempDir } from "./support/tmp";

const hasSsh = (() => {
    try {
        execFileSync("ssh", ["-V"], { stdio: "ignore" });
        return true;
    } catch {
        return false;
    }
})();

function settings(over: Partial<GitSourceSettings>): GitSourceSettings {
    return { repoUrl: "", branch: "main", verifySignatures: "off", workDir: tempDir("ofg-agent-"), ...over };
}

describe("git source on a real repository", () => {
    it("detects a push as a new head, checks out exactly that revision and keeps ignored caches", async () => {
        const repo = makeRepo();
        const first = repo.commit({ "Pulumi.yaml": "name: x\n", ".gitignore": "node_modules/\n", "a.txt": "1" });
        const src = new GitSource(settings({ repoUrl: `file://${repo.bare}` }));
        assert.equal(await src.head(), first);
        const dir = await src.checkout(first);
        assert.equal(fs.readFileSync(path.join(dir, "a.txt"), "utf8"), "1");
        fs.mkdirSync(path.join(dir, "node_modules"));
        fs.writeFileSync(path.join(dir, "stray.txt"), "left by a crashed run");

        const second = repo.commit({ "a.txt": "2" });
        assert.notEqual(second, first);
        assert.equal(await src.head(), second, "a push is a new revision");
        await src.checkout(second);
        assert.equal(fs.readFileSync(path.join(dir, "a.txt"), "utf8"), "2");
        assert.equal(fs.existsSync(path.join(dir, "stray.txt")), false, "untracked files are removed");
        assert.equal(fs.existsSync(path.join(dir, "node_modules")), true, "ignored caches stay");
        await src.checkout(first);
        assert.equal(fs.readFileSync(path.join(dir, "a.txt"), "utf8"), "1", "any fetched revision can be checked out (rollback)");
    });

    it("a push's sha is confirmed by fetching the branch, not by ls-remote", async () => {
        const repo = makeRepo();
        const first = repo.commit({ "a.txt": "1" });
        const src = new GitSource(settings({ repoUrl: `file://${repo.bare}` }));
        assert.equal(await src.head(first), first);
        const second = repo.commit({ "a.txt": "2" });
        assert.equal(await src.head(first), second, "the branch moved on since the push: its tip");
        await assert.rejects(src.head("0123456789abcdef0123456789abcdef01234567"), (e: SourceError) => e.kind === "not-found" && /is not on main/.test(e.message));
    });

    it("keeps the cause of a git failure, not just its last line", { skip: !hasSsh && "no ssh client" }, async () => {
        const port = await freePort(); // nothing listens there
        // ssh prints the cause first and git's "Could not read from remote repository" last.
        const src = new GitSource(settings({ repoUrl: `ssh://git@127.0.0.1:${port}/repo.git` }));
        await assert.rejects(src.head(), (e: SourceError) => e.kind === "unreachable" && /Connection refused.*Could not read from remote repository/.test(e.message));
    });

    it("classifies what git printed; digits in a URL (a port such as 40347) are not an HTTP status", () => {
        const s = { repoUrl: "ssh://git@127.0.0.1:40347/repo.git", knownHostsFile: "/kh" };
        const kind = (out: string) => classifyGitFailure(out, s).kind;
        // The output of a failed run on CI: the port held "403" and the failure was taken for a refusal.
        assert.equal(kind("ssh: connect to host 127.0.0.1 port 40347: Connection refused\nfatal: Could not read from remote repository."), "unreachable");
        assert.equal(kind("ssh: connect to host 10.4.0.1 port 40101: Connection timed out\nfatal: Could not read from remote repository."), "unreachable");
        assert.equal(kind("fatal: unable to access 'https://h:4030/r.git/': The requested URL returned error: 403"), "auth");
        assert.equal(kind("remote: Invalid username or password.\nfatal: Authentication failed for 'https://h/r.git/'"), "auth");
        assert.equal(kind("git@127.0.0.1: Permission denied (publickey).\nfatal: Could not read from remote repository."), "auth");
        assert.equal(kind("Host key verification failed.\nfatal: Could not read from remote repository."), "host-key");
        assert.equal(kind("fatal: bad object 4031"), "git");
        assert.equal(kind("No ED25519 host key is known for github.com and you have requested strict checking.\nHost key verification failed."), "host-key");
        assert.equal(kind("No ECDSA host key is known for [h]:2222 and you have requested strict checking."), "host-key");
    });

    it("classifies a megabyte of what a git server printed in linear time", () => {
        // The server's sideband ("remote: ...") reaches this text: /No .* host key is known/ was
        // quadratic in a line of many "No " (60 KB: 0.9 s with the event loop blocked).
        const started = Date.now();
        assert.equal(classifyGitFailure(`remote: ${"No ".repeat(350_000)}`, { repoUrl: "x", knownHostsFile: "/kh" }).kind, "git");
        // A hang guard, not a speed target (those are benchmarks): quadratic at this size takes minutes.
        assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
    });

    it("names a missing branch", async () => {
        const repo = makeRepo();
        repo.commit({ "a.txt": "1" });
        const src = new GitSource(settings({ repoUrl: `file://${repo.bare}`, branch: "release" }));
        await assert.rejects(src.head(), (e: SourceError) => e.kind === "not-found" && /branch release does not exist/.test(e.message));
    });
});

describe("git failures over real HTTP on loopback: classified, never leaking a URL credential", () => {
    const repo = makeRepo();
    let server: http.Server;
    let base = "";
    before(async () => {
        repo.commit({ "a.txt": "1" });
        // git's own smart-HTTP server for the repository; every other path answers as GitHub does
        // for a repository that does not exist or that the token may not read.
        server = http.createServer((req, res) => {
            if (req.url!.startsWith(`/${path.basename(repo.bare)}/`)) return serveGit(path.dirname(repo.bare), req, res);
            res.writeHead(404, { "Content-Type": "text/plain" });
            res.end("Repository not found.\n");
        });
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
        base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(() => server?.close());

    it("a repository that is not there keeps git's own message: it is no missing branch", async () => {
        const src = new GitSource(settings({ repoUrl: `${base}/acme/missing.git` }));
        await assert.rejects(src.head(), (e: SourceError) => {
            assert.doesNotMatch(e.message, /branch main does not exist/);
            assert.match(e.message, /not found/);
            return true;
        });
        const gone = new GitSource(settings({ repoUrl: `file://${tempDir("ofg-gone-")}/nothing.git` }));
        await assert.rejects(gone.head(), (e: SourceError) => !/does not exist in/.test(e.message) && /does not appear to be a git repository/.test(e.message));
    });

    it("only git's own 'no such ref' is a missing branch", async () => {
        const src = new GitSource(settings({ repoUrl: `${base}/${path.basename(repo.bare)}`, branch: "release" }));
        await assert.rejects(src.head(), (e: SourceError) => e.kind === "not-found" && /branch release does not exist/.test(e.message));
    });

    it("credentials in the URL never reach an error message", async () => {
        const port = await freePort(); // nothing listens there
        for (const repoUrl of [`${base.replace("http://", "http://oauth2:SECRET-1@")}/acme/missing.git`, `http://x:SECRET-1@127.0.0.1:${port}/r.git`, `${base.replace("http://", "http://SECRET-1@")}/${path.basename(repo.bare)}`]) {
            const src = new GitSource(settings({ repoUrl, branch: "nope" }));
            await assert.rejects(src.head(), (e: SourceError) => {
                assert.ok(!e.message.includes("SECRET"), e.message);
                return true;
            });
        }
    });
});

describe("git over a real sshd with a pinned host key", { skip: !SSHD && "openssh-server is not installed" }, () => {
    let sshd: Sshd;
    let repo: ReturnType<typeof makeRepo>;
    let head: string;
    before(async () => {
        sshd = await startSshd();
        repo = makeRepo();
        head = repo.commit({ "a.txt": "over ssh" });
    });
    after(async () => sshd?.stop());

    const knownHosts = (line: string) => {
        const f = path.join(tempDir("ofg-kh-"), "known_hosts");
        fs.writeFileSync(f, line + "\n");
        return f;
    };
    const url = () => `ssh://${sshd.user}@127.0.0.1:${sshd.port}${repo.bare}`;

    it("reads the head and checks out through ssh with the deploy key", async () => {
        const src = new GitSource(settings({ repoUrl: url(), sshKeyFile: sshd.clientKeyFile, knownHostsFile: knownHosts(sshd.knownHostsLine) }));
        assert.equal(await src.head(), head);
        const dir = await src.checkout(head);
        assert.equal(fs.readFileSync(path.join(dir, "a.txt"), "utf8"), "over ssh");
    });

    it("refuses a changed host key with a clear message", async () => {
        const other = tempDir("ofg-otherkey-");
        execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(other, "k")]);
        const [type, key] = fs.readFileSync(path.join(other, "k.pub"), "utf8").split(" ");
        const src = new GitSource(settings({ repoUrl: url(), sshKeyFile: sshd.clientKeyFile, knownHostsFile: knownHosts(`[127.0.0.1]:${sshd.port} ${type} ${key}`) }));
        await assert.rejects(src.head(), (e: SourceError) => e.kind === "host-key" && /is not the one pinned in .* \(unknown or changed\); refusing to connect/.test(e.message));
    });

    it("refuses an unknown host instead of trusting it on first use", async () => {
        const src = new GitSource(settings({ repoUrl: url(), sshKeyFile: sshd.clientKeyFile, knownHostsFile: knownHosts("") }));
        await assert.rejects(src.head(), (e: SourceError) => e.kind === "host-key");
    });

    it("names a deploy key the server does not accept", async () => {
        const other = tempDir("ofg-badkey-");
        execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(other, "k")]);
        const src = new GitSource(settings({ repoUrl: url(), sshKeyFile: path.join(other, "k"), knownHostsFile: knownHosts(sshd.knownHostsLine) }));
        await assert.rejects(src.head(), (e: SourceError) => e.kind === "auth" && /deploy key/.test(e.message));
    });
});

describe("a pull request's head for its preview: refs/pull/<n>/head as GitHub serves it", { skip: !SSHD && "openssh-server is not installed" }, () => {
    /** The agent's default limits (AGENT_ARTIFACT_MAX_BYTES, AGENT_ARTIFACT_MAX_EXTRACTED_BYTES). */
    const LIMIT = { maxBytes: 50 * 1024 ** 2, maxExtractedBytes: 100 * 1024 ** 2 };
    let sshd: Sshd;
    before(async () => {
        sshd = await startSshd();
    });
    after(async () => sshd?.stop());

    it("fetches it with the deploy key, archives exactly its tree under source/, never touches the checkout and keeps nothing of it", async () => {
        const repo = makeRepo();
        const main = repo.commit({ "Pulumi.yaml": "name: x\n", "a.txt": "main", "big.txt": crypto.randomBytes(150_000).toString("base64") });
        const kh = path.join(tempDir("ofg-kh-"), "known_hosts");
        fs.writeFileSync(kh, sshd.knownHostsLine + "\n");
        const s = settings({ repoUrl: `ssh://${sshd.user}@127.0.0.1:${sshd.port}${repo.bare}`, sshKeyFile: sshd.clientKeyFile, knownHostsFile: kh });
        const src = new GitSource(s);
        const dir = await src.checkout(main);
        const head = repo.pullRequest(7, { "a.txt": "pull request", "new/b.txt": "added" });
        assert.equal(await src.head(), main, "the branch did not move");

        const tar = path.join(tempDir("ofg-pr-"), "pr.tar.gz");
        await src.pullRequestArchive(7, head, tar, LIMIT);
        const listed = execFileSync("tar", ["-tf", tar], { encoding: "utf8" }).split("\n").filter(Boolean).sort();
        assert.deepEqual(listed, ["source/", "source/Pulumi.yaml", "source/a.txt", "source/big.txt", "source/new/", "source/new/b.txt"]);
        assert.equal(execFileSync("tar", ["-xOf", tar, "source/a.txt"], { encoding: "utf8" }), "pull request");
        assert.equal(fs.readFileSync(path.join(dir, "a.txt"), "utf8"), "main", "the applied checkout is untouched");
        assert.equal(execFileSync("git", ["rev-parse", "HEAD"], { cwd: dir, encoding: "utf8" }).trim(), main);
        assert.deepEqual(fs.readdirSync(s.workDir).filter((e) => e.startsWith("pull-")), [], "nothing of the pull request stays on the work volume");

        // A newer push: the old head is not previewed, the new one is.
        const newer = repo.pullRequest(7, { "a.txt": "pushed again" });
        await assert.rejects(src.pullRequestArchive(7, head, tar, LIMIT), (e: SourceError) => e.kind === "not-found" && new RegExp(`#7's head is ${newer.slice(0, 12)} now, not ${head.slice(0, 12)}`).test(e.message));
        await src.pullRequestArchive(7, newer, tar, LIMIT);
        assert.equal(execFileSync("tar", ["-xOf", tar, "source/a.txt"], { encoding: "utf8" }), "pushed again");
    });

    it("stops a fetch past the limit, and an archive past its own (one blob at many paths), keeping nothing of either", async () => {
        const repo = makeRepo();
        const main = repo.commit({ "Pulumi.yaml": "name: x\n" });
        const src = new GitSource(settings({ repoUrl: `file://${repo.bare}` }));
        await src.checkout(main);
        const pulls = () => fs.readdirSync(path.dirname(src.checkoutDir)).filter((e) => e.startsWith("pull-"));
        const tar = path.join(tempDir("ofg-pr-"), "pr.tar.gz");
        // Random bytes do not compress: the pack is as large as they are.
        const huge = repo.pullRequest(8, { "huge.bin": crypto.randomBytes(4 * 1024 ** 2).toString("base64") });
        await assert.rejects(src.pullRequestArchive(8, huge, tar, { ...LIMIT, maxExtractedBytes: 1024 ** 2 }), (e: Error) => e instanceof TooLargeError && /pull request #8 is over the agent's limit of 1048576 bytes fetched \(agent\.artifactMaxExtractedBytes, AGENT_ARTIFACT_MAX_EXTRACTED_BYTES\): it is not previewed/.test(e.message));
        assert.deepEqual(pulls(), []);
        await src.pullRequestArchive(8, huge, tar, LIMIT);
        // One 512 KiB blob at 64 paths: a pack of 512 KiB, an archive of 32 MiB.
        const blob = crypto.randomBytes(512 * 1024).toString("base64");
        const many = repo.pullRequest(9, Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`copies/${i}.bin`, blob])));
        await assert.rejects(src.pullRequestArchive(9, many, tar, { ...LIMIT, maxBytes: 4 * 1024 ** 2 }), (e: Error) => e instanceof TooLargeError && /pull request #9's source is over the agent's limit of 4194304 bytes packed \(agent\.artifactMaxBytes, AGENT_ARTIFACT_MAX_BYTES\)/.test(e.message));
        assert.equal(fs.existsSync(tar), false, "no part of the archive is left");
        assert.deepEqual(pulls(), []);
    });

    it("refuses what is not a pull request number or a sha before running git", async () => {
        const src = new GitSource(settings({ repoUrl: "file:///nonexistent" }));
        for (const n of [0, -1, 1.5, Number.NaN, 2 ** 60]) await assert.rejects(src.pullRequestArchive(n, "a".repeat(40), "/dev/null", LIMIT), /is not a positive integer/);
        for (const sha of ["HEAD", "--output=/etc/x", "a".repeat(39), "A".repeat(40), `${"a".repeat(40)}\n`]) await assert.rejects(src.pullRequestArchive(1, sha, "/dev/null", LIMIT), /is not a commit sha/);
    });
});


describe("commit signature verification (ssh signatures)", () => {
    it("applies a signed head and refuses an unsigned one", async () => {
        const keys = tempDir("ofg-sign-");
        execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "t@example.com", "-f", path.join(keys, "signer")]);
        const pub = fs.readFileSync(path.join(keys, "signer.pub"), "utf8").trim();
        fs.writeFileSync(path.join(keys, "allowed_signers"), `t@example.com namespaces="git" ${pub}\n`);
        const repo = makeRepo();
        const signed = repo.commit({ "a.txt": "signed" }, "signed", path.join(keys, "signer"));
        const src = new GitSource(settings({ repoUrl: `file://${repo.bare}`, verifySignatures: "ssh", allowedSignersFile: path.join(keys, "allowed_signers") }));
        await src.checkout(signed);
        await src.verify(signed);
        const unsigned = repo.commit({ "a.txt": "unsigned" });
        await src.checkout(unsigned);
        await assert.rejects(src.verify(unsigned), (e: SourceError) => e.kind === "signature" && /has no signature that verifies .* it is not applied/.test(e.message));
    });
});
