/**
 * The pinned upstream charts (model/charts.ts) and the CRDs they carry, for the tests, `npm run
 * cluster` and `npm run demo`, wherever a clone runs. In this order:
 *
 * 1. `OPENFAAS_GITOPS_UPSTREAM=<dir>`: a directory holding the pinned charts unpacked, one
 *    `<dir>/<chart>/` each (what `helm pull <chart> --repo <repo> --version <version> --untar -d <dir>`
 *    leaves), checked by digest: the way in for a machine without access to the charts' repositories.
 * 2. `../shared/upstream` beside the repository, when it is there: the unmodified copies its README
 *    describes (charts/<chart>/, and the CRDs joined per chart in crds/).
 * 3. The tools cache (tools/go-tools.ts `cacheBase`), where 4 left them: no request at all.
 * 4. Downloaded once, by version, from each chart's own Helm repository (index.yaml, then the chart's
 *    .tgz), checked by digest in memory and only then written to the cache (a temporary directory
 *    renamed into place, so a failed or refused download leaves nothing behind).
 *
 * Without 2 the CRDs come out of the charts themselves ({@link CRD_FILES}); a test keeps both sources
 * equal. What the pinned digest covers is {@link chartTreeDigest}.
 */
import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as yaml from "js-yaml";
import { Parser, ReadEntry } from "tar";
import { ChartName, CHART_NAMES, CHART_TREE_DIGESTS, CHARTS, PinnedRelease } from "../model/charts";
import { cacheBase } from "./go-tools";

const ROOT = path.resolve(__dirname, "..");
/** `../shared/upstream` beside the repository (its README says what each file is and where it came from). */
export const SHARED_UPSTREAM = path.resolve(ROOT, "..", "shared", "upstream");
/** The knob for a machine that cannot reach the charts' repositories: a directory of the pinned charts, unpacked. */
export const UPSTREAM_ENV = "OPENFAAS_GITOPS_UPSTREAM";

/** Largest index.yaml read (charts.jetstack.io's, every chart and version it ever served, is a few MB). */
const MAX_INDEX_BYTES = 64 * 1024 * 1024;
/** Largest chart archive downloaded, and most its files may hold unpacked (the largest pinned chart is 2 MB unpacked). */
const MAX_ARCHIVE_BYTES = 16 * 1024 * 1024;
const MAX_UNPACKED_BYTES = 64 * 1024 * 1024;
/** Per request: a stalled repository fails the run instead of hanging it. */
const REQUEST_TIMEOUT_MS = 120_000;

/**
 * Where each chart carries the CRDs the platform's objects need (what ../shared/upstream/crds holds).
 * openfaas: the iam.openfaas.com CRDs in crds/ and the openfaas.com ones as templates (behind
 * `createCRDs`); its artifacts/crds.yaml joins the same six, but only files Helm renders are digested.
 * contour: templates/crds/contour-crds.yaml, not gateway-api-crds.yaml (the platform uses no Gateway API).
 * cert-manager: templates/crd-*.yaml (behind `crds.enabled`). flux2: templates/*.crds.yaml.
 */
export const CRD_FILES: Readonly<Record<ChartName, RegExp>> = {
    openfaas: /^(crds\/[^/]+|templates\/openfaas\.com_[^/]+-crd)\.yaml$/,
    "sealed-secrets": /^crds\/[^/]+\.yaml$/,
    contour: /^templates\/crds\/contour-crds\.yaml$/,
    "cert-manager": /^templates\/crd-[^/]+\.yaml$/,
    flux2: /^templates\/[^/]+\.crds\.yaml$/,
};

/** Where the pinned charts and CRDs were found. */
export interface Upstream {
    readonly kind: "dir" | "shared" | "cache" | "download";
    /** One line for the log naming the source. */
    readonly source: string;
    /** The unpacked directory of each pinned chart (a chart `path`). */
    readonly charts: Readonly<Record<ChartName, string>>;
    /** ../shared/upstream when that is the source (its README and chart-values/ are only there). */
    readonly shared?: string;
    /** The CRD manifests to apply, one YAML text per chart (or per ../shared/upstream/crds file). */
    crds(): { name: string; yaml: string }[];
}

