/**
 * TEST DOUBLE of GitHub's REST API (api.github.com), on loopback: GitHub itself cannot be reached
 * from these machines. It serves exactly the operations agent/github.ts calls, from in-memory state
 * (pull requests, permissions, users and their tokens, statuses, comments), with Link-header
 * pagination as GitHub writes it.
 *
 * What keeps it honest is GitHub's published OpenAPI description (the `@octokit/openapi` package,
 * `generated/api.github.com.json`): every request's path parameters, query parameters and JSON body
 * are validated against the operation's description (a mismatch answers 422 and is recorded as
 * invalid), and every answer it gives is validated against the operation's response schema
 * (recorded as `responseProblems`), so a test can assert that the client asked what GitHub accepts
 * and the double answered what GitHub would. Answers are built from the description's own examples
 * with the state's values put in. Rules GitHub enforces beyond the schema (a 140-character status
 * description, a 65536-character comment body, per_page at most 100) are enforced here too.
 *
 * Every request is recorded with its client's address, and it listens on 127.0.0.1 only.
 */
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import Ajv, { ErrorObject, ValidateFunction } from "ajv";

/** The operations the double implements (method, GitHub's path template). */
export const OPERATIONS = [
    ["get", "/repos/{owner}/{repo}/pulls"],
    ["get", "/repos/{owner}/{repo}/collaborators/{username}/permission"],
    ["post", "/repos/{owner}/{repo}/statuses/{sha}"],
    ["get", "/repos/{owner}/{repo}/issues/{issue_number}/comments"],
    ["post", "/repos/{owner}/{repo}/issues/{issue_number}/comments"],
    ["patch", "/repos/{owner}/{repo}/issues/comments/{comment_id}"],
    ["get", "/user"],
    ["get", "/repos/{owner}/{repo}/tarball/{ref}"],
] as const;

/** The description file: api.github.com (not GHES/GHEC), with $refs kept (a third of the dereferenced size). */
export const OPENAPI_FILE = require.resolve("@octokit/openapi/generated/api.github.com.json");

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

interface Operation {
    readonly method: string;
    readonly template: string;
    readonly operationId: string;
    readonly pattern: RegExp;
    readonly pathNames: readonly string[];
    readonly queryNames: ReadonlySet<string>;
    readonly validatePath: ValidateFunction;
    readonly validateQuery: ValidateFunction;
    readonly validateBody?: ValidateFunction;
    readonly validateResponse: ReadonlyMap<number, ValidateFunction>;
}

interface Description {
    readonly version: string;
    readonly operations: readonly Operation[];
    readonly examples: Readonly<Record<string, Json>>;
}

let loaded: Description | undefined;

/**
 * The description, read once per process (13 MB of JSON), reduced to the operations above and the
 * components they reach, and compiled with ajv.
 */
