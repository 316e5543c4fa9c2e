/**
 * tools/upstream.ts: the pinned charts and their CRDs from ../shared/upstream, from a directory given
 * in OPENFAAS_GITOPS_UPSTREAM, or downloaded once by version from the charts' Helm repositories (a
 * loopback repository serving the same charts here) into the cache and checked by digest.
 */
import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { once } from "node:events";
import { after, before, describe, it } from "node:test";
import { Worker } from "node:worker_threads";
import * as fc from "fast-check";
import * as yaml from "js-yaml";
import * as tar from "tar";
import { ChartName, CHART_NAMES, CHART_TREE_DIGESTS, CHARTS, PinnedRelease } from "../model/charts";
import { ControlPlane, controlPlaneAvailable, installCrds, startControlPlane } from "../tools/controlplane";
import { freePort } from "../tools/net";
import {
    chartCrds,
    chartTreeDigest,
    chartUrlFromIndex,
    chartYamlProblem,
    crdDocuments,
    download,
    ensureUpstream,
    entryPath,
    isDigested,
    readChartArchive,
    readTree,
    SHARED_UPSTREAM,
    Upstream,
    UPSTREAM_ENV,
    UpstreamOptions,
    upstreamSync,
} from "../tools/upstream";
import { HelmRepo, packChart, startHelmRepo } from "./support/helm-repo";

const haveShared = fs.existsSync(path.join(SHARED_UPSTREAM, "charts"));
const NO_SHARED = "no ../shared/upstream here: its copies are what the pinned digests and the loopback repository are made from";
const sharedChart = (c: ChartName) => path.join(SHARED_UPSTREAM, "charts", c);
const pinned = (c: ChartName) => (CHART_TREE_DIGESTS as Record<string, PinnedRelease>)[`${CHARTS[c].chart}@${CHARTS[c].version}`]!.digest;

/** CRDs by name from YAML texts. */
function crdsByName(texts: string[]): Map<string, { spec: unknown }> {
    const out = new Map<string, { spec: unknown }>();
    for (const t of texts) for (const d of yaml.loadAll(t) as { kind?: string; metadata: { name: string }; spec: unknown }[]) if (d?.kind === "CustomResourceDefinition") out.set(d.metadata.name, d);
    return out;
}

function tmpDir(t: { after(fn: () => void): void } | undefined, prefix: string): string {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    t?.after(() => fs.rmSync(d, { recursive: true, force: true }));
    return d;
}

/** Options for a run with no ../shared/upstream and no knob, against `repo`, with its own cache. */
function isolated(repo: HelmRepo | { repo(c: string): string }, cacheDir: string, lines: string[]): UpstreamOptions {
    return {
        shared: path.join(cacheDir, "no-shared-here"),
        cacheDir,
        env: {},
        repos: Object.fromEntries(CHART_NAMES.map((c) => [c, repo.repo(CHARTS[c].chart)])),
        log: (l) => lines.push(l),
    };
}

const isLoopback = (a: string) => a === "127.0.0.1" || a === "::ffff:127.0.0.1" || a === "::1";