export interface UpstreamOptions {
    /** ../shared/upstream, or where a test pretends it is. */
    readonly shared?: string;
    /** The cache directory of the charts (default `<cacheBase>/charts`). */
    readonly cacheDir?: string;
    /** Repository URLs by chart, for a test's loopback repository; CHARTS otherwise. */
    readonly repos?: Partial<Record<ChartName, string>>;
    /** Where `OPENFAAS_GITOPS_UPSTREAM` is read (default process.env). */
    readonly env?: Readonly<Record<string, string | undefined>>;
    readonly log?: (line: string) => void;
}

/** Pure: whether a chart file is covered by the pinned digest (see {@link chartTreeDigest}). */
export function isDigested(file: string): boolean {
    return file === "values.yaml" || file === "values.schema.json" || /^(templates|crds|charts)\//.test(file);
}

/**
 * Pure: the digest pinned for a chart, of its files as Helm renders them: `values.yaml`,
 * `values.schema.json` and everything under `templates/`, `crds/` and `charts/` (paths relative to the
 * chart, `/`-separated), as `sha256:` of the lines `<sha256 hex of the file>  <path>\n` sorted by path,
 * which is what `find templates crds charts values.yaml values.schema.json -type f | LC_ALL=C sort |
 * xargs sha256sum | sha256sum` prints in the chart's directory. Left out: Chart.yaml (cert-manager's
 * release tool writes its version and a signing annotation into it, so the released file differs from
 * the one in git; its name and version are checked instead), READMEs and other documentation, and what
 * a chart's .helmignore keeps out of its package (tests/). So the digest computed from the
 * ../shared/upstream copies is also the digest of the released archives.
 */
export function chartTreeDigest(files: ReadonlyMap<string, Buffer>): string {
    const lines = [...files.keys()]
        .filter(isDigested)
        .sort()
        .map((f) => `${crypto.createHash("sha256").update(files.get(f)!).digest("hex")}  ${f}\n`);
    return `sha256:${crypto.createHash("sha256").update(lines.join("")).digest("hex")}`;
}

/** The regular files under `dir`, by `/`-separated relative path. */
export function readTree(dir: string): Map<string, Buffer> {
    const files = new Map<string, Buffer>();
    for (const e of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
        if (!e.isFile()) continue;
        const abs = path.join(e.parentPath, e.name);
        files.set(path.relative(dir, abs).split(path.sep).join("/"), fs.readFileSync(abs));
    }
    return files;
}

/** The pinned release of a chart at its pinned version, or an error saying where to add it. */
function pinnedRelease(name: ChartName): PinnedRelease {
    const { chart, version } = CHARTS[name];
    const release = (CHART_TREE_DIGESTS as Readonly<Record<string, PinnedRelease>>)[`${chart}@${version}`];
    if (!release) throw new Error(`model/charts.ts pins ${chart} ${version} but CHART_TREE_DIGESTS has no "${chart}@${version}": add its digest and appVersion (docs/testing.md says how to compute the digest)`);
    return release;
}

/** Pure: why a chart's Chart.yaml is not the pinned chart, or undefined. */
export function chartYamlProblem(text: string | undefined, name: ChartName): string | undefined {
    const { chart, version } = CHARTS[name];
    if (text === undefined) return "has no Chart.yaml";
    let doc: unknown;
    try {
        // Failsafe: every scalar a string, so a version like 1.10 is not read as the number 1.1.
        doc = yaml.load(text, { schema: yaml.FAILSAFE_SCHEMA });
    } catch {
        return "has a Chart.yaml that is not YAML";
    }
    const got = (doc ?? {}) as { name?: unknown; version?: unknown; appVersion?: unknown };
    if (got.name !== chart || got.version !== version) return `is chart ${String(got.name)} ${String(got.version)}, not ${chart} ${version}`;
    const { appVersion } = pinnedRelease(name);
    if (got.appVersion !== appVersion) return `declares appVersion ${got.appVersion === undefined ? "(none)" : String(got.appVersion)}, not ${appVersion ?? "(none)"}`;
    return undefined;
}

