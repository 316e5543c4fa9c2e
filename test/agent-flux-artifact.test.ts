/**
 * Hostile Flux artifacts: the agent's FluxSource against the REAL kube-apiserver with the Flux CRDs,
 * reading a GitRepository whose status points at a loopback HTTP server that serves what each case
 * needs (a slow trickle, an oversized body, a gzip bomb, links out of the checkout). No
 * source-controller runs: nothing rewrites the status the test sets (agent-flux.test.ts has the
 * real one). Every byte served is built here.
 */
import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import { AddressInfo } from "node:net";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { after, before, describe, it } from "node:test";
import * as yaml from "js-yaml";
import * as fc from "fast-check";
import { extract, FluxSource } from "../agent/flux-source";
import { kubeApi } from "../kube/api";
import { PermanentError, SourceUnavailableError } from "../agent/errors";
import { Reason } from "../agent/status";
import { ArtifactLimits } from "../agent/settings";
import { gitRepositorySpec } from "../components/flux/source";
import { ControlPlane, controlPlaneAvailable, installCrds, startControlPlane } from "../tools/controlplane";
import { tempDir } from "./support/tmp";

const available = controlPlaneAvailable();
const NS = "flux-system";
const NAME = "openfaas-gitops";
const MiB = 2 ** 20;

/** A tar.gz of `files` (text, or `{ link }` for a symlink), made by GNU tar from a directory. */
function archive(files: Record<string, string | { link: string }>): Buffer {
    const dir = tempDir("ofg-artifact-src-");
    for (const [rel, f] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
        if (typeof f === "string") fs.writeFileSync(path.join(dir, rel), f);
        else fs.symlinkSync(f.link, path.join(dir, rel));
    }
    // Fixed times and order: the same files give the same bytes (and digest) whichever second they are packed in.
    const out = execFileSync("tar", ["-czf", "-", "--mtime=@0", "--sort=name", "-C", dir, "."]);
    fs.rmSync(dir, { recursive: true });
    return out;
}

/**
 * A gzip bomb: one tar member of `size` zero bytes, as concatenated gzip members (a 1 MiB block of
 * zeros compressed once, repeated), so a few hundred KB expand to `size`. The header is GNU tar's
 * for an empty file, with its size and checksum rewritten.
 */
function gzipBomb(size: number): Buffer {
    const dir = tempDir("ofg-bomb-");
    fs.writeFileSync(path.join(dir, "zeros"), "");
    const header = Buffer.from(execFileSync("tar", ["-cf", "-", "-C", dir, "zeros"]).subarray(0, 512));
    fs.rmSync(dir, { recursive: true });
    header.write(size.toString(8).padStart(11, "0") + "\0", 124, 12, "latin1");
    header.fill(" ", 148, 156);
    const sum = header.reduce((a, b) => a + b, 0);
    header.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8, "latin1");
    const block = zlib.gzipSync(Buffer.alloc(MiB));
    return Buffer.concat([zlib.gzipSync(header), ...Array<Buffer>(size / MiB).fill(block), zlib.gzipSync(Buffer.alloc(1024))]);
}