describe("the pinned chart digests", () => {
    it("cover what Helm renders and nothing the release tools rewrite", () => {
        for (const f of ["values.yaml", "values.schema.json", "templates/deployment.yaml", "templates/crds/x.yaml", "crds/a.yaml", "charts/sub/Chart.yaml"]) assert.ok(isDigested(f), f);
        for (const f of ["Chart.yaml", "README.md", "README.template.md", ".helmignore", "signkey_annotation.txt", "tests/a.yaml", "artifacts/crds.yaml", "templatesx/a"]) assert.ok(!isDigested(f), f);
    });

    it("do not depend on order or on files outside the digest; any byte of a digested file changes them (property)", () => {
        const file = fc.tuple(fc.constantFrom("values.yaml", "templates/a.yaml", "templates/b/c.tpl", "crds/x.yaml", "README.md", "Chart.yaml"), fc.uint8Array({ maxLength: 64 }));
        fc.assert(
            fc.property(fc.uniqueArray(file, { selector: ([p]) => p, minLength: 1 }), fc.nat(), (entries, pick) => {
                const map = new Map(entries.map(([p, b]) => [p, Buffer.from(b)]));
                const reversed = new Map([...map].reverse());
                assert.equal(chartTreeDigest(reversed), chartTreeDigest(map));
                const [p, b] = entries[pick % entries.length]!;
                const changed = new Map(map).set(p, Buffer.concat([Buffer.from(b), Buffer.from("x")]));
                assert.equal(chartTreeDigest(changed) !== chartTreeDigest(map), isDigested(p));
            }),
        );
    });

    it("are the digests of the ../shared/upstream copies, as docs/testing.md computes them with sha256sum", { skip: !haveShared && NO_SHARED }, () => {
        for (const c of CHART_NAMES) {
            assert.equal(chartTreeDigest(readTree(sharedChart(c))), pinned(c), c);
            const shell = execFileSync("sh", ["-c", "find templates crds charts values.yaml values.schema.json -type f 2>/dev/null | LC_ALL=C sort | xargs sha256sum | sha256sum"], { cwd: sharedChart(c), encoding: "utf8" });
            assert.equal(`sha256:${shell.split(" ")[0]}`, pinned(c), `${c} by the documented command`);
        }
    });

    it("Chart.yaml must name the pinned chart and version (cert-manager's as committed in git is v0.0.0)", { skip: !haveShared && NO_SHARED }, () => {
        assert.equal(chartYamlProblem(fs.readFileSync(path.join(sharedChart("cert-manager"), "Chart.yaml"), "utf8"), "cert-manager"), undefined);
        assert.equal(chartYamlProblem(fs.readFileSync(path.join(SHARED_UPSTREAM, "chart-values", "cert-manager", "Chart.yaml"), "utf8"), "cert-manager"), "is chart cert-manager v0.0.0, not cert-manager v1.21.1");
        assert.equal(chartYamlProblem(undefined, "openfaas"), "has no Chart.yaml");
        assert.equal(chartYamlProblem("name: openfaas\nversion: 15.0.60\n", "openfaas"), "is chart openfaas 15.0.60, not openfaas 15.0.6");
        // The templates default image tags to .Chart.AppVersion: a changed appVersion changes what runs.
        assert.equal(chartYamlProblem("name: sealed-secrets\nversion: 2.18.5\nappVersion: 0.36.7\n", "sealed-secrets"), "declares appVersion 0.36.7, not 0.36.6");
        assert.equal(chartYamlProblem("name: sealed-secrets\nversion: 2.18.5\n", "sealed-secrets"), "declares appVersion (none), not 0.36.6");
        assert.equal(chartYamlProblem("name: openfaas\nversion: 15.0.6\nappVersion: 1.0.0\n", "openfaas"), "declares appVersion 1.0.0, not (none)");
        for (const c of CHART_NAMES) assert.equal(chartYamlProblem(fs.readFileSync(path.join(sharedChart(c), "Chart.yaml"), "utf8"), c), undefined, c);
    });
});

describe("the CRDs from the charts", () => {
    it("are the CRDs of ../shared/upstream/crds: the same names and the same specs", { skip: !haveShared && NO_SHARED }, () => {
        const shared = crdsByName(fs.readdirSync(path.join(SHARED_UPSTREAM, "crds")).map((f) => fs.readFileSync(path.join(SHARED_UPSTREAM, "crds", f), "utf8")));
        const fromCharts = crdsByName(CHART_NAMES.map((c) => chartCrds(c, sharedChart(c))));
        assert.deepEqual([...fromCharts.keys()].sort(), [...shared.keys()].sort());
        assert.equal(fromCharts.size, 33);
        for (const [name, crd] of shared) assert.deepEqual(fromCharts.get(name)!.spec, crd.spec, name);
    });

    it("drop Helm's template lines and keep only CustomResourceDefinition documents", () => {
        const text = [
            "{{- if .Values.crds.enabled }}",
            "apiVersion: apiextensions.k8s.io/v1",
            "kind: CustomResourceDefinition",
            "metadata:",
            "  name: things.example.com",
            "  labels:",
            "    {{- include \"x.labels\" . | nindent 4 }}",
            "    app.kubernetes.io/version: '{{ .Chart.AppVersion }}'",
            "spec: {}",
            "---",
            "apiVersion: v1",
            "kind: ConfigMap",
            "metadata: { name: x }",
            "{{- end }}",
        ].join("\n");
        const docs = crdDocuments(text);
        assert.equal(docs.length, 1);
        assert.ok(!docs[0]!.includes("{{"));
        assert.deepEqual(yaml.load(docs[0]!), { apiVersion: "apiextensions.k8s.io/v1", kind: "CustomResourceDefinition", metadata: { name: "things.example.com", labels: null }, spec: {} });
    });
});

