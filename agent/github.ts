/**
 * The agent's access to GitHub's REST API for pull-request previews (issue 22): the open pull
 * requests of a branch, whether their author may write to the repository, a commit status on a head,
 * and one comment per stack edited in place.
 *
 * Octokit does the protocol (core, Link-header pagination, retries of 5xx and network errors,
 * GitHub's primary and secondary rate limits); this module bounds it, because the agent runs
 * unattended: every attempt has a deadline, retries and rate-limit waits are counted and capped, and
 * every failure is a short rejected promise (method, route template, status) that never carries the
 * token, a header or a URL. Octokit's packages are ESM-only; the agent's CommonJS build loads them
 * through Node's require(esm).
 */
import * as fs from "node:fs";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { ByteCap } from "./byte-cap";
import { FIELDS, githubApiUrlProblem, settingNames } from "./contract";
import { TooLargeError } from "./errors";
import { Octokit } from "@octokit/core";
import { paginateRest } from "@octokit/plugin-paginate-rest";
import { retry } from "@octokit/plugin-retry";
import { throttling } from "@octokit/plugin-throttling";

export interface PullRequest {
    readonly number: number;
    readonly headSha: string;
    /** owner/name of the head's repository, lowercased; "" when the fork was deleted. */
    readonly headRepository: string;
    readonly baseRef: string;
    /** Login of the author; "" for a deleted account (GitHub's "ghost"). */
    readonly author: string;
    readonly labels: readonly string[];
    readonly draft: boolean;
}

export type StatusState = "pending" | "success" | "failure" | "error";

export interface GitHub {
    /** Open PRs whose base is `base`, all pages, at most `limit` (default 100) PRs. */
    openPullRequests(base: string): Promise<PullRequest[]>;
    /** Whether `login` has write, maintain or admin permission on the repository. */
    canWrite(login: string): Promise<boolean>;
    /** A commit status on `sha` (context = e.g. "openfaas-gitops/preview (prod)"); description cut to GitHub's 140 chars; targetUrl optional. */
    setStatus(sha: string, status: { state: StatusState; context: string; description: string; targetUrl?: string }): Promise<void>;
    /**
     * The one comment of this agent on PR `number` that contains `marker` (an HTML comment like
     * `<!-- openfaas-gitops-preview:prod -->`), edited in place; created if there is none. Bodies over
     * GitHub's 65536 characters are cut, keeping the marker.
     */
    upsertComment(number: number, marker: string, body: string): Promise<{ id: number; created: boolean }>;
    /**
     * Writes the tree of commit `sha` to `file` as GitHub serves it: a gzip'd tar with one directory
     * (`<owner>-<repo>-<sha>`) at its top; more than `maxBytes` is refused. Needs contents: read.
     */
    archive(sha: string, file: string, maxBytes: number): Promise<void>;
}

export interface GitHubOptions {
    /** owner/name of the repository. */
    readonly repository: string;
    /** The token, read for every attempt: tokens rotate (a mounted Secret, an App installation token). */
    readonly token: () => string;
    /** @default "https://api.github.com" (tests pass a loopback URL) */
    readonly baseUrl?: string;
    /** Hears Octokit's warnings and each retry or rate-limit wait; never a token. */
    readonly log?: (line: string) => void;
    /** Retries of a 5xx answer, a network error or a timeout. @default 3 */
    readonly retries?: number;
    /** Most pull requests {@link GitHub.openPullRequests} returns. @default 100 */
    readonly limit?: number;
    /** Deadline of one attempt, in ms. @default 30000 */
    readonly timeoutMs?: number;
}

export const GITHUB_API = "https://api.github.com";
/** GitHub's limits: a status description, a comment body (characters). */
export const MAX_STATUS_DESCRIPTION = 140;
export const MAX_COMMENT_BODY = 65_536;
/** One attempt; GitHub answers in well under a second, a stuck connection must not hold a preview. */
const DEFAULT_TIMEOUT_MS = 30_000;
/** Longest rate-limit wait: a longer reset fails the call, naming the reset time. */
export const MAX_RATE_LIMIT_WAIT_S = 60;
/** Rate-limit waits of one call, so a limit that keeps coming back still ends. */
const MAX_RATE_LIMIT_RETRIES = 2;
const DEFAULT_RETRIES = 3;
export const DEFAULT_LIMIT = 100;
/**
 * Comments read to find this agent's: GitHub lists them oldest first and the agent's is written by
 * the first preview of the PR, so it is near the start; a PR past this many gets a new one.
 */