/** A chart refused for what it is (not for where it could not be fetched from): its message is complete. */
class ChartRefused extends Error {}

/** Checks an unpacked chart against its pin; the error names the chart, where it came from, both digests and the fix. */
function verifyChart(name: ChartName, files: ReadonlyMap<string, Buffer>, from: string, fix: string): void {
    const wrong = chartYamlProblem(files.get("Chart.yaml")?.toString("utf8"), name);
    if (wrong) throw new ChartRefused(`${name} from ${from} ${wrong} (model/charts.ts): ${fix}`);
    const want = pinnedRelease(name).digest;
    const got = chartTreeDigest(files);
    if (got !== want) {
        throw new ChartRefused(`${name} ${CHARTS[name].version} from ${from} has digest ${got}, but model/charts.ts pins ${want}: ${fix}`);
    }
}

/** Pure: the CustomResourceDefinition documents of a chart file, as YAML text, Helm's template lines dropped. */
export function crdDocuments(text: string): string[] {
    // Every line with a template action goes: the guards around the CRDs and the labels Helm fills
    // in (what ../shared/upstream/README.md says was removed from its copies). What stays is plain YAML.
    const docs: string[][] = [[]];
    for (const line of text.split("\n")) {
        if (line.includes("{{")) continue;
        if (/^---\s*$/.test(line)) docs.push([]);
        else docs.at(-1)!.push(line);
    }
    return docs.map((d) => d.join("\n")).filter((d) => (yaml.load(d) as { kind?: unknown } | null)?.kind === "CustomResourceDefinition");
}

/** The CRDs a chart directory carries, one YAML text ({@link CRD_FILES}). */
export function chartCrds(name: ChartName, chartDir: string): string {
    const files = [...readTree(chartDir).entries()].filter(([f]) => CRD_FILES[name].test(f)).sort(([a], [b]) => (a < b ? -1 : 1));
    const docs = files.flatMap(([, content]) => crdDocuments(content.toString("utf8")));
    if (docs.length === 0) throw new Error(`${name} chart in ${chartDir} carries no CustomResourceDefinition where tools/upstream.ts looks (${CRD_FILES[name]})`);
    return docs.map((d) => `---\n${d}\n`).join("");
}

function fromCharts(kind: Upstream["kind"], source: string, charts: Record<ChartName, string>): Upstream {
    return { kind, source, charts, crds: () => CHART_NAMES.map((c) => ({ name: c, yaml: chartCrds(c, charts[c]) })) };
}

function fromShared(dir: string): Upstream {
    const charts = Object.fromEntries(CHART_NAMES.map((c) => [c, path.join(dir, "charts", c)])) as Record<ChartName, string>;
    return {
        kind: "shared",
        source: `the pinned charts and CRDs: ${dir} (../shared/upstream)`,
        charts,
        shared: dir,
        crds: () => {
            const crdDir = path.join(dir, "crds");
            return fs
                .readdirSync(crdDir)
                .filter((f) => f.endsWith(".yaml"))
                .sort()
                .map((f) => ({ name: f, yaml: fs.readFileSync(path.join(crdDir, f), "utf8") }));
        },
    };
}

/** The cache directory of one pinned chart: its version and digest in the name, so a new pin misses it. */
function cachedChartDir(cacheDir: string, name: ChartName): string {
    const { chart, version } = CHARTS[name];
    return path.join(cacheDir, `${chart}-${version}-${pinnedRelease(name).digest.replace(/^sha256:/, "").slice(0, 16)}`);
}

const FIX_KNOB = `set ${UPSTREAM_ENV} to a directory holding the pinned charts unpacked (helm pull <chart> --repo <repo> --version <version> --untar -d <dir>, for each chart in model/charts.ts)`;