describe("parsers of what a Helm repository sends", () => {
    it("chartUrlFromIndex: the archive URL, relative ones resolved against the index", () => {
        const index = "apiVersion: v1\nentries:\n  flux2:\n  - version: 2.18.2\n    urls: [old.tgz]\n  - version: 2.18.3\n    urls: [flux2-2.18.3.tgz]\n";
        assert.deepEqual(chartUrlFromIndex(index, "flux2", "2.18.3", "https://example.test/charts/index.yaml"), { url: "https://example.test/charts/flux2-2.18.3.tgz" });
        assert.deepEqual(chartUrlFromIndex(index, "flux2", "2.18.4", "https://example.test/index.yaml"), { error: "https://example.test/index.yaml lists no flux2 2.18.4 with a URL" });
        assert.deepEqual(chartUrlFromIndex(index, "contour", "0.7.0", "https://example.test/index.yaml"), { error: "https://example.test/index.yaml lists no chart contour" });
        // A version that YAML 1.2 would read as a number stays the string it is written as.
        assert.deepEqual(chartUrlFromIndex("entries:\n  x:\n  - version: 1.10\n    urls: [x.tgz]\n", "x", "1.10", "http://127.0.0.1/index.yaml"), { url: "http://127.0.0.1/x.tgz" });
        assert.ok("error" in chartUrlFromIndex("entries:\n  x:\n  - version: '1'\n    urls: ['file:///etc/passwd']\n", "x", "1", "http://127.0.0.1/index.yaml"));
    });

    it("chartUrlFromIndex: any text gives an http(s) URL or a one-line reason, never a throw (property)", () => {
        const scalar = fc.oneof(fc.string(), fc.constantFrom("1.0", "x", "file:///x", "https://h/x.tgz", "//evil/x", "&a", "*a", "[", "{"));
        const yamlish = fc.oneof(
            fc.string(),
            fc.tuple(scalar, scalar).map(([v, u]) => `entries:\n  x:\n  - version: ${v}\n    urls: [${u}]\n`),
            fc.tuple(scalar, scalar).map(([v, u]) => `entries: {x: [{version: ${JSON.stringify(v)}, urls: ${u}}]}`),
        );
        fc.assert(
            fc.property(yamlish, fc.oneof(scalar, fc.constant("1.0")), (text, version) => {
                const r = chartUrlFromIndex(text, "x", version, "http://127.0.0.1:1/index.yaml");
                if ("url" in r) assert.match(new URL(r.url).protocol, /^https?:$/);
                else assert.ok(!r.error.includes("\n"), r.error);
            }),
            { numRuns: 500 },
        );
    });

    it("entryPath: a path inside the chart directory, or refused (property)", () => {
        const segment = fc.oneof(fc.constantFrom("..", ".", "", "openfaas", "templates", "a\\b", "x\0"), fc.string({ maxLength: 8 }));
        fc.assert(
            fc.property(fc.array(segment, { maxLength: 6 }), fc.boolean(), (parts, lead) => {
                const entry = (lead ? "/" : "") + parts.join("/");
                const r = entryPath(entry, "openfaas");
                if ("error" in r) return;
                const root = "/cache/openfaas";
                const abs = path.posix.resolve(root, r.path);
                assert.ok(abs.startsWith(root + "/"), `${entry} -> ${abs}`);
                assert.ok(!r.path.split("/").some((p) => p === ".." || p === "." || p === ""));
            }),
            { numRuns: 2000 },
        );
        assert.deepEqual(entryPath("openfaas/templates/a.yaml", "openfaas"), { path: "templates/a.yaml" });
        assert.ok("error" in entryPath("openfaas/../../etc/passwd", "openfaas"));
        assert.ok("error" in entryPath("contour/values.yaml", "openfaas"));
    });

    it("readChartArchive: a symbolic link, a truncated archive and one that is no archive are refused", async (t) => {
        const stage = tmpDir(t, "ofg-upstream-link-");
        fs.mkdirSync(path.join(stage, "x", "templates"), { recursive: true });
        fs.writeFileSync(path.join(stage, "x", "values.yaml"), "a: 1\n");
        fs.symlinkSync("/etc/passwd", path.join(stage, "x", "templates", "passwd"));
        tar.c({ gzip: true, sync: true, file: path.join(stage, "x.tgz"), cwd: stage }, ["x"]);
        await assert.rejects(readChartArchive(fs.readFileSync(path.join(stage, "x.tgz")), "x"), /"x\/templates\/passwd" is a SymbolicLink; a chart archive holds only files and directories/);
        await assert.rejects(readChartArchive(Buffer.from("not a tar at all, not even gzip"), "x"), /TAR_BAD_ARCHIVE/);
        fs.rmSync(path.join(stage, "x", "templates", "passwd"));
        const whole = tar.c({ gzip: true, sync: true, cwd: stage }, ["x"]).read() as Buffer;
        assert.deepEqual([...(await readChartArchive(whole, "x")).keys()], ["values.yaml"]);
        await assert.rejects(readChartArchive(whole.subarray(0, whole.length - 8), "x"), /unexpected end of file/);
    });
});