const MAX_COMMENTS_SCANNED = 1000;
const PER_PAGE = 100;
/** Appended where a comment body was cut. */
export const CUT_NOTE = "\n\n… (cut to GitHub's comment size: the agent's log has the whole output)";

// GitHub's rules for a login (bots end in [bot]) and a repository name.
const LOGIN = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\[bot\])?$/;
const OWNER = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/;
const REPO_NAME = /^[A-Za-z0-9._-]{1,100}$/;
const SHA = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
/** An HTML comment on one line, so it never shows in the rendered comment and cannot end early. */
const MARKER = /^<!--(?:(?!--)[^\n<>]){1,200}-->$/;

/** Pure: `owner/name` split, or an error naming the bad value. */
export function parseRepository(repository: string): { readonly owner: string; readonly repo: string } {
    const parts = typeof repository === "string" ? repository.split("/") : [];
    if (parts.length === 2 && OWNER.test(parts[0]!) && REPO_NAME.test(parts[1]!) && parts[1] !== "." && parts[1] !== "..") {
        return { owner: parts[0]!, repo: parts[1]! };
    }
    throw new Error(`GitHub repository ${JSON.stringify(String(repository).slice(0, 200))} is not owner/name (as in openfaas/faas)`);
}

/** Pure: the first `n` UTF-16 units of `s`, never ending in half of a surrogate pair. */
function head(s: string, n: number): string {
    const cut = s.slice(0, Math.max(0, n));
    return /[\uD800-\uDBFF]$/.test(cut) ? cut.slice(0, -1) : cut;
}

/**
 * Pure: a status description GitHub accepts: at most 140 characters (counted in UTF-16 units, which
 * are never fewer than GitHub's characters), "…" marking a cut.
 */
export function statusDescription(description: string): string {
    return description.length <= MAX_STATUS_DESCRIPTION ? description : `${head(description, MAX_STATUS_DESCRIPTION - 1)}…`;
}

/**
 * Pure: the body to post: it holds `marker` (put first if the body lacks it) and is at most 65536
 * UTF-16 units. A longer body is cut with {@link CUT_NOTE}; a marker past the cut moves to the top.
 */
export function commentBody(body: string, marker: string): string {
    markerProblem(marker);
    // The marker opens the comment: only there is it the agent's own. Quoted text may hold any marker
    // (another stack's), and a comment found by a marker inside it would be another stack's to edit.
    const marked = body.startsWith(marker) ? body : `${marker}\n${body}`;
    if (marked.length <= MAX_COMMENT_BODY) return marked;
    return head(marked, MAX_COMMENT_BODY - CUT_NOTE.length) + CUT_NOTE;
}

function markerProblem(marker: string): void {
    if (!MARKER.test(marker)) throw new Error(`comment marker ${JSON.stringify(String(marker).slice(0, 220))} is not a one-line HTML comment (<!-- ... -->) of at most 200 characters`);
}

/** Why a base URL is refused: fetch puts a URL's credentials nowhere safe, and a path prefix is GitHub Enterprise's /api/v3. */
function checkBaseUrl(baseUrl: string): string {
    const problem = githubApiUrlProblem(baseUrl);
    if (problem) throw new Error(`GitHub baseUrl ${problem}`);
    return new URL(baseUrl).href.replace(/\/$/, "");
}

/** A header value fetch accepts; anything else is refused here, where the message cannot echo it. */
const TOKEN = /^[\x21-\x7e]{1,1024}$/;

/** What a failed call rejects with: short, and free of the token, headers and URLs. */
export class GitHubError extends Error {
    constructor(message: string, readonly status?: number) {
        super(message);
        this.name = "GitHubError";
    }
}

interface OctokitFailure {
    readonly status?: number;
    readonly cause?: { readonly name?: string };
    readonly response?: { readonly status: number; readonly headers: Record<string, string | undefined>; readonly data?: unknown };
}