/** Sources 1 to 3 (no network): the result, or undefined when only a download can help. */
function localUpstream(opts: UpstreamOptions): Upstream | undefined {
    const env = opts.env ?? process.env;
    const dir = env[UPSTREAM_ENV];
    if (dir) {
        const abs = path.resolve(dir);
        const charts = Object.fromEntries(CHART_NAMES.map((c) => [c, path.join(abs, CHARTS[c].chart)])) as Record<ChartName, string>;
        for (const c of CHART_NAMES) {
            if (!fs.existsSync(path.join(charts[c], "Chart.yaml"))) throw new Error(`${UPSTREAM_ENV}=${dir} has no ${CHARTS[c].chart}/Chart.yaml: ${FIX_KNOB}, or unset it`);
            verifyChart(c, readTree(charts[c]), `${UPSTREAM_ENV}=${dir}`, `put the pinned version there (${FIX_KNOB}), or unset it`);
        }
        return fromCharts("dir", `the pinned charts: ${abs} (${UPSTREAM_ENV}), their digests verified; CRDs from the charts`, charts);
    }
    const shared = opts.shared ?? SHARED_UPSTREAM;
    if (fs.existsSync(path.join(shared, "crds")) && fs.existsSync(path.join(shared, "charts"))) return fromShared(shared);
    const cacheDir = opts.cacheDir ?? path.join(cacheBase(), "charts");
    const charts = Object.fromEntries(CHART_NAMES.map((c) => [c, cachedChartDir(cacheDir, c)])) as Record<ChartName, string>;
    if (CHART_NAMES.every((c) => fs.existsSync(charts[c]))) return fromCharts("cache", `the pinned charts: ${cacheDir} (the tools cache, downloaded before); CRDs from the charts`, charts);
    return undefined;
}