describe("the charts from a Helm repository on loopback", { skip: !haveShared && NO_SHARED }, () => {
    let repo: HelmRepo;
    const served = CHART_NAMES.map((c) => ({ chart: CHARTS[c].chart, version: CHARTS[c].version, dir: sharedChart(c) }));

    before(async () => {
        repo = await startHelmRepo(served);
    });
    after(async () => {
        await repo?.close();
        assert.ok(repo.requests.every((r) => isLoopback(r.remote)), `the repository saw only loopback clients: ${JSON.stringify(repo.requests.map((r) => r.remote))}`);
    });

    it("are downloaded once, by version, verified and unpacked into the cache; the second run makes no request", async (t) => {
        const cacheDir = tmpDir(t, "ofg-upstream-cache-");
        const lines: string[] = [];
        const before = repo.requests.length;
        const first = await ensureUpstream(isolated(repo, cacheDir, lines));
        assert.equal(first.kind, "download");
        assert.deepEqual(
            repo.requests.slice(before).map((r) => r.path),
            CHART_NAMES.flatMap((c) => [`/${CHARTS[c].chart}/index.yaml`, `/${CHARTS[c].chart}/${CHARTS[c].chart}-${CHARTS[c].version}.tgz`]),
        );
        assert.match(lines.at(-1)!, new RegExp(`^the pinned charts: downloaded from their Helm repositories into ${cacheDir} \\(the tools cache\\), digests verified; CRDs from the charts$`));
        for (const c of CHART_NAMES) {
            // Every file of the chart, not only the digested ones, as served.
            assert.deepEqual(readTree(first.charts[c]), readTree(sharedChart(c)), c);
            assert.ok(first.charts[c].startsWith(cacheDir + path.sep));
        }
        assert.deepEqual(fs.readdirSync(cacheDir).filter((f) => f.includes(".tmp-")), []);
        assert.equal(crdsByName(first.crds().map((c) => c.yaml)).size, 33);

        const again = await ensureUpstream(isolated(repo, cacheDir, lines));
        assert.equal(repo.requests.length, before + 2 * CHART_NAMES.length, "no request on the second run");
        assert.equal(again.kind, "cache");
        assert.deepEqual(again.charts, first.charts);
        assert.match(lines.at(-1)!, /^the pinned charts: .* \(the tools cache, downloaded before\); CRDs from the charts$/);
        // The synchronous form finds them in the cache too, without a child process or a request.
        assert.equal(upstreamSync(isolated(repo, cacheDir, lines)).kind, "cache");
        assert.equal(repo.requests.length, before + 2 * CHART_NAMES.length);
    });

    it("the synchronous form (installCrds, the tests' chart paths) downloads in a child process into the cache", async (t) => {
        // The repository runs on a worker thread: this thread is blocked while the child downloads.
        const worker = new Worker(
            `require("tsx/cjs");
            const { parentPort, workerData } = require("node:worker_threads");
            require(workerData.module).startHelmRepo(workerData.served).then((repo) => {
                parentPort.postMessage({ repos: Object.fromEntries(workerData.served.map((s) => [s.chart, repo.repo(s.chart)])) });
                parentPort.once("message", () => repo.close().then(() => parentPort.postMessage({ requests: repo.requests })));
            });`,
            { eval: true, workerData: { module: path.join(__dirname, "support", "helm-repo.ts"), served } },
        );
        t.after(() => worker.terminate());
        const { repos } = (await once(worker, "message"))[0] as { repos: Record<string, string> };
        const cacheDir = tmpDir(t, "ofg-upstream-cache-");
        const found = upstreamSync(isolated({ repo: (c) => repos[c]! }, cacheDir, []));
        assert.equal(found.kind, "cache");
        for (const c of CHART_NAMES) assert.equal(chartTreeDigest(readTree(found.charts[c])), pinned(c), c);
        worker.postMessage("done");
        const { requests } = (await once(worker, "message"))[0] as { requests: { path: string; remote: string }[] };
        assert.equal(requests.length, 2 * CHART_NAMES.length);
        assert.ok(requests.every((r) => isLoopback(r.remote)), JSON.stringify(requests));
    });

    it("a tampered archive is refused with both digests, the chart and the URL; nothing of it is left in the cache", async (t) => {
        const cacheDir = tmpDir(t, "ofg-upstream-cache-");
        const copy = tmpDir(t, "ofg-upstream-tampered-");
        fs.cpSync(sharedChart("contour"), copy, { recursive: true });
        fs.appendFileSync(path.join(copy, "templates", "contour", "deployment.yaml"), "\n# one more line\n");
        const tampered = await startHelmRepo(served.map((s) => (s.chart === "contour" ? { ...s, tgz: packChart("contour", copy) } : s)));
        t.after(() => tampered.close());
        const got = chartTreeDigest(readTree(copy));
        const url = `${tampered.repo("contour")}contour-0.7.0.tgz`;
        await assert.rejects(ensureUpstream(isolated(tampered, cacheDir, [])), (e: Error) => {
            assert.ok(e.message.startsWith(`contour 0.7.0 from ${url} has digest ${got}, but model/charts.ts pins ${pinned("contour")}: nothing was written to the cache;`), e.message);
            assert.match(e.message, new RegExp(`put the new chart's digest in CHART_TREE_DIGESTS .* ${UPSTREAM_ENV}`));
            assert.ok(!e.message.includes("\n"));
            return true;
        });
        // The two charts before it were verified and kept; nothing of contour, not even a temporary directory.
        assert.deepEqual(fs.readdirSync(cacheDir).map((f) => f.replace(/-[0-9a-f]{16}$/, "")).sort(), ["openfaas-15.0.6", "sealed-secrets-2.18.5"]);
        assert.ok(tampered.requests.every((r) => isLoopback(r.remote)));
    });

    it("a repository without the chart, and an answer over the size cap, are one line each", async (t) => {
        const partial = await startHelmRepo(served.filter((s) => s.chart !== "openfaas"));
        t.after(() => partial.close());
        const cacheDir = tmpDir(t, "ofg-upstream-cache-");
        await assert.rejects(ensureUpstream(isolated(partial, cacheDir, [])), (e: Error) => {
            assert.ok(e.message.startsWith(`cannot get the pinned chart openfaas 15.0.6: ${partial.repo("openfaas")}index.yaml answered 404 Not Found; there is no ../shared/upstream either: give this machine access to ${partial.repo("openfaas")}, or set ${UPSTREAM_ENV}`), e.message);
            assert.ok(!e.message.includes("\n"));
            return true;
        });
        assert.deepEqual(fs.readdirSync(cacheDir), []);
        const url = `${partial.repo("flux2")}flux2-2.18.3.tgz`;
        await assert.rejects(download(url, 1000), new RegExp(`^Error: ${url} sent more than 1000 bytes$`));
        const files = await readChartArchive(await download(url, 16 * 1024 * 1024), "flux2");
        assert.equal(chartTreeDigest(files), pinned("flux2"));
        assert.ok(partial.requests.every((r) => isLoopback(r.remote)));
    });

    it("../shared/upstream, when it is there, wins: no request", async () => {
        const before = repo.requests.length;
        const lines: string[] = [];
        const found = await ensureUpstream({ ...isolated(repo, tmpDir(undefined, "ofg-upstream-unused-"), lines), shared: SHARED_UPSTREAM });
        assert.equal(found.kind, "shared");
        assert.equal(found.shared, SHARED_UPSTREAM);
        assert.deepEqual(lines, [`the pinned charts and CRDs: ${SHARED_UPSTREAM} (../shared/upstream)`]);
        assert.deepEqual(found.crds().map((c) => c.name), ["cert-manager.yaml", "contour.yaml", "flux.yaml", "openfaas.yaml", "sealed-secrets.yaml"]);
        assert.equal(repo.requests.length, before);
    });

    it(`${UPSTREAM_ENV}: the charts unpacked in a directory, verified, with no request; a wrong one refused by name`, async (t) => {
        const dir = tmpDir(t, "ofg-upstream-knob-");
        for (const c of CHART_NAMES) fs.cpSync(sharedChart(c), path.join(dir, CHARTS[c].chart), { recursive: true });
        const before = repo.requests.length;
        const lines: string[] = [];
        const opts = { ...isolated(repo, tmpDir(t, "ofg-upstream-cache-"), lines), shared: SHARED_UPSTREAM, env: { [UPSTREAM_ENV]: dir } };
        const found: Upstream = await ensureUpstream(opts);
        assert.equal(found.kind, "dir");
        assert.deepEqual(lines, [`the pinned charts: ${dir} (${UPSTREAM_ENV}), their digests verified; CRDs from the charts`]);
        assert.equal(crdsByName(found.crds().map((c) => c.yaml)).size, 33);
        assert.equal(repo.requests.length, before);

        // The chart as committed in cert-manager's git (before its release tool sets the version).
        fs.copyFileSync(path.join(SHARED_UPSTREAM, "chart-values", "cert-manager", "Chart.yaml"), path.join(dir, "cert-manager", "Chart.yaml"));
        await assert.rejects(ensureUpstream(opts), new RegExp(`^Error: cert-manager from ${UPSTREAM_ENV}=${dir} is chart cert-manager v0.0.0, not cert-manager v1.21.1 \\(model/charts.ts\\): put the pinned version there`));
        fs.rmSync(path.join(dir, "flux2"), { recursive: true });
        fs.copyFileSync(path.join(sharedChart("cert-manager"), "Chart.yaml"), path.join(dir, "cert-manager", "Chart.yaml"));
        await assert.rejects(ensureUpstream(opts), new RegExp(`^Error: ${UPSTREAM_ENV}=${dir} has no flux2/Chart.yaml: set ${UPSTREAM_ENV} to a directory holding the pinned charts unpacked`));
    });
});

