/**
 * agent/github.ts, the agent's GitHub access for pull-request previews, over real HTTP against
 * test/support/github-double.ts (a TEST DOUBLE of GitHub's REST API: GitHub cannot be reached from
 * here) on 127.0.0.1. Every request the client makes is validated by the double against GitHub's
 * published OpenAPI description, and every answer the double gives against the description's response
 * schema: each test ends asserting none was invalid and every connection came from loopback.
 */
import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { inspect, promisify } from "node:util";
import fc from "fast-check";
import * as ts from "typescript";
import { commentBody, CUT_NOTE, failureMessage, gitHub, GitHubError, GitHubOptions, MAX_COMMENT_BODY, MAX_STATUS_DESCRIPTION, parseRepository, statusDescription } from "../agent/github";
import { description, GitHubDouble, OPENAPI_FILE, OPERATIONS } from "./support/github-double";
import { ROOT } from "./helpers";
import { tempDir } from "./support/tmp";

/** Distinctive, so a leak anywhere is found by a plain search. */
const TOKEN = "ghp_Zq7SecretTokenValue0123456789abcdefXY";
const MARKER = "<!-- openfaas-gitops-preview:prod -->";
const SHA = "0123456789abcdef0123456789abcdef01234567";

let repoCount = 0;
/**
 * A double for a repository of its own (Octokit's throttling keeps its write spacing per repository,
 * so tests do not wait on each other), the agent's user, and a client.
 */
async function setup(opts: Partial<GitHubOptions> = {}) {
    const repository = `acme/app-${++repoCount}`;
    const double = await GitHubDouble.start(repository);
    const agent = double.addUser(TOKEN, "preview-agent");
    const logs: string[] = [];
    const client = gitHub({ repository, token: () => TOKEN, baseUrl: double.url, log: (l) => logs.push(l), ...opts });
    return { double, agent, client, logs, repository };
}

/** Every connection and request on loopback, every request and answer as GitHub's description says; then closed. */
async function finish(double: GitHubDouble): Promise<void> {
    try {
        assert.match(double.url, /^http:\/\/127\.0\.0\.1:\d+$/);
        assert.ok(double.connections.length > 0);
        for (const a of double.connections) assert.equal(a, "127.0.0.1");
        for (const r of double.requests) assert.equal(r.remoteAddress, "127.0.0.1");
        assert.deepEqual(double.invalid(), []);
    } finally {
        await double.close();
    }
}

const pr = (n: number, extra: Partial<Parameters<GitHubDouble["pulls"]["push"]>[0]> = {}) => ({ number: n, headSha: SHA, headRepository: "acme/app", baseRef: "main", author: "alice", ...extra });