/** Pure: the short message of a failed call (`route` is the template, never the expanded URL). */
export function failureMessage(method: string, route: string, e: OctokitFailure, now: number, timeoutMs = DEFAULT_TIMEOUT_MS): string {
    const where = `GitHub ${method} ${route}`;
    const res = e.response;
    if (!res) {
        // No answer: network errors and timeouts reach here after Octokit's retries.
        return e.cause?.name === "TimeoutError" ? `${where}: no answer within ${timeoutMs / 1000} s` : `${where}: no answer (network error)`;
    }
    const reset = rateLimitReset(res.headers, now);
    if ((res.status === 403 || res.status === 429) && reset !== undefined) {
        return `${where}: HTTP ${res.status}, rate limited until ${new Date(reset).toISOString()} (the agent waits at most ${MAX_RATE_LIMIT_WAIT_S} s)`;
    }
    const said = typeof (res.data as { message?: unknown } | undefined)?.message === "string" ? (res.data as { message: string }).message : "";
    // GitHub's own message ("Resource not accessible by integration") tells an operator what to fix.
    const clean = said.replace(/[^\x20-\x7e]/g, " ").slice(0, 200);
    return `${where}: HTTP ${res.status}${clean ? ` (${clean})` : ""}`;
}

/** Pure: when a rate limit answered by GitHub ends, in ms since the epoch, if the answer is one. */
export function rateLimitReset(headers: Record<string, string | undefined>, now: number): number | undefined {
    const after = Number(headers["retry-after"]);
    if (headers["retry-after"] !== undefined && Number.isFinite(after)) return now + after * 1000;
    const reset = Number(headers["x-ratelimit-reset"]);
    if (headers["x-ratelimit-remaining"] === "0" && Number.isFinite(reset)) return reset * 1000;
    return undefined;
}

const Client = Octokit.plugin(paginateRest, retry, throttling);
type ClientInstance = InstanceType<typeof Client>;

