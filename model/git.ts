/**
 * Git repository facts shared by the agent and Flux: which SSH host a repository URL names, and the
 * pinned host keys both connect with (never trusted on first use).
 */

/** GitHub's published ed25519 host key: the pinned known_hosts of repositories on github.com. */
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