describe("a GitRepository advertising an artifact URL that is not http(s)", () => {
    // status.artifact.url is whatever the GitRepository's status says. `http.get` threw on it inside
    // the download's promise after its deadline timer was set; the timer then fired into a request
    // that never existed ("Cannot access 'req' before initialization"), an uncaught exception that
    // ended the agent at AGENT_ARTIFACT_TIMEOUT, at every check of the source.
    for (const url of ["ftp://source-controller/a.tar.gz", "http://[::1/a.tar.gz", "file:///etc/passwd"]) {
        it(`${url}: the source is unavailable, with the reason, and nothing fires afterwards`, async () => {
            const workDir = tempDir("ofg-badurl-");
            const revision = `main@sha1:${"a".repeat(40)}`;
            const obj = { metadata: { name: "repo" }, status: { artifact: { url, revision, digest: `sha256:${"b".repeat(64)}` } } };
            const api = { getPath: async () => obj } as unknown as ConstructorParameters<typeof FluxSource>[0];
            const source = new FluxSource(api, { namespace: "flux-system", name: "repo", workDir, limits: { timeoutMs: 200, maxBytes: 2 ** 20, maxExtractedBytes: 2 ** 20 } });
            const uncaught: Error[] = [];
            const onUncaught = (e: Error) => uncaught.push(e);
            process.on("uncaughtException", onUncaught);
            try {
                await assert.rejects(source.checkout(revision), (e: Error) => e instanceof SourceUnavailableError && /is not an http\(s\) URL/.test(e.message));
                await new Promise((r) => setTimeout(r, 500));
                assert.deepEqual(uncaught.map((e) => e.message), []);
            } finally {
                process.off("uncaughtException", onUncaught);
                fs.rmSync(workDir, { recursive: true, force: true });
            }
        });
    }
});

/** As root the modes below do not bind: the check runs as nobody then (setpriv), else as this user. */
const asUnprivileged: string[] | undefined =
    process.getuid?.() !== 0 ? [] : fs.existsSync("/usr/bin/setpriv") ? ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] : undefined;

describe("an artifact whose directories lock their owner out", { skip: asUnprivileged === undefined && "running as root without setpriv" }, () => {
    // The agent runs as user 10001, and tar applies the archive's directory modes. A directory of
    // mode 000 could not be walked (EACCES), neither could the unpacking directory be removed, nor,
    // at every later checkout, the one left behind: the agent applied nothing until its pod (its
    // emptyDir) was replaced. A directory of 0555 passed, became the checkout, and the next artifact
    // could not remove it.
    it("is unpacked and replaced like any other", () => {
        const base = tempDir("ofg-modes-");
        try {
            fs.chmodSync(base, 0o777);
            const src = path.join(base, "src");
            fs.mkdirSync(path.join(src, "locked"), { recursive: true });
            fs.mkdirSync(path.join(src, "ro"));
            fs.writeFileSync(path.join(src, "locked", "f"), "f");
            fs.writeFileSync(path.join(src, "ro", "g"), "g");
            const tar = path.join(base, "a.tar");
            execFileSync("tar", ["-C", src, "-cf", tar, "--mode=0", "locked"]);
            execFileSync("tar", ["-C", src, "-rf", tar, "--mode=0555", "ro"]);
            execFileSync("gzip", [tar]);
            fs.chmodSync(`${tar}.gz`, 0o644);
            const work = path.join(base, "work");
            fs.mkdirSync(work, { mode: 0o777 });
            fs.chmodSync(work, 0o777);
            const child = path.join(base, "child.ts");
            fs.writeFileSync(
                child,
                `import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { FluxSource } from ${JSON.stringify(path.resolve("agent", "flux-source"))};
const bytes = fs.readFileSync(${JSON.stringify(`${tar}.gz`)});
const digest = "sha256:" + crypto.createHash("sha256").update(bytes).digest("hex");
const server = http.createServer((_q, r) => r.end(bytes));
server.listen(0, "127.0.0.1", async () => {
    const url = "http://127.0.0.1:" + (server.address() as AddressInfo).port + "/a.tar.gz";
    const results: string[] = [];
    for (const revision of ["main@sha1:" + "a".repeat(40), "main@sha1:" + "b".repeat(40)]) {
        const obj = { metadata: { name: "repo" }, status: { artifact: { url, revision, digest } } };
        const source = new FluxSource({ getPath: async () => obj } as never, { namespace: "f", name: "repo", workDir: ${JSON.stringify(work)}, limits: { timeoutMs: 10_000, maxBytes: 2 ** 20, maxExtractedBytes: 2 ** 20 } });
        results.push(await source.checkout(revision).then(() => "ok", (e: Error) => e.message));
    }
    console.log(JSON.stringify(results));
    server.close();
});
`,
            );
            fs.chmodSync(child, 0o644);
            const [cmd, ...args] = [...asUnprivileged!, process.execPath, "--import", "tsx", child];
            const out = execFileSync(cmd!, args, { cwd: process.cwd(), encoding: "utf8", timeout: 60_000 });
            assert.deepEqual(JSON.parse(out.trim().split("\n").pop()!), ["ok", "ok"]);
        } finally {
            execFileSync("chmod", ["-R", "u+rwx", base]);
            fs.rmSync(base, { recursive: true, force: true });
        }
    });
});