describe("a clone with no ../shared beside it", { skip: !haveShared && NO_SHARED }, () => {
    it(`installCrds applies the CRDs of the charts in ${UPSTREAM_ENV} (it died with ENOENT scandir .../shared/upstream/crds)`, (t) => {
        // The tracked files in <tmp>/repo, so <tmp>/shared does not exist, and the charts in <tmp>/charts.
        const top = tmpDir(t, "ofg-upstream-clone-");
        const repo = path.join(top, "repo");
        const root = path.resolve(__dirname, "..");
        for (const f of execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: root, encoding: "utf8" }).split("\0").filter(Boolean)) {
            if (!fs.existsSync(path.join(root, f))) continue;
            fs.mkdirSync(path.dirname(path.join(repo, f)), { recursive: true });
            fs.copyFileSync(path.join(root, f), path.join(repo, f));
        }
        fs.symlinkSync(path.join(root, "node_modules"), path.join(repo, "node_modules"));
        for (const c of CHART_NAMES) fs.cpSync(sharedChart(c), path.join(top, "charts", CHARTS[c].chart), { recursive: true });
        // A control plane that only records what it is given: what is applied is the point here.
        const script = `
            const applied = [];
            const cp = { kubectl: (args, input) => {
                if (args[0] === "apply") applied.push(input);
                return "";
            } };
            require("./tools/controlplane").installCrds(cp);
            const names = applied.flatMap((t) => require("js-yaml").loadAll(t)).filter((d) => d && d.kind === "CustomResourceDefinition").map((d) => d.metadata.name);
            process.stdout.write(JSON.stringify(names));`;
        const env = { ...process.env, [UPSTREAM_ENV]: path.join(top, "charts"), OPENFAAS_GITOPS_CACHE: path.join(top, "cache") };
        const out = execFileSync(process.execPath, ["--import", "tsx", "-e", script], { cwd: repo, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
        const shared = crdsByName(fs.readdirSync(path.join(SHARED_UPSTREAM, "crds")).map((f) => fs.readFileSync(path.join(SHARED_UPSTREAM, "crds", f), "utf8")));
        assert.deepEqual((JSON.parse(out) as string[]).sort(), [...shared.keys()].sort());
    });
});

