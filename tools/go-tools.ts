/**
 * Builds test tools from Go modules of ours (tools/<module>/go.mod) into a cache outside the
 * repository, keyed by the module's exact dependency set: a second run never rebuilds, a changed
 * go.sum always does. Nothing built here is ever committed.
 */
import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** Whether `go` is on PATH (needed only for a first build). */
export function haveGo(): boolean {
    try {
        execFileSync("go", ["version"], { stdio: "ignore" });
        return true;
    } catch {
        return false;
    }
}

/**
 * The tools cache, outside the repository: `OPENFAAS_GITOPS_CACHE`, else `$XDG_CACHE_HOME/openfaas-gitops`,
 * else `~/.cache/openfaas-gitops`. The Go tools and the downloaded charts (tools/upstream.ts) live here.
 */
export function cacheBase(): string {
    return process.env.OPENFAAS_GITOPS_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "openfaas-gitops");
}

/** The cache directory of a tools module (`tools/<module>`), with `tag` in its name for humans. */
export function toolCacheDir(module: string, tag: string): string {
    const dir = path.resolve(__dirname, module);
    const sum = crypto.createHash("sha256");
    for (const f of fs.readdirSync(dir).filter((f) => /^(go\.mod|go\.sum|.*\.go)$/.test(f)).sort()) sum.update(f).update(fs.readFileSync(path.join(dir, f)));
    return path.join(cacheBase(), `${module}-${tag}-${sum.digest("hex").slice(0, 12)}`);
}

/**
 * Returns the path of each binary (name -> Go package) of a tools module, building the missing ones.
 * Each binary is renamed into place only when complete, so a killed build never leaves a broken one.
 */
export function ensureGoTools(
    module: string,
    tag: string,
    binaries: Readonly<Record<string, string>>,
    opts: {
        ldflags?: string;
        log?: (line: string) => void;
        /** Runs in the module directory before the first build (e.g. to copy files a package embeds). */
        prepare?: (moduleDir: string) => void;
    } = {},
): Record<string, string> {
    const dir = toolCacheDir(module, tag);
    const out: Record<string, string> = {};
    let prepared = false;
    for (const [name, pkg] of Object.entries(binaries)) {
        const bin = path.join(dir, name);
        out[name] = bin;
        if (fs.existsSync(bin)) continue;
        if (!haveGo()) throw new Error(`${name} is built from its Go module, but \`go\` is not on PATH; install Go 1.26+`);
        fs.mkdirSync(dir, { recursive: true });
        if (!prepared) opts.prepare?.(path.resolve(__dirname, module));
        prepared = true;
        (opts.log ?? ((l: string) => process.stderr.write(l + "\n")))(`building ${pkg} into ${dir} (first run only)`);
        const tmp = `${bin}.tmp-${process.pid}`;
        // -s -w: no symbol table or DWARF. Nothing here is ever debugged, and the debug info is most of
        // the link time and size (the kubernetes provider is 444 MB with it).
        const ldflags = ["-s", "-w", ...(opts.ldflags ? [opts.ldflags] : [])].join(" ");
        execFileSync("go", ["build", "-trimpath", "-ldflags", ldflags, "-o", tmp, pkg], {
            cwd: path.resolve(__dirname, module),
            // The compiler's own garbage collector, run less often (a GOGC of the caller's wins):
            // a cold kubeseal build alone took 16% less time and 19% less CPU, for 0.6 GB of peak
            // memory instead of 0.5; the whole cold build in its two lanes, only 2% less time.
            env: { ...process.env, GOGC: process.env.GOGC ?? "400" },
            stdio: ["ignore", "inherit", "inherit"],
        });
        fs.renameSync(tmp, bin);
    }
    return out;
}

/** The small Go tools of the tests and the workflow lint, each its own module under tools/. */
export const SMALL_TOOLS = {
    /** Flux's Event type (github.com/fluxcd/pkg/apis/event) decoding what the agent sends. */
    "flux-event": { tag: "v0.27.2", pkg: "." },
    /** The sealed-secrets controller's own HybridDecrypt. */
    sealcompat: { tag: "v0.36.6", pkg: "." },
    actionlint: { tag: "v1.7.12", pkg: "github.com/rhysd/actionlint/cmd/actionlint" },
} as const;
export type SmallTool = keyof typeof SMALL_TOOLS;

/** Path of one of {@link SMALL_TOOLS}, built on first use. */
export function ensureSmallTool(name: SmallTool, log?: (line: string) => void): string {
    const t = SMALL_TOOLS[name];
    return ensureGoTools(name, t.tag, { [name]: t.pkg }, { log })[name]!;
}

/** Whether a small tool is cached or can be built here. */
export function smallToolAvailable(name: SmallTool): boolean {
    return haveGo() || fs.existsSync(path.join(toolCacheDir(name, SMALL_TOOLS[name].tag), name));
}

// `node --import tsx tools/go-tools.ts actionlint [args]`: build (or find) actionlint and run it.
if (require.main === module && process.argv[2] === "actionlint") {
    try {
        execFileSync(ensureSmallTool("actionlint"), process.argv.slice(3), { stdio: "inherit" });
    } catch (e) {
        process.exit((e as { status?: number }).status ?? 1);
    }
}