describe("Flux artifacts: deadline, size limits and links out of the checkout", { skip: !available && "no Go toolchain and no cached binaries" }, () => {
    let cp: ControlPlane;
    let server: http.Server;
    let serve: (req: http.IncomingMessage, res: http.ServerResponse) => void = (_q, res) => res.end();
    let base = "";
    let n = 0;
    const limits: ArtifactLimits = { timeoutMs: 2000, maxBytes: 2 * MiB, maxExtractedBytes: 8 * MiB };

    before(async () => {
        cp = await startControlPlane();
        installCrds(cp);
        cp.kubectl(["create", "namespace", NS]);
        cp.kubectl(["apply", "--server-side", "-f", "-"], yaml.dump(gitRepositorySpec(NS, { repoUrl: "https://127.0.0.1:1/unused.git", branch: "main", interval: "1h" })));
        server = http.createServer((req, res) => serve(req, res));
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
        base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(async () => {
        server?.closeAllConnections();
        server?.close();
        await cp?.stop();
    });

    /** Publishes `bytes` (digest `digestOf`, by default theirs) as a new revision; returns the revision. */
    const publish = (bytes: Buffer, digestOf: Buffer = bytes): string => {
        const revision = `main@sha1:${crypto.createHash("sha1").update(`${++n}`).digest("hex")}`;
        const digest = `sha256:${crypto.createHash("sha256").update(digestOf).digest("hex")}`;
        const artifact = { url: `${base}/artifact-${n}.tar.gz`, revision, digest, path: `a/${n}.tar.gz`, lastUpdateTime: new Date().toISOString() };
        cp.kubectl(["-n", NS, "patch", "gitrepository", NAME, "--subresource=status", "--type=merge", "-p", JSON.stringify({ status: { artifact } })]);
        return revision;
    };
    const serveBytes = (bytes: Buffer) => (serve = (_q, res) => res.end(bytes));
    const workspace = () => {
        const root = tempDir("ofg-artifact-");
        const victim = path.join(root, "victim");
        fs.mkdirSync(victim);
        fs.writeFileSync(path.join(victim, "keep"), "outside the work directory");
        const workDir = path.join(root, "work");
        return { root, victim, workDir, source: new FluxSource(kubeApi(cp.kubeconfig), { namespace: NS, name: NAME, workDir, projectPath: "app", limits }) };
    };
    const good = (text = "1") => archive({ "app/Pulumi.yaml": "name: x\n", "app/a.txt": text });

    it("a server that trickles the artifact is cut off at AGENT_ARTIFACT_TIMEOUT: the source is unavailable, not the revision", { timeout: 20_000 }, async () => {
        const { source } = workspace();
        const timers: NodeJS.Timeout[] = [];
        serve = (_q, res) => {
            res.writeHead(200);
            timers.push(setInterval(() => res.write("x"), 200));
        };
        const revision = publish(Buffer.from("never complete"));
        const started = Date.now();
        await assert.rejects(source.checkout(revision), (e: Error) =>
            e instanceof SourceUnavailableError && /not complete after 2 s \(AGENT_ARTIFACT_TIMEOUT\)/.test(e.message));
        const took = Date.now() - started;
        timers.forEach(clearInterval);
        server.closeAllConnections();
        assert.ok(took >= 1900 && took < 6000, `took ${took} ms`);
    });

    it("an artifact over AGENT_ARTIFACT_MAX_BYTES is refused, by its Content-Length or by what arrives", async () => {
        const { source, workDir } = workspace();
        const big = crypto.randomBytes(3 * MiB);
        serveBytes(big);
        await assert.rejects(source.checkout(publish(big)), /is 3 MiB \(3145728 bytes\), over the limit of 2 MiB \(2097152 bytes\) \(agent\.artifactMaxBytes, AGENT_ARTIFACT_MAX_BYTES\); nothing of it was applied\. Raise that limit if/);
        // Chunked: no length announced; stopped once the limit is passed.
        serve = (_q, res) => {
            res.writeHead(200, { "transfer-encoding": "chunked" });
            res.end(big);
        };
        await assert.rejects(source.checkout(publish(big)), /is more than 2 MiB \(2097152 bytes\), over the limit of 2 MiB/);
        assert.deepEqual(fs.readdirSync(workDir), [], "no partial download is left");
    });

    it("a gzip bomb (300 KB that expand to 300 MiB) is stopped at AGENT_ARTIFACT_MAX_EXTRACTED_BYTES while unpacking; the previous checkout stays", { timeout: 60_000 }, async () => {
        const { source, workDir } = workspace();
        serveBytes(good());
        const first = publish(good());
        fs.mkdirSync(path.join(workDir, "incoming-left-by-a-killed-agent"), { recursive: true });
        const dir = await source.checkout(first);
        const bomb = gzipBomb(300 * MiB);
        assert.ok(bomb.length < 400_000, `${bomb.length} bytes`);
        serveBytes(bomb);
        const started = Date.now();
        await assert.rejects(source.checkout(publish(bomb)), /unpacks to more than that \(unpacking was stopped at the limit\), over the limit of 8 MiB \(8388608 bytes\) \(agent\.artifactMaxExtractedBytes, AGENT_ARTIFACT_MAX_EXTRACTED_BYTES\); nothing of it was applied\. Raise that limit if/);
        assert.ok(Date.now() - started < 10_000);
        assert.deepEqual(fs.readdirSync(workDir).sort(), ["checkout", "flux-artifact.json"], "the partial unpacking is removed");
        assert.equal(fs.readFileSync(path.join(dir, "app", "a.txt"), "utf8"), "1");
        assert.equal(await source.checkout(first), dir, "the applied revision is still there for a drift check");

        // A sparse member: 120 bytes of archive, 10 KB of tar stream, a 1 GiB file.
        const src = tempDir("ofg-sparse-");
        fs.mkdirSync(path.join(src, "app"));
        fs.writeFileSync(path.join(src, "app", "big"), "");
        fs.truncateSync(path.join(src, "app", "big"), 2 ** 30);
        const sparse = execFileSync("tar", ["-cSzf", "-", "-C", src, "."]);
        assert.ok(sparse.length < 1000);
        serveBytes(sparse);
        await assert.rejects(source.checkout(publish(sparse)), /unpacks to files of 1024 MiB \(1073741824 bytes\) in all \(sparse files count by their size\), over the limit of 8 MiB/);
        assert.deepEqual(fs.readdirSync(workDir).sort(), ["checkout", "flux-artifact.json"]);
    });

    it("a node_modules symlink out of the checkout is refused, and one artifact's link never survives into the next: the victim stays intact", async () => {
        const { source, victim, workDir } = workspace();
        const linked = archive({ "app/Pulumi.yaml": "name: x\n", "app/node_modules": { link: "../../../victim" } });
        serveBytes(linked);
        await assert.rejects(source.checkout(publish(linked)), (e: Error) =>
            e instanceof PermanentError && e.reason === Reason.VerificationFailed &&
            /the artifact of main@sha1:\w+ is refused: app\/node_modules -> \.\.\/\.\.\/\.\.\/victim \(node_modules must be a directory/.test(e.message));
        // The next artifact writes into node_modules: with the link kept, that would land in the victim.
        const next = archive({ "app/Pulumi.yaml": "name: x\n", "app/node_modules/planted.js": "evil" });
        serveBytes(next);
        const dir = await source.checkout(publish(next));
        assert.deepEqual(fs.readdirSync(victim), ["keep"]);
        assert.equal(fs.lstatSync(path.join(dir, "app", "node_modules"), { throwIfNoEntry: false }), undefined, "what an artifact has where the cache goes is dropped");
        assert.deepEqual(fs.readdirSync(workDir).sort(), ["checkout", "flux-artifact.json"]);
    });

    it("links out of the checkout anywhere are refused; links inside it are kept; the dependency cache moves from checkout to checkout", async () => {
        const { source, victim } = workspace();
        for (const link of ["/etc", "../../victim", "sub/../../../victim"]) {
            const bad = archive({ "app/Pulumi.yaml": "name: x\n", "app/sub/x": "1", "app/escape": { link } });
            serveBytes(bad);
            await assert.rejects(source.checkout(publish(bad)), new RegExp(`app/escape -> ${link.replace(/\./g, "\\.")} \\(leads outside the checkout\\)`));
        }
        const ok = archive({ "app/Pulumi.yaml": "name: x\n", "app/lib/index.ts": "export {}", "app/current": { link: "lib" }, "app/readme": { link: "../app/lib/index.ts" } });
        serveBytes(ok);
        const dir = await source.checkout(publish(ok));
        assert.equal(fs.readFileSync(path.join(dir, "app", "current", "index.ts"), "utf8"), "export {}");
        // What npm ci leaves: the cache, with its lockfile marker. It moves into the next checkout.
        fs.mkdirSync(path.join(dir, "app", "node_modules"));
        fs.writeFileSync(path.join(dir, "app", "node_modules", ".openfaas-gitops-deps.sha256"), "hash\n");
        const next = archive({ "app/Pulumi.yaml": "name: x\n", "app/a.txt": "2", "app/node_modules/planted.js": "evil" });
        serveBytes(next);
        await source.checkout(publish(next));
        assert.deepEqual(fs.readdirSync(path.join(dir, "app", "node_modules")), [".openfaas-gitops-deps.sha256"]);
        assert.equal(fs.existsSync(path.join(dir, "app", "lib")), false, "nothing of the previous artifact stays");
        assert.deepEqual(fs.readdirSync(victim), ["keep"]);
    });
});

describe("unpacking arbitrary bytes", () => {
    it("garbage, truncated and bit-flipped archives end in a clear error or an unpacked tree, never a hang and never a write outside", { timeout: 120_000 }, async () => {
        const root = tempDir("ofg-unpack-fuzz-");
        const victim = path.join(root, "victim");
        fs.mkdirSync(victim);
        const valid = archive({ "app/Pulumi.yaml": "name: x\n", "app/a.txt": "1", "app/link": { link: "a.txt" }, "app/out": { link: "../../victim/planted" } });
        const raw = zlib.gunzipSync(valid);
        const input = fc.oneof(
            fc.uint8Array({ maxLength: 4096 }).map((b) => Buffer.from(b)),
            fc.uint8Array({ maxLength: 4096 }).map((b) => zlib.gzipSync(b)),
            fc.nat(valid.length).map((n) => valid.subarray(0, n)),
            fc.tuple(fc.nat(raw.length - 1), fc.integer({ min: 1, max: 255 })).map(([i, x]) => {
                const b = Buffer.from(raw);
                b[i] ^= x;
                return zlib.gzipSync(b);
            }),
        );
        let i = 0;
        await fc.assert(
            fc.asyncProperty(input, async (bytes) => {
                const file = path.join(root, `a-${++i}.tar.gz`);
                const dir = path.join(root, `d-${i}`);
                fs.writeFileSync(file, bytes);
                fs.mkdirSync(dir);
                await extract(file, dir, MiB, "main@sha1:0").catch((e: Error) => assert.match(e.message, /cannot extract the artifact of main@sha1:0|unpacks to more than/));
                assert.deepEqual(fs.readdirSync(victim), [], "nothing written outside");
                fs.rmSync(dir, { recursive: true });
                fs.rmSync(file);
            }),
            { numRuns: 60 },
        );
    });
});
