/**
 * Nothing from a checkout may write outside the work directory: a real git repository whose commits
 * hold symlinks, checked out by the agent's git source and installed with the real `npm ci`
 * (agent/deps.ts), as the reconciler runs them; the link check itself under random trees; and the
 * artifact limit settings. The engine is a TEST DOUBLE that counts its runs (nothing here needs the
 * Pulumi CLI: the point is whether anything runs at all).
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import * as fc from "fast-check";
import { prepareDependencies } from "../agent/deps";
import { Engine } from "../agent/engine";
import { GitSource } from "../agent/git";
import { PermanentError } from "../agent/errors";
import { Reconciler } from "../agent/reconciler";
import { Reason } from "../agent/status";
import { sizeBytes } from "../agent/contract";
import { DEFAULT_ARTIFACT_LIMITS, parseSettings, SettingsError } from "../agent/settings";
import { assertContained, regularFileBytes } from "../agent/worktree";
import { makeRepo } from "./support/gitrepo";
import { tempDir } from "./support/tmp";

/** A project npm ci installs offline: no dependencies, so no registry. */
const PROJECT = {
    "Pulumi.yaml": "name: x\nruntime: nodejs\n",
    "package.json": JSON.stringify({ name: "x", version: "1.0.0" }),
    "package-lock.json": JSON.stringify({ name: "x", version: "1.0.0", lockfileVersion: 3, requires: true, packages: { "": { name: "x", version: "1.0.0" } } }),
};

describe("git checkout: links out of the work directory", () => {
    it("a commit whose node_modules links outside is refused before npm ci runs, and the victim stays intact; the next clean commit applies", async () => {
        const root = tempDir("ofg-worktree-");
        const victim = path.join(root, "victim");
        fs.mkdirSync(victim);
        fs.writeFileSync(path.join(victim, "keep"), "outside the work directory");
        const repo = makeRepo();
        // The checkout is <root>/work/checkout: ../../victim is <root>/victim.
        fs.symlinkSync("../../victim", path.join(repo.work, "node_modules"));
        const bad = repo.commit(PROJECT, "node_modules as a link");
        let ups = 0;
        /** TEST DOUBLE of the engine interface: counts runs. */
        const engine: Engine = {
            up: async () => (ups++, { changes: { same: 1 }, changed: [] }),
            detectDrift: async () => ({ changes: {}, changed: [] }),
            correctDrift: async () => ({ changes: {}, changed: [] }),
        };
        const git = new GitSource({ repoUrl: `file://${repo.bare}`, branch: "main", verifySignatures: "off", workDir: path.join(root, "work") });
        const reconciler = new Reconciler({
            source: { head: (h) => git.head(h), checkout: (r) => git.checkout(r), verify: (r) => git.verify(r) },
            engine,
            clock: Date.now,
            isLeader: () => true,
            prepare: (dir, log) => prepareDependencies(dir, log).then(() => undefined),
            settings: { backoffBaseMs: 1000, backoffCapMs: 1000, stalledAfter: 5, driftMode: "correct" },
        });
        const d = await reconciler.sync("poll");
        assert.equal(d.action, "failed");
        assert.deepEqual(fs.readdirSync(victim), ["keep"], "npm ci never ran through the link");
        assert.equal(ups, 0);
        assert.equal(reconciler.status.stalledReason, Reason.VerificationFailed);
        assert.match(reconciler.status.applyError!, new RegExp(`revision ${bad} is refused: node_modules -> \\.\\./\\.\\./victim \\(node_modules must be a directory`));
        assert.equal(fs.lstatSync(path.join(git.checkoutDir, "node_modules"), { throwIfNoEntry: false }), undefined, "the link is removed at once");

        fs.unlinkSync(path.join(repo.work, "node_modules"));
        const good = repo.commit({ ".gitignore": "node_modules/\n", "docs": "see README\n", "README": "x\n" }, "no link");
        fs.symlinkSync("README", path.join(repo.work, "LINK"));
        const withInnerLink = repo.commit({}, "a link inside the repository");
        assert.notEqual(good, withInnerLink);
        assert.equal((await reconciler.sync("poll")).action, "applied");
        assert.equal(reconciler.status.lastAppliedRevision, withInnerLink);
        assert.equal(ups, 1);
        assert.ok(fs.lstatSync(path.join(git.checkoutDir, "node_modules")).isDirectory(), "npm ci made a real node_modules");
        assert.equal(fs.readFileSync(path.join(git.checkoutDir, "LINK"), "utf8"), "x\n");
        assert.deepEqual(fs.readdirSync(victim), ["keep"]);
    });

    it("a link anywhere in a commit that leads out of the checkout is refused, naming it", async () => {
        const root = tempDir("ofg-worktree-");
        const repo = makeRepo();
        fs.mkdirSync(path.join(repo.work, "infra"));
        fs.symlinkSync("/etc", path.join(repo.work, "infra", "etc"));
        const rev = repo.commit({ "a.txt": "1" });
        const git = new GitSource({ repoUrl: `file://${repo.bare}`, branch: "main", verifySignatures: "off", workDir: root });
        await assert.rejects(git.checkout(rev), (e: Error) => e instanceof PermanentError && /infra\/etc -> \/etc \(leads outside the checkout\)/.test(e.message));
    });
});

