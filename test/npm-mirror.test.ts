/**
 * The lockfile's npm mirror (tools/npm-mirror.ts): the agent's own install step (agent/deps.ts,
 * real `npm ci --ignore-scripts` with an empty npm cache) takes a project's dependencies from it,
 * named in the project's committed `.npmrc` as an air-gapped cluster would name its mirror; every
 * request comes from loopback; what the host's cache lacks is refused by name; the request paths
 * are checked under fast-check.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { prepareDependencies } from "../agent/deps";
import { lockedPackages, NpmMirror, parseMirrorPath, startNpmMirror } from "../tools/npm-mirror";
import { ROOT } from "./helpers";
import { tempDir } from "./support/tmp";

const projectLock = JSON.parse(fs.readFileSync(path.join(ROOT, "package-lock.json"), "utf8"));

/** A project depending on js-yaml (and so argparse) at this project's locked versions. */
function smallProject(dir: string, registry: string): void {
    const entry = (name: string) => projectLock.packages[`node_modules/${name}`];
    const jsYaml = entry("js-yaml");
    fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "mirrored", version: "1.0.0", dependencies: { "js-yaml": jsYaml.version } }));
    fs.writeFileSync(path.join(dir, "package-lock.json"), JSON.stringify({
        name: "mirrored",
        version: "1.0.0",
        lockfileVersion: 3,
        requires: true,
        packages: {
            "": { name: "mirrored", version: "1.0.0", dependencies: { "js-yaml": jsYaml.version } },
            "node_modules/js-yaml": jsYaml,
            "node_modules/argparse": entry("argparse"),
        },
    }));
    fs.writeFileSync(path.join(dir, ".npmrc"), `registry=${registry}\n`);
}

describe("npm mirror of a lockfile from the host's npm cache", () => {
    const dir = tempDir("ofg-npm-mirror-");
    let mirror: NpmMirror;
    before(async () => {
        mirror = await startNpmMirror({ lockfile: projectLock });
    });
    after(async () => {
        await mirror?.close();
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("the agent's npm ci installs a project from it with an empty npm cache, every request from loopback", async () => {
        const project = path.join(dir, "ok");
        fs.mkdirSync(project);
        smallProject(project, mirror.url);
        // HOME is the agent's work directory: npm's cache under it starts empty, so everything comes from the mirror.
        const installed = await prepareDependencies(project, () => undefined, { PATH: process.env.PATH, HOME: path.join(dir, "home-ok") });
        assert.equal(installed, true);
        const yamlPkg = JSON.parse(fs.readFileSync(path.join(project, "node_modules", "js-yaml", "package.json"), "utf8"));
        assert.equal(yamlPkg.version, projectLock.packages["node_modules/js-yaml"].version);
        assert.ok(fs.existsSync(path.join(project, "node_modules", "argparse", "package.json")));
        assert.ok(mirror.requests.some((r) => r.path.endsWith(".tgz") && r.status === 200), JSON.stringify(mirror.requests));
        assert.deepEqual([...new Set(mirror.requests.map((r) => r.remote))], ["127.0.0.1"]);
    });

    it("a package the host's cache lacks fails the install with its name, and nothing else is fetched", async () => {
        const empty = path.join(dir, "empty-cache");
        fs.mkdirSync(empty);
        const bare = await startNpmMirror({ lockfile: projectLock, cache: empty });
        try {
            const project = path.join(dir, "missing");
            fs.mkdirSync(project);
            smallProject(project, bare.url);
            await assert.rejects(prepareDependencies(project, () => undefined, { PATH: process.env.PATH, HOME: path.join(dir, "home-missing") }), (e: Error) => {
                assert.match(e.message, /npm ci failed in/);
                assert.match(e.message, /404/);
                assert.match(e.message, /js-yaml|argparse/);
                return true;
            });
            const tarballs = bare.requests.filter((r) => r.path.endsWith(".tgz"));
            assert.ok(tarballs.length > 0 && tarballs.every((r) => r.status === 404), JSON.stringify(bare.requests));
        } finally {
            await bare.close();
        }
    });

    it("serves only the lockfile's packages: another package, version or method is a 404", async () => {
        const answer = async (p: string, method = "GET") => (await fetch(`${mirror.url}${p}`, { method })).status;
        assert.equal(await answer("js-yaml"), 200);
        assert.equal(await answer("left-pad"), 404);
        assert.equal(await answer("js-yaml/-/js-yaml-0.0.1.tgz"), 404);
        assert.equal(await answer("js-yaml", "PUT"), 404);
        assert.equal(await answer("..%2f..%2fetc%2fpasswd"), 404);
    });

    it("lockedPackages: registry entries by name and version; the root, workspace links and git entries left out; an alias under its real name", () => {
        const locked = lockedPackages({
            packages: {
                "": { name: "root", version: "1.0.0" },
                "node_modules/a": { version: "1.0.0", integrity: "sha512-a1" },
                "node_modules/b/node_modules/a": { version: "2.0.0", integrity: "sha512-a2" },
                "node_modules/@s/c": { version: "3.0.0", integrity: "sha512-c" },
                "node_modules/alias": { name: "real", version: "4.0.0", integrity: "sha512-r" },
                "node_modules/ws": { link: true },
                "node_modules/g": { version: "5.0.0", resolved: "git+ssh://git@github.com/x/g.git#abc", integrity: "sha512-g" },
            },
        });
        assert.deepEqual(Object.fromEntries([...locked].map(([n, v]) => [n, Object.fromEntries(v)])), {
            a: { "1.0.0": "sha512-a1", "2.0.0": "sha512-a2" },
            "@s/c": { "3.0.0": "sha512-c" },
            real: { "4.0.0": "sha512-r" },
        });
        assert.ok(lockedPackages(projectLock).has("js-yaml"));
        assert.equal(lockedPackages(projectLock).has("policies"), false);
    });

    it("property: any request path parses to a name without a `.` or `..` segment, or to nothing; never a throw", () => {
        fc.assert(
            fc.property(fc.oneof(fc.string(), fc.webPath(), fc.string().map((s) => `/${encodeURIComponent(s)}`)), (p) => {
                const r = parseMirrorPath(p);
                if (r === undefined) return;
                assert.ok(!r.name.split("/").some((s) => s === "." || s === ".." || s === ""), JSON.stringify(r));
                if (r.kind === "tarball") assert.ok(!r.file.includes("/"), JSON.stringify(r));
            }),
            { numRuns: 2000 },
        );
    });

    it("property: a package's packument and tarball paths, as npm writes them, parse back to its name", () => {
        const part = fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,20}$/).filter((s) => s !== "." && s !== "..");
        fc.assert(
            fc.property(fc.option(part, { nil: undefined }), part, fc.stringMatching(/^\d{1,3}\.\d{1,3}\.\d{1,3}$/), (scope, name, version) => {
                const full = scope ? `@${scope}/${name}` : name;
                assert.deepEqual(parseMirrorPath(`/${full.replace("/", "%2f")}`), { kind: "packument", name: full });
                assert.deepEqual(parseMirrorPath(`/${full}/-/${name}-${version}.tgz`), { kind: "tarball", name: full, file: `${name}-${version}.tgz` });
            }),
        );
    });
});
