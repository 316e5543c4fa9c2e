/**
 * Git repository facts shared by the agent, Flux and the stack config: which SSH host a repository
 * URL names, the pinned host keys both connect with (never trusted on first use), what in a URL is a
 * credential (refused in config, redacted from every message), and which branch names and project
 * paths are allowed.
 */
import * as path from "node:path";

/**
 * GitHub's published ed25519 host key (OpenSSH prefers it): the pinned known_hosts of repositories
 * on github.com. The agent refuses any other key, so a spoofed or changed host is an error, never
 * trusted on first use.
 */
export const GITHUB_KNOWN_HOSTS = "github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n";

/** Pure: the host (and a port other than 22) of an ssh git URL; undefined for https and file URLs. */
export function sshHost(url: string): { readonly host: string; readonly port?: number } | undefined {
    const full = /^ssh:\/\/(?:[^@/]+@)?(\[[^\]]+\]|[^:/]+)(?::(\d+))?\//.exec(url);
    if (full) {
        const port = full[2] ? Number(full[2]) : undefined;
        return { host: full[1]!.replace(/^\[|\]$/g, ""), ...(port && port !== 22 ? { port } : {}) };
    }
    const scp = /^[\w.-]+@([\w.-]+):/.exec(url);
    return scp ? { host: scp[1]! } : undefined;
}

/** True for URLs fetched over ssh (so with the deploy key and the pinned known_hosts). */
export function isSshUrl(url: string): boolean {
    return sshHost(url) !== undefined;
}

/** How known_hosts names a host: `host`, or `[host]:port` for another port. */
export function knownHostsName(h: { readonly host: string; readonly port?: number }): string {
    return h.port ? `[${h.host}]:${h.port}` : h.host;
}

const KEY_TYPES = "ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521|sk-ssh-ed25519@openssh\\.com|sk-ecdsa-sha2-nistp256@openssh\\.com";
/** One known_hosts line: an optional marker, host patterns, key type, base64 key, optional comment. */
const LINE = new RegExp(`^(@\\S+\\s+)?(\\S+)\\s+(${KEY_TYPES})\\s+[A-Za-z0-9+/]+={0,2}(\\s.*)?$`);