export function description(): Description {
    if (loaded) return loaded;
    const spec = JSON.parse(fs.readFileSync(OPENAPI_FILE, "utf8"));
    const resolve = (ref: string): Json => ref.slice(2).split("/").reduce((o: Json, k) => o[k], spec);
    const components: Record<string, Record<string, Json>> = {};
    const reach = (node: Json): void => {
        if (Array.isArray(node)) return node.forEach(reach);
        if (!node || typeof node !== "object") return;
        if (typeof node.$ref === "string" && node.$ref.startsWith("#/components/")) {
            const [, , kind, name] = node.$ref.split("/");
            if (!components[kind]?.[name]) {
                (components[kind] ??= {})[name] = resolve(node.$ref);
                reach(components[kind][name]);
            }
        }
        for (const v of Object.values(node)) reach(v);
    };
    const ID = "https://github-double.test/openapi.json";
    const doc: Json = { $id: ID, components, ops: {} };
    const deref = (x: Json): Json => (x?.$ref ? deref(resolve(x.$ref)) : x);
    const objectSchema = (params: Json[]) => ({
        type: "object",
        properties: Object.fromEntries(params.map((p) => [p.name, p.schema])),
        required: params.filter((p) => p.required).map((p) => p.name),
        // A parameter GitHub does not define is a client mistake (GitHub would ignore it silently).
        additionalProperties: false,
    });
    const shapes = OPERATIONS.map(([method, template]) => {
        const op = spec.paths[template][method];
        reach(op);
        const params: Json[] = (op.parameters ?? []).map(deref);
        // ajv does not resolve an escaped "/" (~1) in a $ref fragment: keys are plain words.
        const key = op.operationId.replace(/\W/g, "_");
        doc.ops[key] = {
            path: objectSchema(params.filter((p) => p.in === "path")),
            query: objectSchema(params.filter((p) => p.in === "query")),
            ...(op.requestBody ? { body: deref(op.requestBody).content["application/json"].schema } : {}),
            responses: Object.fromEntries(
                Object.entries(op.responses as Record<string, Json>)
                    .map(([code, r]) => [code, deref(r).content?.["application/json"]?.schema])
                    .filter(([, s]) => s),
            ),
        };
        return { method: method.toUpperCase(), template, op, key, params };
    });
    const options = { strict: false, allErrors: true, validateFormats: false } as const;
    // Parameters arrive as text: their ajv converts "100" to the integer the description asks for.
    const paramsAjv = new Ajv({ ...options, coerceTypes: true });
    const bodyAjv = new Ajv(options);
    paramsAjv.addSchema(doc);
    bodyAjv.addSchema(doc);
    const ref = (a: Ajv, p: string) => a.compile({ $ref: `${ID}#/ops/${p}` });
    const operations = shapes.map(({ method, template, op, key, params }): Operation => {
        const pathNames = [...template.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
        const multi = new Set(params.filter((p) => p["x-multi-segment"]).map((p) => p.name));
        const source = template.replace(/\{(\w+)\}/g, (_, n: string) => (multi.has(n) ? "(.+)" : "([^/]+)"));
        return {
            method,
            template,
            operationId: op.operationId,
            pattern: new RegExp(`^${source}$`),
            pathNames,
            queryNames: new Set(params.filter((p) => p.in === "query").map((p) => p.name)),
            validatePath: ref(paramsAjv, `${key}/path`),
            validateQuery: ref(paramsAjv, `${key}/query`),
            ...(doc.ops[key].body ? { validateBody: ref(bodyAjv, `${key}/body`) } : {}),
            validateResponse: new Map(Object.keys(doc.ops[key].responses).map((code) => [Number(code), ref(bodyAjv, `${key}/responses/${code}`)])),
        };
    });
    const examples = Object.fromEntries(
        ["pull-request-simple-items", "issue-comment", "status", "repository-collaborator-permission-response-if-user-has-admin-permissions", "private-user-response-with-public-and-private-profile-information"].map((k) => [k, spec.components.examples[k].value]),
    );
    loaded = { version: spec.info.version, operations, examples };
    return loaded;
}

const problems = (errors: ErrorObject[] | null | undefined, where: string): string[] =>
    (errors ?? []).map((e) => `${where}${e.instancePath || ""} ${e.message ?? "invalid"}${e.params && "additionalProperty" in e.params ? ` (${String(e.params.additionalProperty)})` : ""}`);

export type Role = "admin" | "maintain" | "write" | "triage" | "read";

export interface DoublePullRequest {
    readonly number: number;
    readonly headSha: string;
    /** owner/name of the head's repository (a fork's, or the base's own). */
    readonly headRepository: string;
    readonly headRef?: string;
    readonly baseRef: string;
    readonly author: string;
    readonly labels?: readonly string[];
    readonly draft?: boolean;
    readonly state?: "open" | "closed";
}

export interface DoubleUser {
    readonly login: string;
    readonly id: number;
}

export interface DoubleComment {
    readonly id: number;
    readonly issue: number;
    body: string;
    readonly user: DoubleUser;
    readonly createdAt: string;
    updatedAt: string;
}

export interface DoubleStatus {
    readonly sha: string;
    readonly state: string;
    readonly context: string;
    readonly description: string | null;
    readonly targetUrl: string | null;
    readonly creator: DoubleUser;
}

export interface RecordedRequest {
    readonly method: string;
    /** The request target as sent. */
    readonly target: string;
    /** The operation it matched, if any (as in the description: `issues/create-comment`). */
    readonly operationId?: string;
    readonly authorization?: string;
    readonly body?: Json;
    readonly remoteAddress: string;
    readonly status: number;
    /** Why the request does not match GitHub's description; empty when it does. */
    readonly invalid: string[];
    /** Why the double's answer does not match the description's response schema; empty when it does. */
    readonly responseProblems: string[];
}

/** The rate-limit answers GitHub gives. */
export type RateLimit = { readonly kind: "primary"; readonly resetSeconds: number } | { readonly kind: "secondary"; readonly retryAfterSeconds: number };

export class GitHubDouble {
    readonly requests: RecordedRequest[] = [];
    /** Addresses of every TCP connection accepted. */
    readonly connections: string[] = [];
    readonly pulls: DoublePullRequest[] = [];
    readonly permissions = new Map<string, Role>();
    /** token -> user, for GET /user and as the author of what the token writes. */
    readonly tokens = new Map<string, DoubleUser>();
    readonly statuses: DoubleStatus[] = [];
    readonly comments: DoubleComment[] = [];
    /** Source archives by commit, served as codeload serves them after the tarball redirect. */
    readonly archives = new Map<string, Buffer>();
    private failures: { count: number; status: number } = { count: 0, status: 502 };
    private limits: RateLimit[] = [];
    private nextId = 1000;

    private constructor(
        private readonly server: http.Server,
        readonly url: string,
        readonly owner: string,
        readonly repo: string,
    ) {}

    /** Starts the double for the repository `owner/repo` on 127.0.0.1 (an ephemeral port). */
    static async start(repository: string): Promise<GitHubDouble> {
        const [owner, repo] = repository.split("/") as [string, string];
        description();
        const server = http.createServer();
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        const port = (server.address() as net.AddressInfo).port;
        const double = new GitHubDouble(server, `http://127.0.0.1:${port}`, owner, repo);
        server.on("connection", (s) => double.connections.push(s.remoteAddress ?? ""));
        server.on("request", (req, res) => double.handle(req, res));
        return double;
    }

    /**
     * The double as the preview tests meet GitHub: the agent's bot reached with `token`, alice who
     * may write to the repository, mallory who may only read it.
     */
    static async forPreviews(repository: string, token: string): Promise<GitHubDouble> {
        const double = await GitHubDouble.start(repository);
        double.addUser(token, "openfaas-gitops-agent[bot]");
        double.permissions.set("alice", "write");
        double.permissions.set("mallory", "read");
        return double;
    }

    /** The next `count` requests answer `status` (a 502 as GitHub's front end gives in an outage). */
    failNext(count: number, status = 502): void {
        this.failures = { count, status };
    }

    /** The next request answers this rate limit (queued: one answer per call). */
    rateLimitNext(limit: RateLimit): void {
        this.limits.push(limit);
    }

    /** A user the double knows, reached with `token`. */
    addUser(token: string, login: string): DoubleUser {
        const user = { login, id: this.nextId++ };
        this.tokens.set(token, user);
        return user;
    }

    /** A comment written by `user` (e.g. another user's, planted with the agent's marker). */
    addComment(issue: number, user: DoubleUser, body: string): DoubleComment {
        const at = new Date().toISOString().replace(/\.\d+Z$/, "Z");
        const c = { id: this.nextId++, issue, body, user, createdAt: at, updatedAt: at };
        this.comments.push(c);
        return c;
    }

    /** Requests that did not match the description, and answers of the double that did not. */
    invalid(): RecordedRequest[] {
        return this.requests.filter((r) => r.invalid.length > 0 || r.responseProblems.length > 0);
    }

    close(): Promise<void> {
        this.server.closeAllConnections();
        return new Promise((resolve) => this.server.close(() => resolve()));
    }

    private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
            // codeload.github.com, where the tarball operation redirects: no REST operation, no token needed (the URL is the grant).
            const codeload = /^\/_codeload\/[^/]+\/[^/]+\/legacy\.tar\.gz\/([0-9a-f]{40})$/.exec(new URL(req.url ?? "/", this.url).pathname);
            if (codeload) {
                const bytes = this.archives.get(codeload[1]!);
                this.requests.push({ method: req.method ?? "", target: req.url ?? "", remoteAddress: req.socket.remoteAddress ?? "", status: bytes ? 200 : 404, invalid: [], responseProblems: [] });
                // As codeload does: made while sent, so chunked, with no length to check first.
                res.writeHead(bytes ? 200 : 404, { "content-type": "application/x-gzip", "transfer-encoding": "chunked" });
                if (bytes) for (let at = 0; at < bytes.length; at += 64 * 1024) res.write(bytes.subarray(at, at + 64 * 1024));
                res.end();
                return;
            }
            const raw = Buffer.concat(chunks).toString("utf8");
            const answer = this.answer(req, raw);
            const headers = { "content-type": "application/json; charset=utf-8", ...answer.headers };
            this.requests.push({
                method: req.method ?? "",
                target: req.url ?? "",
                ...(answer.op ? { operationId: answer.op.operationId } : {}),
                ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
                ...(answer.requestBody !== undefined ? { body: answer.requestBody } : {}),
                remoteAddress: req.socket.remoteAddress ?? "",
                status: answer.status,
                invalid: answer.invalid,
                responseProblems: answer.op && answer.body !== undefined ? this.checkResponse(answer.op, answer.status, answer.body) : [],
            });
            res.writeHead(answer.status, headers).end(answer.body === undefined ? "" : JSON.stringify(answer.body));
        });
    }

    private checkResponse(op: Operation, status: number, body: Json): string[] {
        const validate = op.validateResponse.get(status);
        // Error answers (GitHub's basic-error) are described only for some codes; only the
        // described ones are checked.
        if (!validate) return status < 300 ? [`no ${status} answer in the description of ${op.operationId}`] : [];
        return validate(body) ? [] : problems(validate.errors, `response ${status}`);
    }

    private answer(req: http.IncomingMessage, raw: string): { status: number; body?: Json; headers?: Record<string, string>; op?: Operation; invalid: string[]; requestBody?: Json } {
        const url = new URL(req.url ?? "/", this.url);
        const method = req.method ?? "";
        const segments = url.pathname;
        let params: Record<string, string> | undefined;
        const op = description().operations.find((o) => {
            if (o.method !== method) return false;
            const m = o.pattern.exec(segments);
            if (!m) return false;
            params = Object.fromEntries(o.pathNames.map((n, i) => [n, decodeURIComponent(m[i + 1]!)]));
            return true;
        });
        if (!op || !params) return { status: 404, body: { message: "Not Found" }, invalid: [`${method} ${url.pathname} is no operation the double implements`] };
        const invalid: string[] = [];
        const pathValues: Record<string, unknown> = { ...params };
        if (!op.validatePath(pathValues)) invalid.push(...problems(op.validatePath.errors, "path"));
        const query: Record<string, unknown> = {};
        for (const [k, v] of url.searchParams) {
            if (k in query) invalid.push(`query ${k} given twice`);
            query[k] = v;
        }
        if (!op.validateQuery(query)) invalid.push(...problems(op.validateQuery.errors, "query"));
        let body: Json;
        if (op.validateBody) {
            try {
                body = JSON.parse(raw);
            } catch {
                return { status: 400, body: { message: "Problems parsing JSON" }, op, invalid: ["body is not JSON"] };
            }
            if (!op.validateBody(body)) invalid.push(...problems(op.validateBody.errors, "body"));
            if (!/^application\/json/.test(req.headers["content-type"] ?? "")) invalid.push(`content-type ${req.headers["content-type"]} is not JSON`);
        } else if (raw) invalid.push("a body where the operation takes none");
        if (typeof query.per_page === "number" && query.per_page > 100) invalid.push("query per_page over GitHub's 100");
        if (invalid.length) return { status: 422, body: { message: "Validation Failed", errors: invalid }, op, invalid, requestBody: body };

        const user = this.tokens.get((req.headers.authorization ?? "").replace(/^(?:Bearer|token) /, ""));
        if (!user) return { status: 401, body: { message: "Bad credentials", documentation_url: "https://docs.github.com/rest" }, op, invalid, requestBody: body };
        const limit = this.limits.shift();
        if (limit) return { ...this.rateLimited(limit), op, invalid, requestBody: body };
        if (this.failures.count > 0) {
            this.failures.count--;
            // GitHub's front end answers an outage with an HTML page, not JSON.
            return { status: this.failures.status, headers: { "content-type": "text/html" }, op, invalid, requestBody: body };
        }
        if (op.template !== "/user" && (pathValues.owner !== this.owner || pathValues.repo !== this.repo)) return { status: 404, body: { message: "Not Found" }, op, invalid, requestBody: body };
        return { ...this.serve(op, pathValues, query, body, user, url), op, invalid, requestBody: body };
    }

    private rateLimited(limit: RateLimit): { status: number; body: Json; headers: Record<string, string> } {
        if (limit.kind === "secondary") {
            return {
                status: 429,
                headers: { "retry-after": String(limit.retryAfterSeconds) },
                body: { message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.", documentation_url: "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api" },
            };
        }
        const reset = Math.ceil(Date.now() / 1000) + limit.resetSeconds;
        return {
            status: 403,
            headers: { "x-ratelimit-limit": "5000", "x-ratelimit-remaining": "0", "x-ratelimit-used": "5000", "x-ratelimit-reset": String(reset), "x-ratelimit-resource": "core" },
            body: { message: "API rate limit exceeded for user ID 1.", documentation_url: "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api" },
        };
    }

    private serve(op: Operation, p: Record<string, Json>, q: Record<string, Json>, body: Json, me: DoubleUser, url: URL): { status: number; body?: Json; headers?: Record<string, string> } {
        switch (op.operationId) {
            case "users/get-authenticated":
                return { status: 200, body: { ...this.example("private-user-response-with-public-and-private-profile-information"), ...this.simpleUser(me) } };
            case "pulls/list": {
                const open = this.pulls.filter((pr) => (pr.state ?? "open") === (q.state ?? "open") && (q.base === undefined || pr.baseRef === q.base));
                return this.page(open.map((pr) => this.pull(pr)), q, url);
            }
            case "repos/get-collaborator-permission-level": {
                const role = this.permissions.get(String(p.username).toLowerCase());
                if (!role) return { status: 404, body: { message: `${p.username} is not a user`, documentation_url: "https://docs.github.com/rest" } };
                // The legacy `permission` folds maintain into write and triage into read.
                const permission = role === "maintain" ? "write" : role === "triage" ? "read" : role;
                const example = this.example("repository-collaborator-permission-response-if-user-has-admin-permissions");
                return { status: 200, body: { ...example, permission, role_name: role, user: { ...example.user, ...this.simpleUser({ login: p.username, id: 1 }), role_name: role } } };
            }
            case "repos/create-commit-status": {
                if (body.description && [...body.description].length > 140) return this.unprocessable("description is too long (maximum is 140 characters)");
                const status: DoubleStatus = { sha: p.sha, state: body.state, context: body.context ?? "default", description: body.description ?? null, targetUrl: body.target_url ?? null, creator: me };
                this.statuses.push(status);
                const id = this.nextId++;
                const example = this.example("status");
                return {
                    status: 201,
                    headers: { location: `${this.url}/repos/${this.owner}/${this.repo}/statuses/${p.sha}` },
                    body: { ...example, id, url: `${this.url}/repos/${this.owner}/${this.repo}/statuses/${p.sha}`, state: status.state, description: status.description, target_url: status.targetUrl, context: status.context, creator: { ...example.creator, ...this.simpleUser(me) } },
                };
            }
            case "issues/list-comments": {
                if (!this.pulls.some((pr) => pr.number === p.issue_number)) return { status: 404, body: { message: "Not Found" } };
                return this.page(this.comments.filter((c) => c.issue === p.issue_number).map((c) => this.comment(c)), q, url);
            }
            case "issues/create-comment": {
                if (!this.pulls.some((pr) => pr.number === p.issue_number)) return { status: 404, body: { message: "Not Found" } };
                if ([...body.body].length > 65536) return this.unprocessable("Body is too long (maximum is 65536 characters)");
                const c = this.addComment(p.issue_number, me, body.body);
                return { status: 201, headers: { location: `${this.url}/repos/${this.owner}/${this.repo}/issues/comments/${c.id}` }, body: this.comment(c) };
            }
            case "repos/download-tarball-archive": {
                if (!this.archives.has(p.ref)) return { status: 404, body: { message: "Not Found" } };
                return { status: 302, headers: { location: `${this.url}/_codeload/${this.owner}/${this.repo}/legacy.tar.gz/${p.ref}` } };
            }
            case "issues/update-comment": {
                const c = this.comments.find((x) => x.id === p.comment_id);
                if (!c) return { status: 404, body: { message: "Not Found" } };
                if ([...body.body].length > 65536) return this.unprocessable("Body is too long (maximum is 65536 characters)");
                c.body = body.body;
                c.updatedAt = new Date().toISOString().replace(/\.\d+Z$/, "Z");
                return { status: 200, body: this.comment(c) };
            }
        }
        return { status: 404, body: { message: "Not Found" } };
    }

    private unprocessable(message: string): { status: number; body: Json } {
        return { status: 422, body: { message: "Validation Failed", errors: [{ resource: "Request", code: "custom", message }] } };
    }

    /** One page of `items` with GitHub's Link header (prev, next, last, first: the order GitHub writes). */
    private page(items: Json[], q: Record<string, Json>, url: URL): { status: number; body: Json; headers: Record<string, string> } {
        const perPage = Math.min(Number(q.per_page ?? 30), 100);
        const page = Math.max(Number(q.page ?? 1), 1);
        const last = Math.max(Math.ceil(items.length / perPage), 1);
        const link = (n: number, rel: string) => {
            const u = new URL(url.pathname + url.search, this.url);
            u.searchParams.set("page", String(n));
            return `<${u.href}>; rel="${rel}"`;
        };
        const links = [...(page > 1 ? [link(page - 1, "prev")] : []), ...(page < last ? [link(page + 1, "next"), link(last, "last")] : []), ...(page > 1 ? [link(1, "first")] : [])];
        return { status: 200, body: items.slice((page - 1) * perPage, page * perPage), headers: links.length ? { link: links.join(", ") } : {} };
    }

    private example(name: string): Json {
        return structuredClone(description().examples[name]);
    }

    private simpleUser(u: DoubleUser): Json {
        return { login: u.login, id: u.id, url: `https://api.github.com/users/${u.login}`, html_url: `https://github.com/${u.login}`, type: u.login.endsWith("[bot]") ? "Bot" : "User" };
    }

    private pull(pr: DoublePullRequest): Json {
        const t = this.example("pull-request-simple-items")[0];
        const [headOwner, headName] = pr.headRepository.split("/") as [string, string];
        const author = { ...t.user, ...this.simpleUser({ login: pr.author, id: 1 }) };
        const labelTemplate = t.labels[0];
        return {
            ...t,
            id: pr.number,
            number: pr.number,
            state: pr.state ?? "open",
            title: `pull request ${pr.number}`,
            user: author,
            draft: pr.draft ?? false,
            // The example's team lacks a required field of its own schema; these PRs request no review.
            requested_reviewers: [],
            requested_teams: [],
            labels: (pr.labels ?? []).map((name, i) => ({ ...labelTemplate, id: i + 1, name })),
            head: {
                ...t.head,
                label: `${headOwner}:${pr.headRef ?? `pr-${pr.number}`}`,
                ref: pr.headRef ?? `pr-${pr.number}`,
                sha: pr.headSha,
                user: { ...t.head.user, ...this.simpleUser({ login: headOwner, id: 2 }) },
                repo: { ...t.head.repo, name: headName, full_name: pr.headRepository, fork: pr.headRepository !== `${this.owner}/${this.repo}`, owner: { ...t.head.repo.owner, ...this.simpleUser({ login: headOwner, id: 2 }) } },
            },
            base: {
                ...t.base,
                label: `${this.owner}:${pr.baseRef}`,
                ref: pr.baseRef,
                repo: { ...t.base.repo, name: this.repo, full_name: `${this.owner}/${this.repo}`, owner: { ...t.base.repo.owner, ...this.simpleUser({ login: this.owner, id: 3 }) } },
            },
        };
    }

    private comment(c: DoubleComment): Json {
        const t = this.example("issue-comment");
        return {
            ...t,
            id: c.id,
            url: `https://api.github.com/repos/${this.owner}/${this.repo}/issues/comments/${c.id}`,
            html_url: `https://github.com/${this.owner}/${this.repo}/pull/${c.issue}#issuecomment-${c.id}`,
            issue_url: `https://api.github.com/repos/${this.owner}/${this.repo}/issues/${c.issue}`,
            body: c.body,
            user: { ...t.user, ...this.simpleUser(c.user) },
            created_at: c.createdAt,
            updated_at: c.updatedAt,
        };
    }
}
