/**
 * An npm registry mirror of one lockfile, served from this host's npm cache: what an air-gapped
 * cluster has in place of the public registry (a mirror named in a committed `.npmrc`, see
 * docs/agent.md, "What the image still needs from the network"). The agent's image carries no
 * dependency cache, so the agent pod on the real node (test/agent-pod.test.ts) installs each
 * checkout's dependencies from here, as it would from a Verdaccio or Artifactory in such a cluster.
 *
 * It serves only what `npm ci` of that lockfile asks for: for each package a packument holding the
 * lockfile's versions (name, version, tarball address and integrity: npm ci takes the tree from the
 * lockfile and asks the registry only where each version's tarball is), and each tarball, read from
 * npm's content-addressed cache (cacache, npm's own library) by the lockfile's integrity, so a byte
 * that does not match is never served. A package the cache lacks is a 404 that names it. Nothing is
 * fetched from anywhere else.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import cacache from "cacache";

/** The lockfile's registry packages: name -> version -> integrity. */
export type LockedPackages = ReadonlyMap<string, ReadonlyMap<string, string>>;

interface LockEntry {
    readonly name?: string;
    readonly version?: string;
    readonly integrity?: string;
    readonly resolved?: string;
    readonly link?: boolean;
}

/**
 * Pure: the registry packages of a lockfile (v2 or v3 `packages`): links (workspaces), the root and
 * entries from git or a file have no integrity from a registry and are left out; an alias entry
 * (`"name"` set) is served under the real package's name.
 */
export function lockedPackages(lockfile: { packages?: Record<string, LockEntry> }): LockedPackages {
    const out = new Map<string, Map<string, string>>();
    for (const [where, entry] of Object.entries(lockfile.packages ?? {})) {
        if (where === "" || entry.link || !entry.version || !entry.integrity) continue;
        if (entry.resolved !== undefined && !/^https?:\/\//.test(entry.resolved)) continue;
        const name = entry.name ?? where.slice(where.lastIndexOf("node_modules/") + "node_modules/".length);
        const versions = out.get(name) ?? new Map<string, string>();
        versions.set(entry.version, entry.integrity);
        out.set(name, versions);
    }
    return out;
}

/** The tarball file name the public registry uses: `<name without scope>-<version>.tgz`. */
const tarballFile = (name: string, version: string) => `${name.slice(name.lastIndexOf("/") + 1)}-${version}.tgz`;

/** What a request path asks for: a packument (`/name`, `/@scope%2fname`) or a tarball (`/name/-/file.tgz`). */
export type MirrorRequest = { readonly kind: "packument"; readonly name: string } | { readonly kind: "tarball"; readonly name: string; readonly file: string };

const NAME = /^(?:@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9._~-][a-z0-9._~-]*$/i;

/** Pure: the request a path makes, or undefined for anything else (queries, traversal, bad names). */
export function parseMirrorPath(rawPath: string): MirrorRequest | undefined {
    if (!rawPath.startsWith("/") || rawPath.includes("?")) return undefined;
    let p: string;
    try {
        p = decodeURIComponent(rawPath.slice(1));
    } catch {
        return undefined;
    }
    const tar = /^(.+)\/-\/([^/]+\.tgz)$/.exec(p);
    const name = tar ? tar[1]! : p;
    if (!NAME.test(name) || name.split("/").some((s) => s === "." || s === "..")) return undefined;
    return tar ? { kind: "tarball", name, file: tar[2]! } : { kind: "packument", name };
}

export interface NpmMirror {
    /** The registry address, for `registry=` in an `.npmrc` (ends with `/`). */
    readonly url: string;
    /** Every request so far: path, answer and the client's address. */
    readonly requests: readonly { path: string; status: number; remote: string }[];
    close(): Promise<void>;
}

export interface NpmMirrorOptions {
    readonly lockfile: { packages?: Record<string, LockEntry> };
    /** npm's cache (its `_cacache` directory). @default `$npm_config_cache/_cacache`, else `~/.npm/_cacache` */
    readonly cache?: string;
    /** The address to listen on: loopback, or a host-only bridge a pod reaches. @default 127.0.0.1 */
    readonly host?: string;
}

/** The npm cache this host's `npm ci` filled. */
export function hostNpmCache(): string {
    return path.join(process.env.npm_config_cache ?? path.join(os.homedir(), ".npm"), "_cacache");
}

/** Starts the mirror on a free port of `host`. */
export async function startNpmMirror(opts: NpmMirrorOptions): Promise<NpmMirror> {
    const packages = lockedPackages(opts.lockfile);
    const cache = opts.cache ?? hostNpmCache();
    const host = opts.host ?? "127.0.0.1";
    const requests: { path: string; status: number; remote: string }[] = [];
    let base = "";
    /** The mirror's address as the client named it (a valid Host header), else its own. */
    const hostUrl = (h: string | undefined) => (h !== undefined && /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/.test(h) ? `http://${h}/` : base);
    const server = http.createServer((req, res) => {
        const answer = (status: number, body: string | Buffer, type = "text/plain") => {
            requests.push({ path: req.url ?? "", status, remote: req.socket.remoteAddress ?? "" });
            res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body) }).end(body);
        };
        const asked = req.method === "GET" ? parseMirrorPath(req.url ?? "") : undefined;
        const versions = asked && packages.get(asked.name);
        if (!asked || !versions) return answer(404, `not in the mirrored lockfile: ${req.method} ${req.url}\n`);
        if (asked.kind === "packument") {
            const packument = {
                name: asked.name,
                "dist-tags": { latest: [...versions.keys()].pop() },
                // At the address the client asked (a pod reaches this mirror through a relay, not at its own address).
                versions: Object.fromEntries([...versions].map(([version, integrity]) => [version, { name: asked.name, version, dist: { tarball: `${hostUrl(req.headers.host)}${asked.name}/-/${tarballFile(asked.name, version)}`, integrity } }])),
            };
            return answer(200, JSON.stringify(packument), "application/json");
        }
        const version = [...versions.keys()].find((v) => tarballFile(asked.name, v) === asked.file);
        if (version === undefined) return answer(404, `not in the mirrored lockfile: ${asked.name} ${asked.file}\n`);
        cacache.get.byDigest(cache, versions.get(version)!).then(
            (data: Buffer) => answer(200, data, "application/octet-stream"),
            () => answer(404, `${asked.name}@${version} is not in the npm cache ${cache} (run npm ci on this host first)\n`),
        );
    });
    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, host, () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    base = `http://${host.includes(":") ? `[${host}]` : host}:${port}/`;
    return {
        url: base,
        requests,
        close: () => new Promise<void>((resolve) => {
            server.closeAllConnections();
            server.close(() => resolve());
        }),
    };
}