describe("assertContained under random trees", () => {
    const SEGMENTS = ["..", ".", "a", "b", "node_modules", "f"];
    const entry = fc.record({
        at: fc.constantFrom("l1", "a/l2", "a/b/l3", "node_modules"),
        target: fc.oneof(fc.array(fc.constantFrom(...SEGMENTS), { minLength: 1, maxLength: 5 }).map((s) => s.join("/")), fc.constant("/tmp")),
    });
    it("afterwards no link leads outside; links that stay inside and are not node_modules are kept; it throws exactly when it removed one", () => {
        fc.assert(
            fc.property(fc.uniqueArray(entry, { selector: (e) => e.at, maxLength: 4 }), (links) => {
                const root = tempDir("ofg-contained-");
                const tree = path.join(root, "tree");
                fs.mkdirSync(path.join(tree, "a", "b"), { recursive: true });
                fs.writeFileSync(path.join(tree, "f"), "f");
                for (const l of links) fs.symlinkSync(l.target, path.join(tree, l.at));
                const treeReal = fs.realpathSync(tree);
                const inside = (p: string) => !path.relative(treeReal, p).startsWith("..") && !path.isAbsolute(path.relative(treeReal, p));
                const realBefore = (at: string) => { try { return fs.realpathSync(path.join(tree, at)); } catch { return undefined; } };
                // Safe: not node_modules, and inside both by its text and where it (and any link it passes) leads.
                const safeNow = new Set(links.filter((l) => {
                    const real = realBefore(l.at);
                    return path.basename(l.at) !== "node_modules" && inside(path.resolve(treeReal, path.dirname(l.at), l.target)) && (real === undefined || inside(real));
                }));
                let threw = false;
                try {
                    assertContained(tree, "the tree", links.map((l) => l.at));
                } catch (e) {
                    assert.ok(e instanceof PermanentError);
                    threw = true;
                }
                const left = links.filter((l) => fs.lstatSync(path.join(tree, l.at), { throwIfNoEntry: false }));
                for (const l of left) {
                    const real = (() => { try { return fs.realpathSync(path.join(tree, l.at)); } catch { return undefined; } })();
                    assert.ok(real === undefined || inside(real), `${l.at} -> ${l.target} leads outside`);
                    assert.ok(path.basename(l.at) !== "node_modules");
                }
                for (const l of safeNow) assert.ok(left.includes(l), `${l.at} -> ${l.target} was removed`);
                assert.equal(threw, left.length < links.length);
                fs.rmSync(root, { recursive: true });
            }),
            { numRuns: 150 },
        );
    });
});