describe("GitHub's OpenAPI description in the double", () => {
    it("is the api.github.com description of @octokit/openapi, with every operation the client uses", () => {
        assert.equal(path.basename(OPENAPI_FILE), "api.github.com.json");
        const d = description();
        assert.deepEqual(
            d.operations.map((o) => o.operationId),
            ["pulls/list", "repos/get-collaborator-permission-level", "repos/create-commit-status", "issues/list-comments", "issues/create-comment", "issues/update-comment", "users/get-authenticated", "repos/download-tarball-archive"],
        );
        assert.equal(d.operations.length, OPERATIONS.length);
        // Loaded once per process.
        assert.equal(description(), d);
    });

    it("refuses with 422, and records as invalid, what GitHub's description refuses", async () => {
        const { double } = await setup();
        double.pulls.push(pr(1));
        const base = `${double.url}/repos/${double.owner}/${double.repo}`;
        const headers = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };
        const bad = [
            fetch(`${base}/statuses/${SHA}`, { method: "POST", headers, body: JSON.stringify({ state: "bogus" }) }),
            fetch(`${base}/issues/1/comments`, { method: "POST", headers, body: JSON.stringify({ text: "no body field" }) }),
            fetch(`${base}/pulls?state=open&per_page=abc`, { headers }),
            fetch(`${base}/pulls?colour=blue`, { headers }),
            fetch(`${base}/issues/one/comments`, { headers }),
            fetch(`${base}/statuses/${SHA}`, { method: "POST", headers, body: JSON.stringify({ state: "success", description: "x".repeat(141) }) }),
        ];
        const statuses = await Promise.all(bad.map(async (p) => (await p).status));
        assert.deepEqual(statuses, [422, 422, 422, 422, 422, 422]);
        const invalid = double.invalid().map((r) => r.invalid.join("; "));
        assert.equal(invalid.length, 5, "the 141-character description is GitHub's own rule, past the schema");
        assert.ok(invalid.some((m) => /body\/state must be equal to one of the allowed values/.test(m)), invalid.join("\n"));
        assert.ok(invalid.some((m) => /must have required property 'body'/.test(m)), invalid.join("\n"));
        assert.ok(invalid.some((m) => /query\/per_page must be integer/.test(m)), invalid.join("\n"));
        assert.ok(invalid.some((m) => /additional properties \(colour\)/.test(m)), invalid.join("\n"));
        assert.ok(invalid.some((m) => /path\/issue_number must be integer/.test(m)), invalid.join("\n"));
        await double.close();
    });

    it("catches an answer that does not match the response schema (its own answers are checked the same way)", () => {
        const list = description().operations.find((o) => o.operationId === "pulls/list")!;
        const validate = list.validateResponse.get(200)!;
        assert.equal(validate([{ number: 1 }]), false);
        assert.equal(validate([]), true);
    });
});