describe("without ../shared/upstream and without network", () => {
    it("one line says which URL could not be reached and what to do, from the async and the synchronous form; nothing is cached", async (t) => {
        const closed = await freePort();
        const cacheDir = tmpDir(t, "ofg-upstream-cache-");
        const opts = isolated({ repo: (c) => `http://127.0.0.1:${closed}/${c}/` }, cacheDir, []);
        const want = new RegExp(
            `^cannot get the pinned chart openfaas 15\\.0\\.6: could not reach http://127\\.0\\.0\\.1:${closed}/openfaas/index\\.yaml: connect ECONNREFUSED 127\\.0\\.0\\.1:${closed}; ` +
                `there is no \\.\\./shared/upstream either: give this machine access to http://127\\.0\\.0\\.1:${closed}/openfaas/, or set ${UPSTREAM_ENV} to a directory holding the pinned charts unpacked \\(helm pull <chart> --repo <repo> --version <version> --untar -d <dir>, for each chart in model/charts\\.ts\\)$`,
        );
        await assert.rejects(ensureUpstream(opts), (e: Error) => (assert.match(e.message, want), true));
        // The synchronous form (installCrds, the tests' chart paths) downloads in a child process and throws its line.
        assert.throws(() => upstreamSync(opts), (e: Error) => (assert.match(e.message, want), true));
        assert.deepEqual(fs.readdirSync(cacheDir), []);
    });
});

describe("the CRDs from the charts on the real kube-apiserver", { skip: (!haveShared && NO_SHARED) || (!controlPlaneAvailable() && "no Go toolchain and no cached control plane") }, () => {
    let cp: ControlPlane;
    after(async () => {
        await cp?.stop();
    });

    it("are accepted and Established, the same 33 as from ../shared/upstream/crds", async () => {
        cp = await startControlPlane();
        const dir = tmpDir(undefined, "ofg-upstream-knob-");
        for (const c of CHART_NAMES) fs.cpSync(sharedChart(c), path.join(dir, CHARTS[c].chart), { recursive: true });
        try {
            const fromCharts = await ensureUpstream({ env: { [UPSTREAM_ENV]: dir }, log: () => undefined });
            const names = installCrds(cp, fromCharts);
            assert.equal(names.length, 33);
            assert.deepEqual(names.map((n) => n.replace(/^customresourcedefinition\.apiextensions\.k8s\.io\//, "")).sort(), [...crdsByName(fs.readdirSync(path.join(SHARED_UPSTREAM, "crds")).map((f) => fs.readFileSync(path.join(SHARED_UPSTREAM, "crds", f), "utf8"))).keys()].sort());
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