/** GET with a deadline and a size cap; the error says which URL and why, in one line. */
export async function download(url: string, max: number): Promise<Buffer> {
    let res: Response;
    try {
        res = await fetch(url, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    } catch (e) {
        const err = e as Error & { cause?: { message?: string } };
        throw new Error(`could not reach ${url}: ${(err.cause?.message ?? err.message).replace(/\s+/g, " ")}`);
    }
    if (!res.ok) {
        await res.body?.cancel();
        throw new Error(`${url} answered ${res.status} ${res.statusText}`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body ?? []) {
        size += chunk.length;
        // Leaving the loop by a throw cancels the body: the rest is never read.
        if (size > max) throw new Error(`${url} sent more than ${max} bytes`);
        chunks.push(Buffer.from(chunk));
    }
    return Buffer.concat(chunks);
}

/** Pure: the URL of a chart's archive from a Helm repository's index.yaml, or why there is none. */
export function chartUrlFromIndex(index: string, chart: string, version: string, indexUrl: string): { url: string } | { error: string } {
    let doc: unknown;
    try {
        // Failsafe: versions stay the strings they are written as; only two keys are read, so an
        // alias in the index costs nothing.
        doc = yaml.load(index, { schema: yaml.FAILSAFE_SCHEMA });
    } catch (e) {
        return { error: `${indexUrl} is not YAML (${String((e as Error).message).split("\n")[0]})` };
    }
    const entries = (doc as { entries?: unknown } | null)?.entries;
    const versions = entries && typeof entries === "object" ? (entries as Record<string, unknown>)[chart] : undefined;
    if (!Array.isArray(versions)) return { error: `${indexUrl} lists no chart ${chart}` };
    const entry = versions.find((v): v is { urls?: unknown } => typeof v === "object" && v !== null && (v as { version?: unknown }).version === version);
    const first = Array.isArray(entry?.urls) ? entry.urls[0] : undefined;
    if (typeof first !== "string") return { error: `${indexUrl} lists no ${chart} ${version} with a URL` };
    let url: URL;
    try {
        url = new URL(first, indexUrl);
    } catch {
        return { error: `${indexUrl} gives ${chart} ${version} the URL ${JSON.stringify(first)}, which is not one` };
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") return { error: `${indexUrl} gives ${chart} ${version} the URL ${url.href}; only http(s) is fetched` };
    return { url: url.href };
}

/** Pure: the path inside the chart of an archive entry `<chart>/<path>`, or why it cannot be written. */
export function entryPath(entry: string, chart: string): { path: string } | { error: string } {
    const parts = entry.replace(/\/+$/, "").split("/");
    if (parts[0] !== chart || parts.length < 2) return { error: `entry ${JSON.stringify(entry)} is outside ${chart}/` };
    const rest = parts.slice(1);
    if (rest.some((p) => p === "" || p === "." || p === ".." || p.includes("\\") || p.includes("\0"))) return { error: `entry ${JSON.stringify(entry)} has an unsafe path` };
    return { path: rest.join("/") };
}

/** The files of a chart archive (.tgz as `helm package` makes it), read in memory within the size caps. */
export function readChartArchive(tgz: Buffer, chart: string): Promise<Map<string, Buffer>> {
    return new Promise((resolve, reject) => {
        const files = new Map<string, Buffer>();
        let unpacked = 0;
        let failed: Error | undefined;
        // The first failure settles it: node-tar emits no "close" after an abort.
        const fail = (e: Error) => {
            if (failed) return;
            failed = e;
            reject(e);
            parser.abort(e);
        };
        const parser = new Parser({
            strict: true,
            onReadEntry: (entry: ReadEntry) => {
                if (failed) return void entry.resume();
                if (entry.type === "Directory") return void entry.resume();
                if (entry.type !== "File" && entry.type !== "OldFile" && entry.type !== "ContiguousFile") {
                    entry.resume();
                    return fail(new Error(`entry ${JSON.stringify(entry.path)} is a ${entry.type}; a chart archive holds only files and directories`));
                }
                const p = entryPath(entry.path, chart);
                if ("error" in p) {
                    entry.resume();
                    return fail(new Error(p.error));
                }
                unpacked += entry.size;
                if (unpacked > MAX_UNPACKED_BYTES) {
                    entry.resume();
                    return fail(new Error(`it unpacks to more than ${MAX_UNPACKED_BYTES} bytes`));
                }
                const chunks: Buffer[] = [];
                entry.on("data", (c: Buffer) => chunks.push(c));
                entry.on("end", () => files.set(p.path, Buffer.concat(chunks)));
            },
        });
        parser.on("error", fail);
        parser.on("close", () => failed ?? resolve(files));
        parser.end(tgz);
    });
}

/** Writes verified files into a temporary directory beside `target` and renames it into place. */
function writeIntoCache(target: string, files: ReadonlyMap<string, Buffer>): void {
    fs.mkdirSync(path.dirname(target), { recursive: true });
    const tmp = fs.mkdtempSync(`${target}.tmp-`);
    try {
        for (const [f, content] of files) {
            fs.mkdirSync(path.dirname(path.join(tmp, f)), { recursive: true });
            fs.writeFileSync(path.join(tmp, f), content);
        }
        try {
            fs.renameSync(tmp, target);
        } catch (e) {
            // Another process put the same verified chart there first: theirs is as good.
            if (!fs.existsSync(target)) throw e;
        }
    } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
    }
}

/** Downloads one pinned chart from its repository, verifies it and puts it in the cache. */
async function fetchChart(name: ChartName, repo: string, target: string): Promise<void> {
    const { chart, version } = CHARTS[name];
    const indexUrl = new URL("index.yaml", repo.endsWith("/") ? repo : `${repo}/`).href;
    const found = chartUrlFromIndex((await download(indexUrl, MAX_INDEX_BYTES)).toString("utf8"), chart, version, indexUrl);
    if ("error" in found) throw new Error(found.error);
    let files: Map<string, Buffer>;
    const tgz = await download(found.url, MAX_ARCHIVE_BYTES);
    try {
        files = await readChartArchive(tgz, chart);
    } catch (e) {
        throw new ChartRefused(`${name} ${version} from ${found.url} is refused as a chart archive (${(e as Error).message}); nothing was written to the cache`);
    }
    verifyChart(
        name,
        files,
        found.url,
        `nothing was written to the cache; if model/charts.ts changed that version, put the new chart's digest in CHART_TREE_DIGESTS (docs/testing.md says how), otherwise the repository serves other content than was pinned: do not use it, and ${FIX_KNOB}`,
    );
    writeIntoCache(target, files);
}

/**
 * The pinned charts and CRDs from the first source that has them (see the top of this file),
 * downloading what the cache lacks. Logs the source in one line. Errors are one line.
 */
export async function ensureUpstream(opts: UpstreamOptions = {}): Promise<Upstream> {
    const log = opts.log ?? ((l: string) => process.stderr.write(l + "\n"));
    const local = localUpstream(opts);
    if (local) {
        log(local.source);
        return local;
    }
    const cacheDir = opts.cacheDir ?? path.join(cacheBase(), "charts");
    const missing = CHART_NAMES.filter((c) => !fs.existsSync(cachedChartDir(cacheDir, c)));
    log(`no ../shared/upstream and no ${UPSTREAM_ENV}: downloading ${missing.map((c) => `${c} ${CHARTS[c].version}`).join(", ")} from their Helm repositories into ${cacheDir} (first run only)`);
    for (const c of missing) {
        const repo = opts.repos?.[c] ?? CHARTS[c].repo;
        try {
            await fetchChart(c, repo, cachedChartDir(cacheDir, c));
        } catch (e) {
            if (e instanceof ChartRefused) throw e;
            throw new Error(`cannot get the pinned chart ${c} ${CHARTS[c].version}: ${(e as Error).message}; there is no ../shared/upstream either: give this machine access to ${repo}, or ${FIX_KNOB}`);
        }
    }
    const charts = Object.fromEntries(CHART_NAMES.map((c) => [c, cachedChartDir(cacheDir, c)])) as Record<ChartName, string>;
    const done = fromCharts("download", `the pinned charts: downloaded from their Helm repositories into ${cacheDir} (the tools cache), digests verified; CRDs from the charts`, charts);
    log(done.source);
    return done;
}

/**
 * {@link ensureUpstream} for synchronous callers. A download, when one is needed, runs in a child
 * process (this one is blocked meanwhile), which logs the source; the error is the child's one line.
 */
export function upstreamSync(opts: UpstreamOptions = {}): Upstream {
    const found = localUpstream(opts);
    if (found) {
        (opts.log ?? ((l: string) => process.stderr.write(l + "\n")))(found.source);
        return found;
    }
    const { log: _unused, ...rest } = opts;
    try {
        execFileSync(process.execPath, ["--import", "tsx", __filename, JSON.stringify(rest)], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"], encoding: "utf8" });
    } catch (e) {
        throw new Error(String((e as { stdout?: string }).stdout ?? "").trim() || (e as Error).message);
    }
    const fetched = localUpstream(opts);
    if (!fetched) throw new Error(`downloaded the pinned charts, yet they are not in the cache (${opts.cacheDir ?? path.join(cacheBase(), "charts")})`);
    return fetched;
}

let resolved: Upstream | undefined;

/** The pinned charts and CRDs for this process (installCrds, the tests' chart paths): {@link upstreamSync}, once. */
export function upstream(): Upstream {
    resolved ??= upstreamSync();
    return resolved;
}

// The child of upstreamSync(): `node --import tsx tools/upstream.ts [<options as JSON>]`. Progress on
// stderr; the one-line error on stdout for the parent to throw.
if (require.main === module) {
    ensureUpstream(JSON.parse(process.argv[2] ?? "{}") as UpstreamOptions).catch((e: Error) => {
        process.stdout.write(e.message + "\n");
        process.exit(1);
    });
}
