/**
 * The git rules every layer shares (model/git.ts): what in a URL is a credential and its redaction,
 * git's branch-name rules (checked against the real `git check-ref-format --branch`), and project
 * paths that stay inside the checkout.
 */
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { branchProblem, hasUrlCredentials, projectPathProblem, redactUrl, redactUrls } from "../model/git";
import { tempDir } from "./support/tmp";

/** Characters RFC 3986 allows in user information, `:` and `@` included as people paste them unencoded. */
const USERINFO_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=%:@/";

describe("URL credentials", () => {
    it("an ssh login name is no credential; any password, and any user of an https URL, is", () => {
        for (const url of ["git@github.com:acme/platform.git", "ssh://git@github.com/acme/platform.git", "ssh://git@[::1]:2222/r.git", "https://github.com/acme/platform.git", "file:///srv/r.git"]) {
            assert.equal(hasUrlCredentials(url), false, url);
            assert.equal(redactUrl(url), url);
        }
        const cases: [string, string][] = [
            ["https://oauth2:glpat-SECRET@gitlab.com/acme/p.git", "https://***@gitlab.com/acme/p.git"],
            ["https://ghp_SECRET@github.com/acme/p.git", "https://***@github.com/acme/p.git"],
            ["HTTPS://x-access-token:SECRET@github.com/a/p", "HTTPS://***@github.com/a/p"],
            ["ssh://git:SECRET@host/r.git", "ssh://***@host/r.git"],
            ["git:SECRET@host:org/r.git", "***@host:org/r.git"],
            ["https://u:SE@CR/ET@host/r.git", "https://***@host/r.git"],
            ["file://me@host/srv/r.git", "file://***@host/srv/r.git"],
        ];
        for (const [url, redacted] of cases) {
            assert.equal(hasUrlCredentials(url), true, url);
            assert.equal(redactUrl(url), redacted);
        }
    });

    it("redacts every URL of a message, quoted or not, and leaves the rest alone", () => {
        assert.equal(
            redactUrls("fatal: unable to access 'https://oauth2:SECRET@h/r.git/': 403; remote=https://tok@h/x and git@h:o/r.git, @pulumi/pulumi@3.270.0"),
            "fatal: unable to access 'https://***@h/r.git/': 403; remote=https://***@h/x and git@h:o/r.git, @pulumi/pulumi@3.270.0",
        );
    });

    it("property: the redacted message never contains the password (nor an https user)", () => {
        const secret = fc.string({ unit: fc.constantFrom(...USERINFO_CHARS), minLength: 6, maxLength: 40 });
        const word = fc.string({ unit: fc.constantFrom(..."abcdefghij0123456789-./:'\"()[]=,;"), maxLength: 12 });
        fc.assert(
            fc.property(
                fc.constantFrom("https", "http", "ssh", "git+ssh", "file", "git"),
                fc.option(fc.string({ unit: fc.constantFrom(..."abcdefgh-_."), minLength: 1, maxLength: 8 }), { nil: undefined }),
                secret,
                fc.domain(),
                fc.webPath(),
                word,
                word,
                (scheme, user, password, host, webPath, before, after) => {
                    const url = `${scheme}://${user === undefined ? "" : `${user}:`}${password}@${host}${webPath}`;
                    fc.pre(![before, after, host, webPath, scheme].some((s) => s.includes(password)));
                    // An ssh user name alone is a login name, which stays.
                    fc.pre(user !== undefined || !scheme.includes("ssh"));
                    const message = `${before} ${url} ${after}; fatal: repository '${url}' not found`;
                    assert.ok(!redactUrls(message).includes(password), redactUrls(message));
                    assert.ok(hasUrlCredentials(url));
                },
            ),
            { numRuns: 500 },
        );
    });

    it("property: a URL without credentials is left as it is (an '@' in an https path would be taken for one: encode it as %40)", () => {
        const path = fc.webPath().filter((p) => !p.includes("@"));
        const url = fc.oneof(
            fc.tuple(fc.constantFrom("https", "http", "file"), fc.domain(), path).map(([s, h, p]) => `${s}://${h}${p}`),
            fc.tuple(fc.constantFrom("", "git@", "deploy.user-1@"), fc.domain(), path).map(([u, h, p]) => `ssh://${u}${h}${p}`),
            fc.tuple(fc.constantFrom("git", "org-1"), fc.domain(), path).map(([u, h, p]) => `${u}@${h}:${p.replace(/^\//, "")}`),
        );
        fc.assert(
            fc.property(url, (u) => {
                assert.equal(redactUrl(u), u);
                assert.equal(hasUrlCredentials(u), false);
            }),
            { numRuns: 300 },
        );
    });
});