describe("agent/github.ts against the double", () => {
    it("lists open pull requests of a base across pages, at most `limit`, forks with their head repository", async () => {
        const { double, client } = await setup({ limit: 300 });
        for (let n = 1; n <= 250; n++) double.pulls.push(pr(n, n === 7 ? { headRepository: "Mallory/App-Fork", author: "mallory", labels: ["preview", "bug"], draft: true } : {}));
        double.pulls.push(pr(251, { baseRef: "develop" }), pr(252, { state: "closed" }));
        const all = await client.openPullRequests("main");
        assert.deepEqual(
            all.map((p) => p.number),
            Array.from({ length: 250 }, (_, i) => i + 1),
        );
        assert.deepEqual(all[6], { number: 7, headSha: SHA, headRepository: "mallory/app-fork", baseRef: "main", author: "mallory", labels: ["preview", "bug"], draft: true });
        assert.deepEqual(all[0], { number: 1, headSha: SHA, headRepository: "acme/app", baseRef: "main", author: "alice", labels: [], draft: false });
        // Three pages of 100, the later ones through GitHub's Link header.
        const targets = double.requests.map((r) => r.target);
        assert.equal(targets.length, 3);
        assert.match(targets[0]!, /per_page=100/);
        assert.match(targets[1]!, /page=2/);
        assert.match(targets[2]!, /page=3/);
        await finish(double);
    });

    it("stops at the default limit of 100 without reading further pages", async () => {
        const { double, client } = await setup();
        for (let n = 1; n <= 250; n++) double.pulls.push(pr(n));
        assert.equal((await client.openPullRequests("main")).length, 100);
        assert.equal(double.requests.length, 1);
        const small = gitHub({ repository: `${double.owner}/${double.repo}`, token: () => TOKEN, baseUrl: double.url, limit: 5 });
        assert.deepEqual(
            (await small.openPullRequests("main")).map((p) => p.number),
            [1, 2, 3, 4, 5],
        );
        await finish(double);
    });

    it("canWrite: admin, maintain and write can; triage, read and a non-collaborator (404) cannot", async () => {
        const { double, client } = await setup();
        for (const role of ["admin", "maintain", "write", "triage", "read"] as const) double.permissions.set(`user-${role}`, role);
        const answers: Record<string, boolean> = {};
        for (const login of ["user-admin", "user-maintain", "user-write", "user-triage", "user-read", "stranger"]) answers[login] = await client.canWrite(login);
        assert.deepEqual(answers, { "user-admin": true, "user-maintain": true, "user-write": true, "user-triage": false, "user-read": false, stranger: false });
        // A login GitHub could not have issued is no collaborator, and costs no request.
        const before = double.requests.length;
        for (const login of ["../../user", "a/b", "", "x".repeat(60), "bob?x=1"]) assert.equal(await client.canWrite(login), false);
        assert.equal(double.requests.length, before);
        await finish(double);
    });

    it("setStatus sends the commit status, its description cut to 140 characters", async () => {
        const { double, client, agent } = await setup();
        await client.setStatus(SHA, { state: "pending", context: "openfaas-gitops/preview (prod)", description: "previewing", targetUrl: "https://agent.example/status" });
        const long = "é".repeat(100) + "😀".repeat(60);
        await client.setStatus(SHA, { state: "failure", context: "openfaas-gitops/preview (prod)", description: long });
        assert.deepEqual(double.requests.map((r) => [r.method, r.target, r.status]), [
            ["POST", `/repos/${double.owner}/${double.repo}/statuses/${SHA}`, 201],
            ["POST", `/repos/${double.owner}/${double.repo}/statuses/${SHA}`, 201],
        ]);
        assert.deepEqual(double.requests[0]!.body, { state: "pending", context: "openfaas-gitops/preview (prod)", description: "previewing", target_url: "https://agent.example/status" });
        const sent = double.requests[1]!.body;
        assert.deepEqual(Object.keys(sent).sort(), ["context", "description", "state"]);
        assert.ok(sent.description.length <= MAX_STATUS_DESCRIPTION && sent.description.endsWith("…"));
        assert.ok(long.startsWith(sent.description.slice(0, -1)));
        assert.deepEqual(double.statuses.map((s) => [s.sha, s.state, s.creator.login]), [[SHA, "pending", agent.login], [SHA, "failure", agent.login]]);
        await assert.rejects(client.setStatus("HEAD", { state: "success", context: "c", description: "" }), /not a full lowercase hex sha/);
        await finish(double);
    });

    it("upsertComment creates the comment, then edits that same comment in place", async () => {
        const { double, client, agent } = await setup();
        double.pulls.push(pr(5));
        const first = await client.upsertComment(5, MARKER, `${MARKER}\nPreview of prod: 3 to create`);
        assert.equal(first.created, true);
        const second = await client.upsertComment(5, MARKER, `${MARKER}\nPreview of prod: 1 to update`);
        assert.deepEqual(second, { id: first.id, created: false });
        assert.deepEqual(double.comments.map((c) => [c.id, c.issue, c.user.login, c.body]), [[first.id, 5, agent.login, `${MARKER}\nPreview of prod: 1 to update`]]);
        // Unchanged: no write at all. A body without the marker gets it.
        const writes = () => double.requests.filter((r) => r.method !== "GET").length;
        const before = writes();
        await client.upsertComment(5, MARKER, `${MARKER}\nPreview of prod: 1 to update`);
        assert.equal(writes(), before);
        await client.upsertComment(5, MARKER, "no marker in this body");
        assert.equal(double.comments.length, 1);
        assert.equal(double.comments[0]!.body, `${MARKER}\nno marker in this body`);
        // Another stack's marker is another comment.
        const staging = await client.upsertComment(5, "<!-- openfaas-gitops-preview:staging -->", "staging");
        assert.equal(staging.created, true);
        assert.equal(double.comments.length, 2);
        // GET /user once for the token.
        assert.equal(double.requests.filter((r) => r.operationId === "users/get-authenticated").length, 1);
        await finish(double);
    });

    it("never edits a comment carrying the marker that another user wrote: it writes its own", async () => {
        const { double, client } = await setup();
        double.pulls.push(pr(9));
        const mallory = double.addUser("mallory-token-000000000", "mallory");
        const planted = double.addComment(9, mallory, `${MARKER}\nAll green, merge away!`);
        const mine = await client.upsertComment(9, MARKER, `${MARKER}\nPreview of prod: failed`);
        assert.equal(mine.created, true);
        assert.notEqual(mine.id, planted.id);
        const again = await client.upsertComment(9, MARKER, `${MARKER}\nPreview of prod: 2 to update`);
        assert.deepEqual(again, { id: mine.id, created: false });
        assert.equal(double.comments.find((c) => c.id === planted.id)!.body, `${MARKER}\nAll green, merge away!`);
        assert.ok(!double.requests.some((r) => r.target.endsWith(`/comments/${planted.id}`)));
        await finish(double);
    });

    it("finds its comment past the first page of comments", async () => {
        const { double, client, agent } = await setup();
        double.pulls.push(pr(3));
        const other = double.addUser("other-token-0000000000", "someone");
        for (let i = 0; i < 150; i++) double.addComment(3, other, `comment ${i}`);
        const mine = double.addComment(3, agent, `${MARKER}\nold`);
        assert.deepEqual(await client.upsertComment(3, MARKER, "new"), { id: mine.id, created: false });
        assert.equal(mine.body, `${MARKER}\nnew`);
        await finish(double);
    });

    it("cuts a body over 65536 characters, keeping the marker, and GitHub's double accepts it", async () => {
        const { double, client } = await setup();
        double.pulls.push(pr(4));
        await client.upsertComment(4, MARKER, `${MARKER}\n${"x".repeat(100_000)}`);
        await client.upsertComment(4, MARKER, `${"y".repeat(70_000)}\n${MARKER}`);
        const stored = double.comments[0]!.body;
        assert.equal(double.comments.length, 1);
        assert.ok(stored.length <= MAX_COMMENT_BODY && stored.includes(MARKER) && stored.endsWith(CUT_NOTE));
        assert.deepEqual(double.requests.filter((r) => r.method !== "GET").map((r) => r.status), [201, 200]);
        await finish(double);
    });

    it("archive: the tarball redirect to codeload followed, the bytes written; over the limit or unknown, refused", async () => {
        const { double, client } = await setup();
        const file = path.join(tempDir("ofg-gh-archive-"), "a.tar.gz");
        double.archives.set(SHA, Buffer.from("gzip bytes of the tree"));
        await client.archive(SHA, file, 1024);
        assert.equal(fs.readFileSync(file, "utf8"), "gzip bytes of the tree");
        const codeload = double.requests.filter((r) => r.target.startsWith("/_codeload/"));
        assert.equal(codeload.length, 1);
        await assert.rejects(client.archive(SHA, file, 10), /the source of [0-9a-f]{12} is over the agent's limit of 10 bytes packed \(agent\.artifactMaxBytes, AGENT_ARTIFACT_MAX_BYTES\)/);
        assert.equal(fs.existsSync(file), false, "no part of a refused archive is left");
        // Counted as it arrives (codeload sends no length): a large one is cut, never held whole.
        const big = "b".repeat(40);
        double.archives.set(big, crypto.randomBytes(3 * 1024 ** 2));
        await assert.rejects(client.archive(big, file, 1024 ** 2), /over the agent's limit of 1048576 bytes packed/);
        assert.equal(fs.existsSync(file), false);
        await assert.rejects(client.archive("f".repeat(40), file, 1024), (e: GitHubError) => e.status === 404);
        await assert.rejects(client.archive("HEAD", file, 1024), /is not a full lowercase hex sha/);
        await finish(double);
    });

    it("retries a 502 and succeeds; a 502 that lasts ends in a short rejection within the bounded retries", async () => {
        const { double, client, logs } = await setup({ retries: 1 });
        double.permissions.set("alice", "write");
        double.failNext(1);
        assert.equal(await client.canWrite("alice"), true);
        assert.deepEqual(double.requests.map((r) => r.status), [502, 200]);
        double.failNext(1000);
        const started = Date.now();
        await assert.rejects(client.canWrite("alice"), (e: Error) => {
            assert.equal(e.message, "GitHub GET /repos/{owner}/{repo}/collaborators/{username}/permission: HTTP 502");
            return true;
        });
        // 1 + 1 retry, after 1 s (Octokit's backoff: 1 s, 4 s, 9 s, ...).
        assert.equal(double.requests.length, 2 + 2);
        assert.ok(Date.now() - started < 15_000);
        assert.ok(!logs.join("\n").includes(TOKEN));
        await finish(double);
    });

    it("an unreachable GitHub and one that never answers end in rejections naming neither URL nor token", async () => {
        const closed = await new Promise<number>((resolve) => {
            const s = net.createServer().listen(0, "127.0.0.1", () => {
                const port = (s.address() as net.AddressInfo).port;
                s.close(() => resolve(port));
            });
        });
        const down = gitHub({ repository: "acme/app", token: () => TOKEN, baseUrl: `http://127.0.0.1:${closed}`, retries: 0 });
        await assert.rejects(down.canWrite("alice"), { message: "GitHub GET /repos/{owner}/{repo}/collaborators/{username}/permission: no answer (network error)" });

        // Addresses taken as each connection opens: a destroyed socket has none.
        const clients: (string | undefined)[] = [];
        let requests = 0;
        const silent = http.createServer(() => requests++);
        silent.on("connection", (s) => clients.push(s.remoteAddress));
        await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
        try {
            const port = (silent.address() as net.AddressInfo).port;
            const hung = gitHub({ repository: "acme/app", token: () => TOKEN, baseUrl: `http://127.0.0.1:${port}`, retries: 1, timeoutMs: 1000 });
            const started = Date.now();
            await assert.rejects(hung.openPullRequests("main"), { message: "GitHub GET /repos/{owner}/{repo}/pulls: no answer within 1 s" });
            // A hang guard: each attempt is cut at its deadline, not left to hang.
            assert.ok(Date.now() - started < 20_000);
            assert.equal(requests, 2, "one attempt and one retry");
            assert.ok(clients.length >= 2);
            for (const a of clients) assert.equal(a, "127.0.0.1");
        } finally {
            silent.closeAllConnections();
            await new Promise((resolve) => silent.close(resolve));
        }
    });

    it("waits out a rate limit that resets within a second (primary 403 and secondary 429), and fails at once on a longer one, naming the reset", async () => {
        const { double, client, logs } = await setup();
        double.permissions.set("alice", "admin");
        double.rateLimitNext({ kind: "primary", resetSeconds: 1 });
        let started = Date.now();
        assert.equal(await client.canWrite("alice"), true);
        assert.ok(Date.now() - started >= 1000, "waited for the reset");
        assert.deepEqual(double.requests.map((r) => r.status), [403, 200]);

        double.rateLimitNext({ kind: "secondary", retryAfterSeconds: 1 });
        started = Date.now();
        assert.equal(await client.canWrite("alice"), true);
        assert.ok(Date.now() - started >= 1000, "waited Retry-After");
        assert.deepEqual(double.requests.slice(2).map((r) => r.status), [429, 200]);

        double.rateLimitNext({ kind: "primary", resetSeconds: 3600 });
        started = Date.now();
        await assert.rejects(client.canWrite("alice"), (e: Error) => {
            assert.match(e.message, /^GitHub GET \/repos\/\{owner\}\/\{repo\}\/collaborators\/\{username\}\/permission: HTTP 403, rate limited until \d{4}-\d\d-\d\dT[\d:.]+Z \(the agent waits at most 60 s\)$/);
            const until = Date.parse(/until (\S+)/.exec(e.message)![1]!);
            assert.ok(Math.abs(until - (Date.now() + 3600_000)) < 5000);
            return true;
        });
        assert.ok(Date.now() - started < 2000, "did not wait an hour");
        assert.ok(logs.some((l) => /rate limit, retrying in \d+ s/.test(l)), logs.join("\n"));
        assert.ok(logs.some((l) => /secondary rate limit, retrying in 1 s/.test(l)), logs.join("\n"));
        // Log lines name the route template, never the URL.
        for (const l of logs) assert.match(l, /^GitHub GET \/repos\/\{owner\}\/\{repo\}\/collaborators\/\{username\}\/permission: /);
        await finish(double);
    });

    it("reads the token for every request: a rotated token is sent at once, and its identity asked again", async () => {
        const { double } = await setup();
        double.pulls.push(pr(2));
        double.addUser("rotated-token-0000000000", "preview-agent-2");
        let current = TOKEN;
        const client = gitHub({ repository: `${double.owner}/${double.repo}`, token: () => current, baseUrl: double.url });
        await client.openPullRequests("main");
        await client.upsertComment(2, MARKER, "one");
        current = "rotated-token-0000000000";
        await client.openPullRequests("main");
        const { created } = await client.upsertComment(2, MARKER, "two");
        assert.equal(created, true, "the new identity has no comment yet");
        const auth = double.requests.map((r) => `${r.operationId} ${r.authorization}`);
        assert.deepEqual(auth, [
            `pulls/list Bearer ${TOKEN}`,
            `users/get-authenticated Bearer ${TOKEN}`,
            `issues/list-comments Bearer ${TOKEN}`,
            `issues/create-comment Bearer ${TOKEN}`,
            "pulls/list Bearer rotated-token-0000000000",
            "users/get-authenticated Bearer rotated-token-0000000000",
            "issues/list-comments Bearer rotated-token-0000000000",
            "issues/create-comment Bearer rotated-token-0000000000",
        ]);
        await finish(double);
    });

    it("the token appears in no error, no log line and no inspected error, whatever fails", async () => {
        const { double, client, logs } = await setup({ retries: 0 });
        double.pulls.push(pr(1));
        const errors: unknown[] = [];
        const fail = (p: Promise<unknown>) => p.then(() => assert.fail("expected a rejection"), (e) => errors.push(e));
        double.failNext(1, 502);
        await fail(client.openPullRequests("main"));
        double.failNext(1, 500);
        await fail(client.setStatus(SHA, { state: "error", context: "c", description: "d" }));
        double.rateLimitNext({ kind: "primary", resetSeconds: 3600 });
        await fail(client.canWrite("alice"));
        const wrong = gitHub({ repository: `${double.owner}/${double.repo}`, token: () => `${TOKEN}-revoked`, baseUrl: double.url, log: (l) => logs.push(l) });
        await fail(wrong.upsertComment(1, MARKER, "x"));
        const broken = gitHub({ repository: `${double.owner}/${double.repo}`, token: () => `${TOKEN}\r\nx-injected: 1`, baseUrl: double.url, log: (l) => logs.push(l) });
        await fail(broken.openPullRequests("main"));
        assert.throws(() => gitHub({ repository: "acme/app", token: () => TOKEN, baseUrl: `https://x-access-token:${TOKEN}@api.github.com` }), (e: Error) => !e.message.includes(TOKEN));
        assert.equal(errors.length, 5);
        const messages = errors.map((e) => (e as Error).message);
        assert.match(messages[3]!, /HTTP 401 \(Bad credentials\)/);
        assert.match(messages[4]!, /token is empty or holds characters an HTTP header cannot carry/);
        for (const e of errors) {
            const text = `${inspect(e, { depth: 10, showHidden: true })}\n${JSON.stringify(e)}\n${(e as Error).stack}`;
            assert.ok(!text.includes(TOKEN) && !text.includes("Zq7Secret"), text);
            assert.ok(!/127\.0\.0\.1|http:/.test((e as Error).message), (e as Error).message);
            assert.ok((e as Error).message.length < 200, (e as Error).message);
        }
        assert.ok(!logs.join("\n").includes("Zq7Secret"));
        await double.close();
    });

    it("refuses a bad repository or base URL at once, naming the value", () => {
        for (const bad of ["acme", "acme/app/extra", "/app", "acme/", "-acme/app", "acme/..", "acme/a b", "acme/app?x"]) {
            assert.throws(() => gitHub({ repository: bad, token: () => TOKEN }), (e: Error) => e.message.includes(JSON.stringify(bad)) && /not owner\/name/.test(e.message));
        }
        assert.throws(() => gitHub({ repository: "acme/app", token: () => TOKEN, baseUrl: "ftp://x" }), /must be http\(s\)/);
        assert.throws(() => gitHub({ repository: "acme/app", token: () => TOKEN, baseUrl: "not a url" }), /not a URL/);
    });

    it("runs from the agent's CommonJS build, Octokit loaded through require(esm)", async () => {
        const { double } = await setup();
        double.permissions.set("alice", "write");
        // Transpiled as tsconfig.agent.json compiles it (CommonJS), into a folder inside the
        // repository so that require finds node_modules as the image's /app does.
        const options = ts.convertCompilerOptionsFromJson({ ...JSON.parse(fs.readFileSync(path.join(ROOT, "tsconfig.json"), "utf8")).compilerOptions, sourceMap: false }, ROOT).options;
        const dir = fs.mkdtempSync(path.join(ROOT, "node_modules", ".github-cjs-"));
        after(() => fs.rmSync(dir, { recursive: true, force: true }));
        // github.ts and the project's modules it requires, each where the build puts it.
        const pending = ["agent/github.ts"];
        for (const done = new Set<string>(); pending.length > 0; ) {
            const rel = pending.pop()!;
            if (done.has(rel)) continue;
            done.add(rel);
            const js = ts.transpileModule(fs.readFileSync(path.join(ROOT, rel), "utf8"), { compilerOptions: options }).outputText;
            if (rel === "agent/github.ts") assert.match(js, /require\("@octokit\/core"\)/);
            for (const [, spec] of js.matchAll(/require\("(\.{1,2}\/[^"]+)"\)/g)) pending.push(path.join(path.dirname(rel), `${spec}.ts`));
            fs.mkdirSync(path.join(dir, path.dirname(rel)), { recursive: true });
            fs.writeFileSync(path.join(dir, rel.replace(/\.ts$/, ".js")), js);
        }
        const script = `require(${JSON.stringify(path.join(dir, "agent", "github.js"))}).gitHub({ repository: process.argv[1], token: () => process.env.T, baseUrl: process.argv[2] }).canWrite("alice").then((v) => console.log(JSON.stringify(v)))`;
        const { stdout, stderr } = await promisify(execFile)(process.execPath, ["-e", script, `${double.owner}/${double.repo}`, double.url], { env: { PATH: process.env.PATH, T: TOKEN } });
        assert.equal(stdout.trim(), "true");
        assert.equal(stderr, "", "no warning from require(esm)");
        await finish(double);
    });
});

describe("agent/github.ts pure helpers (property tests)", () => {
    const markers = fc.stringMatching(/^[a-z0-9:.]{1,40}$/).map((s) => `<!-- openfaas-gitops-preview:${s} -->`);
    /** Bodies from short to well past the limit, cheaply: a random piece repeated to a random length. */
    const bodies = fc.tuple(fc.string({ unit: "binary", minLength: 1, maxLength: 20 }), fc.integer({ min: 0, max: 80_000 })).map(([piece, n]) => piece.repeat(Math.ceil(n / piece.length)).slice(0, n));

    it("a comment whose quoted text holds the marker of another stack is not that stack's: it writes its own", async () => {
        const { double, client } = await setup();
        double.pulls.push(pr(5));
        const prod = "<!-- openfaas-gitops-preview:prod -->";
        const staging = "<!-- openfaas-gitops-preview:staging -->";
        try {
            await client.upsertComment(5, prod, `${prod}\nprod's preview, quoting the program: ${staging}`);
            const second = await client.upsertComment(5, staging, `${staging}\nstaging's preview`);
            assert.equal(second.created, true, "staging's own comment, not prod's edited");
            assert.ok(double.comments.find((c) => c.issue === 5 && c.body.startsWith(prod))?.body.includes("prod's preview"), "prod's comment is untouched");
        } finally {
            await finish(double);
        }
    });

    it("commentBody: at most 65536 characters, opening with the marker (a marker inside is quoted text), unchanged when it fits, never half a surrogate pair before the note", () => {
        fc.assert(
            fc.property(bodies, markers, fc.nat(), fc.boolean(), (body, marker, at, withMarker) => {
                const input = withMarker ? body.slice(0, at % (body.length + 1)) + marker + body.slice(at % (body.length + 1)) : body;
                const out = commentBody(input, marker);
                assert.ok(out.length <= MAX_COMMENT_BODY);
                assert.ok(out.startsWith(marker));
                const marked = input.startsWith(marker) ? input : `${marker}\n${input}`;
                if (marked.length <= MAX_COMMENT_BODY) assert.equal(out, marked);
                else {
                    assert.ok(out.endsWith(CUT_NOTE));
                    assert.ok(!/[\uD800-\uDBFF]$/.test(out.slice(0, -CUT_NOTE.length)));
                }
            }),
            { numRuns: 150 },
        );
        assert.throws(() => commentBody("x", "not a marker"), /not a one-line HTML comment/);
        assert.throws(() => commentBody("x", "<!-- a -- b -->"), /not a one-line HTML comment/);
    });

    it("statusDescription: at most 140 characters, the text itself when it fits, else its start and …", () => {
        fc.assert(
            fc.property(fc.string({ unit: "binary", maxLength: 400 }), (d) => {
                const out = statusDescription(d);
                assert.ok(out.length <= MAX_STATUS_DESCRIPTION);
                if (d.length <= MAX_STATUS_DESCRIPTION) assert.equal(out, d);
                else assert.ok(out.endsWith("…") && d.startsWith(out.slice(0, -1)));
            }),
        );
    });

    it("parseRepository: owner/name round-trips; anything else is refused naming the value", () => {
        const owner = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9-]{0,38}$/);
        const name = fc.stringMatching(/^[A-Za-z0-9._-]{1,100}$/).filter((n) => n !== "." && n !== "..");
        fc.assert(fc.property(owner, name, (o, n) => assert.deepEqual(parseRepository(`${o}/${n}`), { owner: o, repo: n })));
        fc.assert(
            fc.property(fc.string({ maxLength: 120 }), (s) => {
                let parsed: { owner: string; repo: string } | undefined;
                try {
                    parsed = parseRepository(s);
                } catch (e) {
                    assert.ok((e as Error).message.includes(JSON.stringify(s.slice(0, 200))));
                    return;
                }
                assert.equal(`${parsed.owner}/${parsed.repo}`, s);
                assert.ok(!/[\s?#%\\]/.test(s));
            }),
        );
    });

    it("failureMessage: short, one line, whatever GitHub's answer says", () => {
        fc.assert(
            fc.property(fc.constantFrom("GET", "POST", "PATCH"), fc.integer({ min: 400, max: 599 }), fc.string({ unit: "binary", maxLength: 2000 }), fc.option(fc.nat()), (method, status, said, reset) => {
                const headers: Record<string, string> = reset === null ? {} : { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(reset) };
                const m = failureMessage(method, "/repos/{owner}/{repo}/pulls", { response: { status, headers, data: { message: said } } }, 0);
                assert.ok(m.length <= 400 && !/[\r\n]/.test(m), m);
                assert.ok(m.startsWith(`GitHub ${method} /repos/{owner}/{repo}/pulls: HTTP ${status}`));
            }),
        );
    });
});