describe("a tree with a very large directory", () => {
    // An artifact may hold one directory of 200,000 empty files (200,000 tar headers: about 100 MB,
    // within the default unpacked limit). The walk spread each directory's entries into a call's
    // arguments, so the check ended in "Maximum call stack size exceeded" instead of a verdict.
    it("is walked: assertContained accepts it and regularFileBytes adds its files up", () => {
        const root = tempDir("ofg-wide-");
        const dir = path.join(root, "tree", "sub");
        fs.mkdirSync(dir, { recursive: true });
        for (let i = 0; i < 200_000; i++) fs.closeSync(fs.openSync(path.join(dir, `f${i}`), "w"));
        fs.writeFileSync(path.join(dir, "f0"), "12345");
        try {
            assertContained(path.join(root, "tree"), "the wide tree");
            assert.equal(regularFileBytes(path.join(root, "tree")), 5);
        } finally {
            fs.rmSync(root, { recursive: true, force: true });
        }
    });
});

describe("artifact limit settings", () => {
    it("sizes are whole bytes or Ki, Mi, Gi; anything else is undefined, never an exception", () => {
        fc.assert(fc.property(fc.integer({ min: 0, max: 999_999_999_999 }), (n) => sizeBytes(String(n)) === n), { numRuns: 200 });
        fc.assert(fc.property(fc.integer({ min: 0, max: 4096 }), fc.constantFrom(["Ki", 2 ** 10], ["Mi", 2 ** 20], ["Gi", 2 ** 30]), (n, [unit, f]) => sizeBytes(`${n}${unit}`) === n * (f as number)), { numRuns: 200 });
        fc.assert(fc.property(fc.string({ maxLength: 30 }), (s) => {
            const v = sizeBytes(s);
            return v === undefined || (Number.isSafeInteger(v) && v >= 0 && /^\d+(Ki|Mi|Gi)?$/.test(s));
        }), { numRuns: 500 });
        assert.deepEqual(DEFAULT_ARTIFACT_LIMITS, { timeoutMs: 120_000, maxBytes: 50 * 2 ** 20, maxExtractedBytes: 100 * 2 ** 20 });
    });

    it("flux mode reads them; a bad one names the variable, its value (cut) and the expected form", () => {
        const base = { AGENT_SOURCE: "flux", AGENT_STACK: "dev" };
        const s = parseSettings({ ...base, AGENT_ARTIFACT_TIMEOUT: "30", AGENT_ARTIFACT_MAX_BYTES: "10Mi", AGENT_ARTIFACT_MAX_EXTRACTED_BYTES: "1Gi" }, [], () => true);
        assert.deepEqual(s.artifact, { timeoutMs: 30_000, maxBytes: 10 * 2 ** 20, maxExtractedBytes: 2 ** 30 });
        assert.deepEqual(parseSettings(base, [], () => true).artifact, DEFAULT_ARTIFACT_LIMITS);
        const problems = (env: Record<string, string>) => {
            try {
                parseSettings({ ...base, ...env }, [], () => true);
            } catch (e) {
                assert.ok(e instanceof SettingsError);
                return e.message;
            }
            return "";
        };
        assert.match(problems({ AGENT_ARTIFACT_MAX_BYTES: "50MB" }), /AGENT_ARTIFACT_MAX_BYTES \(--artifact-max-bytes\) = "50MB": expected a size from 1Ki to 16Gi, in bytes or with Ki, Mi or Gi, e.g. 50Mi/);
        assert.match(problems({ AGENT_ARTIFACT_MAX_EXTRACTED_BYTES: "17Gi" }), /AGENT_ARTIFACT_MAX_EXTRACTED_BYTES \(--artifact-max-extracted-bytes\) = "17Gi"/);
        assert.match(problems({ AGENT_ARTIFACT_MAX_BYTES: "x".repeat(500) }), new RegExp(`= "${"x".repeat(40)}": expected`));
        assert.match(problems({ AGENT_ARTIFACT_TIMEOUT: "0" }), /AGENT_ARTIFACT_TIMEOUT \(--artifact-timeout\) = "0": expected whole seconds from 5 to 3600/);
    });
});