describe("URL redaction of long text", () => {
    // Every error the agent records and every engine log line is redacted. The scheme was found
    // with /([A-Za-z][A-Za-z0-9+.-]*):\/\// in each word holding an '@', quadratic in the word: 40,000
    // letters and an '@' took 1.1 s, a 1 MB word in a Pulumi error many minutes, with the event loop
    // (HTTP, Lease renewals) blocked throughout.
    it("a 1 MB word with an '@' is redacted in linear time", () => {
        const started = Date.now();
        assert.equal(redactUrls(`x ${"a".repeat(1_000_000)}@b y`), `x ${"a".repeat(1_000_000)}@b y`);
        assert.equal(redactUrls(`${"a".repeat(500_000)}https://u:p@h/${"b".repeat(500_000)}`), `${"a".repeat(500_000)}https://***@h/${"b".repeat(500_000)}`);
        // A hang guard, not a speed target (those are benchmarks): quadratic at this size takes minutes.
        assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
    });

    it("property: the scheme found is the regular expression's", () => {
        const reference = (url: string) => {
            const at = url.lastIndexOf("@");
            if (at < 0) return url;
            const scheme = /([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(url);
            const start = scheme ? scheme.index + scheme[0].length : 0;
            if (at < start) return url;
            const userinfo = url.slice(start, at);
            const login = scheme ? ["ssh", "git+ssh", "ssh+git"].includes(scheme[1]!.toLowerCase()) && /^[\w.-]+$/.test(userinfo) : !userinfo.includes(":");
            return login ? url : `${url.slice(0, start)}***${url.slice(at)}`;
        };
        const unit = fc.constantFrom("a", "Z", "1", "+", ".", "-", ":", "/", "://", "@", "ssh", "git+ssh", "https", "_", "x:y");
        fc.assert(fc.property(fc.array(unit, { maxLength: 20 }).map((u) => u.join("")), (url) => assert.equal(redactUrl(url), reference(url))), { numRuns: 2000 });
    });
});

describe("branch names as git accepts them", () => {
    it("refuses what would change the refspec or name no branch", () => {
        for (const ok of ["main", "release/1.2", "feature/x-y_z", "@", "HEAD/x", "é"]) assert.equal(branchProblem(ok), undefined, ok);
        assert.match(branchProblem("main:refs/heads/evil")!, /contains a space, a control character or one of :/);
        assert.match(branchProblem("-main")!, /starts with '-'/);
        assert.match(branchProblem("a..b")!, /'\.\.'/);
        assert.match(branchProblem("x.lock")!, /\.lock/);
        assert.match(branchProblem("")!, /empty/);
    });

    it("property: the same verdict as git check-ref-format --branch", () => {
        // Outside any repository, so git does not expand @{-1} or @ against a current branch.
        const cwd = tempDir("ofg-refs-");
        const gitSays = (name: string) => spawnSync("git", ["check-ref-format", "--branch", name], { cwd, stdio: "ignore", env: { PATH: process.env.PATH, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null", GIT_CEILING_DIRECTORIES: path.dirname(cwd) } }).status === 0;
        const unit = fc.constantFrom(..."ab.-/@{}:?*[]\\^~ \t\x01\x7fHEADlockéx".split(""), ".lock", "..", "@{", "HEAD", "refs/");
        fc.assert(
            fc.property(fc.string({ unit, maxLength: 10 }), (name) => {
                assert.equal(branchProblem(name) === undefined, gitSays(name), `${JSON.stringify(name)}: ours ${branchProblem(name) ?? "ok"}`);
            }),
            { numRuns: 400 },
        );
    });
});

describe("project paths inside the checkout", () => {
    it("relative, normalised and inside", () => {
        for (const ok of [".", "infra", "infra/platform", "a.b/c"]) assert.equal(projectPathProblem(ok), undefined, ok);
        assert.match(projectPathProblem("../../etc")!, /leaves the repository/);
        assert.match(projectPathProblem("a/../../etc")!, /leaves the repository/);
        assert.match(projectPathProblem("/etc")!, /is absolute/);
        assert.match(projectPathProblem("./infra/")!, /is not normalised; write it as infra/);
        assert.match(projectPathProblem("a//b")!, /write it as a\/b/);
        assert.match(projectPathProblem("a\\..\\..\\x")!, /'\\'/);
    });

    it("property: an accepted path resolves inside the checkout", () => {
        const unit = fc.constantFrom("a", "b", ".", "..", "/", "\\", "x.y", "");
        fc.assert(
            fc.property(fc.string({ unit, maxLength: 8 }), (p) => {
                if (projectPathProblem(p) !== undefined) return;
                const root = "/work/checkout";
                const resolved = path.posix.resolve(root, p);
                assert.ok(resolved === root || resolved.startsWith(`${root}/`), `${p} -> ${resolved}`);
            }),
            { numRuns: 500 },
        );
    });
});