/** Pure: what is wrong with a known_hosts text for the host of a repository, or undefined. */
export function knownHostsProblem(text: string, h: { readonly host: string; readonly port?: number }): string | undefined {
    const lines = text.split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"));
    if (lines.length === 0) return "has no host key; expected known_hosts lines, e.g. gitlab.com ssh-ed25519 AAAA...";
    const names: string[] = [];
    for (const [i, line] of lines.entries()) {
        const m = LINE.exec(line);
        if (!m) return `line ${i + 1} is not a known_hosts line (<host> <key type> <base64 key>): ${line.slice(0, 60)}`;
        if (!m[1]) names.push(...m[2]!.split(","));
    }
    const name = knownHostsName(h);
    // A hashed entry (|1|salt|hash) or a wildcard pattern may name it; only plain names can be told apart.
    const glob = (p: string) => new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`);
    if (!names.some((n) => n.startsWith("|1|") || glob(n).test(name))) return `has no key for ${name}, the host of agent.repoUrl`;
    return undefined;
}

/** Schemes whose user name is a login name (`ssh://git@host/...`), not a credential. */
const SSH_SCHEMES = new Set(["ssh", "git+ssh", "ssh+git"]);
/** A login name as ssh takes it (the `git` of `git@host:org/repo.git`): it tells nothing secret. */
const LOGIN = /^[\w.-]+$/;

/**
 * Pure: one URL with its credentials replaced by `***`: the whole user information of an http(s),
 * file or git URL (a token is often the user name alone: `https://ghp_...@github.com`), and of an
 * ssh URL unless it is a plain login name. The user information ends at the LAST `@`, not the first:
 * a password holding an unencoded `@` or `/` is cut whole, at the price of over-redacting a URL
 * whose path has an `@`. A scp-like `user:password@host:path` loses `user:password` too.
 */
export function redactUrl(url: string): string {
    const at = url.lastIndexOf("@");
    if (at < 0) return url;
    const scheme = firstScheme(url);
    const start = scheme ? scheme.end : 0;
    if (at < start) return url;
    const userinfo = url.slice(start, at);
    const login = scheme ? SSH_SCHEMES.has(scheme.name.toLowerCase()) && LOGIN.test(userinfo) : !userinfo.includes(":");
    return login ? url : `${url.slice(0, start)}***${url.slice(at)}`;
}

const SCHEME_CHAR = /[A-Za-z0-9+.-]/;
const LETTER = /[A-Za-z]/;

/**
 * Pure: the first `scheme://` in `text` (what /([A-Za-z][A-Za-z0-9+.-]*):\/\// finds: the run of
 * scheme characters before a `://`, from its first letter), and where what follows it starts. In
 * linear time: that regular expression retries from every letter of a word, quadratic in it, and
 * every error and engine log line is redacted (a 1 MB word took minutes, the event loop blocked).
 */
function firstScheme(text: string): { readonly name: string; readonly end: number } | undefined {
    for (let p = text.indexOf("://"); p >= 0; p = text.indexOf("://", p + 1)) {
        let s = p;
        while (s > 0 && SCHEME_CHAR.test(text[s - 1]!)) s--;
        while (s < p && !LETTER.test(text[s]!)) s++;
        if (s < p) return { name: text.slice(s, p), end: p + 3 };
    }
    return undefined;
}

/**
 * Pure: a message (git's output, an error, a log line) with every URL in it redacted
 * ({@link redactUrl}); a URL ends at whitespace, as git and curl print them (quoted or not).
 */
export function redactUrls(text: string): string {
    return text.replace(/\S+/g, redactUrl);
}

/** True when a repository URL carries a credential: a password in any form, or any user of a non-ssh URL. */
export function hasUrlCredentials(url: string): boolean {
    return redactUrl(url) !== url;
}

/**
 * Pure: why `name` is not a branch name git accepts (`git check-ref-format --branch`), with the fix,
 * or undefined. The agent puts it into `refs/heads/<name>` and a fetch refspec, so
 * `main:refs/heads/evil` must never get that far.
 */
export function branchProblem(name: string): string | undefined {
    const why = branchNameFault(name);
    return why && `${why}; expected a branch name git accepts (git check-ref-format --branch), e.g. main`;
}

function branchNameFault(name: string): string | undefined {
    if (name === "") return "is empty";
    if (name.startsWith("-")) return "starts with '-'";
    if (name === "HEAD") return "HEAD is not a branch name";
    if (/[\x00-\x20\x7f:?[\\^~*]/.test(name)) return "contains a space, a control character or one of : ? [ \\ ^ ~ *";
    if (name.includes("..")) return "contains '..'";
    if (name.includes("@{")) return "contains '@{'";
    if (name.endsWith(".")) return "ends with '.'";
    for (const part of name.split("/")) {
        if (part === "") return "has an empty path component (a leading, trailing or double '/')";
        if (part.startsWith(".")) return `has a component starting with '.' (${part})`;
        if (part.endsWith(".lock")) return `has a component ending with '.lock' (${part})`;
    }
    return undefined;
}

/**
 * Pure: why `p` is not a project directory inside the repository, or undefined: it must be relative,
 * normalised (`infra/platform`, not `./infra/` or `a/../b`, so that one directory has one spelling)
 * and stay inside the checkout (no `..`). `.` is the repository's root.
 */
export function projectPathProblem(p: string): string | undefined {
    if (/[\x00-\x1f\x7f]/.test(p)) return "contains a control character";
    if (p.includes("\\")) return "contains '\\'; use '/' between directories";
    if (p.startsWith("/") || /^[A-Za-z]:/.test(p)) return "is absolute; expected a directory relative to the repository's root, e.g. infra/platform or .";
    const normal = path.posix.normalize(p).replace(/\/$/, "");
    if (normal === ".." || normal.startsWith("../")) return "leaves the repository (..); expected a directory inside it, e.g. infra/platform or .";
    if (normal !== p) return `is not normalised; write it as ${normal}`;
    return undefined;
}