/** The GitHub access of one repository. Argument errors are thrown at once, naming the bad value. */
export function gitHub(options: GitHubOptions): GitHub {
    const { owner, repo } = parseRepository(options.repository);
    const baseUrl = checkBaseUrl(options.baseUrl ?? GITHUB_API);
    const log = options.log ?? (() => {});
    const limit = options.limit ?? DEFAULT_LIMIT;
    if (!Number.isInteger(limit) || limit < 1) throw new Error(`GitHub limit must be a positive integer, not ${limit}`);
    const retries = options.retries ?? DEFAULT_RETRIES;
    if (!Number.isInteger(retries) || retries < 0 || retries > 10) throw new Error(`GitHub retries must be an integer from 0 to 10, not ${retries}`);
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1) throw new Error(`GitHub timeoutMs must be a positive integer, not ${timeoutMs}`);
    const token = (): string => {
        const t = options.token();
        if (typeof t !== "string" || !TOKEN.test(t)) throw new GitHubError("the GitHub token is empty or holds characters an HTTP header cannot carry");
        return t;
    };
    // Anything Octokit logs goes through here: a token in it would be replaced (none is expected).
    const scrub = (line: string): string => {
        let t = "";
        try {
            t = options.token();
        } catch {
            // an unreadable token cannot be in the line
        }
        return t.length >= 8 ? line.split(t).join("[REDACTED]") : line;
    };
    const say = (line: string) => log(scrub(line));

    const octokit: ClientInstance = new Client({
        baseUrl,
        userAgent: "openfaas-gitops-agent",
        log: { debug: () => {}, info: () => {}, warn: (m: string) => say(`GitHub: ${m}`), error: (m: string) => say(`GitHub: ${m}`) },
        request: {
            // The token and the deadline are set on each attempt (retries included), so a rotated
            // token counts at once, and Octokit's request options never hold it.
            fetch: (url: string, init: RequestInit) => {
                const headers = new Headers(init.headers);
                headers.set("authorization", `Bearer ${token()}`);
                const deadline = AbortSignal.timeout(timeoutMs);
                // A redirect is followed (a renamed repository answers 301); fetch drops the
                // authorization header when one leads to another origin.
                return fetch(url, { ...init, headers, signal: init.signal ? AbortSignal.any([init.signal, deadline]) : deadline });
            },
        },
        retry: {
            retries,
            // 429 is the throttling plugin's (it honours Retry-After); the retry plugin would not.
            doNotRetry: [400, 401, 403, 404, 410, 422, 429, 451],
        },
        throttle: {
            // One set of limiters per repository: the plugin's are process-wide by id.
            id: `${owner}/${repo}`,
            onRateLimit: (after: number, o: { method: string; url: string }, _k: unknown, count: number) => waitOrFail("rate limit", after, o, count),
            onSecondaryRateLimit: (after: number, o: { method: string; url: string }, _k: unknown, count: number) => waitOrFail("secondary rate limit", after, o, count),
        },
    });

    function waitOrFail(kind: string, after: number, o: { method: string; url: string }, count: number): boolean {
        const wait = after <= MAX_RATE_LIMIT_WAIT_S && count < MAX_RATE_LIMIT_RETRIES;
        // o.url is the route template here (Octokit expands it later).
        say(`GitHub ${o.method} ${o.url}: ${kind}, ${wait ? `retrying in ${after} s` : `not waiting ${after} s`}`);
        return wait;
    }

    /** Runs one call; any failure becomes a {@link GitHubError} without the original (its request holds headers). */
    async function call<T>(method: string, route: string, run: () => Promise<T>): Promise<T> {
        // Checked before the first attempt too: a bad token is no outage to retry.
        token();
        try {
            return await run();
        } catch (e) {
            if (e instanceof GitHubError || e instanceof TooLargeError) throw e;
            if ((e as { cause?: unknown }).cause instanceof GitHubError) throw (e as { cause: GitHubError }).cause;
            throw new GitHubError(scrub(failureMessage(method, route, e as OctokitFailure, Date.now(), timeoutMs)), (e as OctokitFailure).response?.status);
        }
    }

    // The identity comments are matched against, per token value (a rotated token may be another
    // identity). For a personal or fine-grained token it is GET /user; a GitHub App installation
    // token cannot read /user and would be matched as the app's bot, "<app slug>[bot]".
    // Ids are compared as strings: Octokit parses one past 2^53 as a bigint.
    let identity: { readonly token: string; readonly id: Promise<string> } | undefined;
    function whoAmI(): Promise<string> {
        const t = token();
        if (identity?.token === t) return identity.id;
        const id = call("GET", "/user", async () => String((await octokit.request("GET /user")).data.id));
        identity = { token: t, id };
        // A failure is not kept: the next call asks again.
        id.catch(() => {
            if (identity?.id === id) identity = undefined;
        });
        return id;
    }

    return {
        async openPullRequests(base) {
            if (typeof base !== "string" || !base) throw new GitHubError("base branch must be a non-empty string");
            const route = "/repos/{owner}/{repo}/pulls";
            return call("GET", route, async () => {
                const out: PullRequest[] = [];
                for await (const page of octokit.paginate.iterator(`GET ${route}`, { owner, repo, state: "open", base, per_page: PER_PAGE })) {
                    for (const pr of page.data) {
                        out.push({
                            number: pr.number,
                            headSha: pr.head.sha,
                            headRepository: (pr.head.repo?.full_name ?? "").toLowerCase(),
                            baseRef: pr.base.ref,
                            author: pr.user?.login ?? "",
                            labels: pr.labels.map((l) => l.name),
                            draft: pr.draft === true,
                        });
                        if (out.length >= limit) return out;
                    }
                }
                return out;
            });
        },

        async canWrite(login) {
            // A login GitHub could not have issued is no collaborator.
            if (typeof login !== "string" || !LOGIN.test(login)) return false;
            const route = "/repos/{owner}/{repo}/collaborators/{username}/permission";
            return call("GET", route, async () => {
                try {
                    const { data } = await octokit.request(`GET ${route}`, { owner, repo, username: login });
                    // `permission` is the legacy level (maintain reads as write, triage as read);
                    // role_name names the role itself.
                    return ["admin", "write"].includes(data.permission) || ["admin", "maintain", "write"].includes(data.role_name);
                } catch (e) {
                    if ((e as OctokitFailure).status === 404) return false;
                    throw e;
                }
            });
        },

        async setStatus(sha, status) {
            if (typeof sha !== "string" || !SHA.test(sha)) throw new GitHubError(`commit ${JSON.stringify(String(sha).slice(0, 80))} is not a full lowercase hex sha`);
            if (!status.context) throw new GitHubError("a commit status needs a context");
            if (status.targetUrl !== undefined && !/^https?:\/\//.test(status.targetUrl)) throw new GitHubError("a commit status target URL must be http(s)");
            const route = "/repos/{owner}/{repo}/statuses/{sha}";
            await call("POST", route, () =>
                octokit.request(`POST ${route}`, {
                    owner,
                    repo,
                    sha,
                    state: status.state,
                    context: status.context,
                    description: statusDescription(status.description),
                    ...(status.targetUrl !== undefined ? { target_url: status.targetUrl } : {}),
                }),
            );
        },

        async archive(sha, file, maxBytes) {
            if (typeof sha !== "string" || !SHA.test(sha)) throw new GitHubError(`commit ${JSON.stringify(String(sha).slice(0, 80))} is not a full lowercase hex sha`);
            const route = "/repos/{owner}/{repo}/tarball/{ref}";
            // Octokit follows the redirect to codeload; the body is taken as a stream (codeload makes the
            // archive as it sends it, with no length), counted as it is written, and cut past the limit.
            const over = () => new TooLargeError(`the source of ${sha.slice(0, 12)} is over the agent's limit of ${maxBytes} bytes packed (${settingNames(FIELDS.artifactMaxBytes)}): it is not previewed`);
            await call("GET", route, async () => {
                const res = await octokit.request(`GET ${route}`, { owner, repo, ref: sha, request: { parseSuccessResponseBody: false } });
                const body = res.data as unknown as import("node:stream/web").ReadableStream<Uint8Array> | null;
                if (Number(res.headers["content-length"]) > maxBytes) {
                    await body?.cancel();
                    throw over();
                }
                const cap = new ByteCap(maxBytes, over);
                try {
                    await pipeline(body ? Readable.fromWeb(body) : Readable.from([]), cap, fs.createWriteStream(file, { mode: 0o600 }));
                } catch (e) {
                    // No part of an archive is left to be taken for the whole.
                    fs.rmSync(file, { force: true });
                    if (e instanceof TooLargeError) throw e;
                    const why = (e as Error).name === "TimeoutError" ? `it did not end within ${timeoutMs / 1000} s` : (e as Error).message;
                    throw new GitHubError(scrub(`the archive of ${sha.slice(0, 12)} broke off after ${cap.bytes} bytes: ${why}`));
                }
            });
        },

        async upsertComment(number, marker, body) {
            if (!Number.isSafeInteger(number) || number < 1) throw new GitHubError(`pull request number ${number} is not a positive integer`);
            const text = commentBody(body, marker);
            const me = await whoAmI();
            const list = "/repos/{owner}/{repo}/issues/{issue_number}/comments";
            const mine = await call("GET", list, async () => {
                let seen = 0;
                for await (const page of octokit.paginate.iterator(`GET ${list}`, { owner, repo, issue_number: number, per_page: PER_PAGE })) {
                    for (const c of page.data) {
                        // Only a comment this identity wrote: a PR author can plant the marker in theirs.
                        if (c.user && String(c.user.id) === me && c.body?.startsWith(marker)) return { id: c.id, body: c.body };
                        if (++seen >= MAX_COMMENTS_SCANNED) return undefined;
                    }
                }
                return undefined;
            });
            if (mine) {
                // An unchanged body is left alone: an edit notifies nobody, but costs a write.
                if (mine.body === text) return { id: Number(mine.id), created: false };
                const edit = "/repos/{owner}/{repo}/issues/comments/{comment_id}";
                await call("PATCH", edit, () => octokit.request(`PATCH ${edit}`, { owner, repo, comment_id: Number(mine.id), body: text }));
                return { id: Number(mine.id), created: false };
            }
            const { data } = await call("POST", list, () => octokit.request(`POST ${list}`, { owner, repo, issue_number: number, body: text }));
            return { id: Number(data.id), created: true };
        },
    };
}
