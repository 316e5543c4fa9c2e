/**
 * Hostile input to config reading (issue 20): the functions file, the stack config and the policy
 * pack's view of them. Each case was a defect: accepted, or answered with unbounded time or text.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, describe, it, TestContext } from "node:test";
import fc from "fast-check";
import { ConfigError, parseConfig, projectFiles } from "../config";
import { projectRelativePath } from "../config/files";
import { applyOverrides } from "../config/functions";
import { substitute } from "../config/stack-yml/envsubst";
import { parseStackYml } from "../config/stack-yml/parse";
import { formatProblem, PROBLEM_CAPS } from "../model/problem";
import { expandedSize, MAX_YAML_SIZE } from "../model/yaml";
import { ROOT } from "./helpers";
import { offThread } from "./support/off-thread";
import { tempDir } from "./support/tmp";

/** Every problem of a parsed stack.yml, as the config error prints them. */
function problemsOf(parsed: ReturnType<typeof parseStackYml>): string[] {
    const applied = applyOverrides(parsed.functions, {}, { pro: false, schedules: true, file: "functions/stack.yml", configKey: "openfaas-gitops:functions" });
    return [...parsed.problems, ...applied.problems].map(formatProblem);
}

/** Every problem of a stack.yml text, as the config error prints them. */
const printed = (text: string) => problemsOf(parseStackYml(text, "functions/stack.yml"));

/**
 * The same, parsed on a worker thread (test/support/off-thread.ts), for input the old code walked for
 * minutes: the test's `timeout` then stops it.
 */
function printedOffThread(t: TestContext): (text: string) => Promise<string[]> {
    const parser = offThread(t, path.join(ROOT, "config/stack-yml/parse.ts"));
    return async (text) => problemsOf(await parser.call("parseStackYml", text, "functions/stack.yml"));
}

/** A "billion laughs" stack.yml: `levels` anchors, each a list of nine aliases to the one before. */
function aliasBomb(levels: number, use: string): string {
    let t = 'x-a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n';
    for (let i = 1; i < levels; i++) t += `x-a${i}: &a${i} [${Array(9).fill(`*a${i - 1}`).join(",")}]\n`;
    return `${t}functions:\n  f:\n    image: x/y:1\n${use.replaceAll("BOMB", `*a${levels - 1}`)}`;
}

/** Longest line formatProblem can print: the caps, quotes, separators and the notes of what was left out. */
const MAX_LINE = PROBLEM_CAPS.key + PROBLEM_CAPS.value + PROBLEM_CAPS.expected + 200;

describe("YAML aliases cannot blow up a small file", () => {
    it("an alias bomb of 436 bytes is refused, naming the file (it was walked expanded and printed 39 million characters)", { timeout: 30_000 }, async (t) => {
        const text = aliasBomb(7, "    readOnlyRootFilesystem: BOMB\n    secrets: BOMB\n");
        assert.ok(text.length < 450);
        const lines = await printedOffThread(t)(text);
        assert.equal(lines.length, 1);
        assert.match(lines[0]!, /^functions\/stack\.yml: with its aliases \(\*name\) expanded it is larger than 1 MiB \(a YAML alias bomb\?\)/);
    });

    it("an alias inside its own anchor (a cycle) is refused, not walked forever", () => {
        assert.match(printed("x-a: &a [1, *a]\nfunctions:\n  f: {image: 'x/y:1', secrets: *a}\n")[0]!, /used inside its own anchor/);
    });

    it("anchors and merge keys of ordinary size still work", () => {
        assert.deepEqual(printed("x-env: &env {A: '1'}\nfunctions:\n  f: {image: 'x/y:1', environment: {<<: *env, B: '2'}}\n"), []);
    });

    it("expandedSize: shared nodes count once per use, cycles are found, the walk stops past the cap", () => {
        const leaf = ["ab"];
        assert.equal(expandedSize({ k: leaf, l: leaf }), 1 + (1 + 1 + 3) * 2);
        const cyclic: unknown[] = [];
        cyclic.push(cyclic);
        assert.equal(expandedSize(cyclic), "cycle");
        let deep: unknown = ["x".repeat(100)];
        for (let i = 0; i < 60; i++) deep = [deep, deep];
        assert.ok((expandedSize(deep) as number) > MAX_YAML_SIZE);
    });

    it("property: any YAML-ish text of a few KB, alias bombs included, is read or refused, every printed problem bounded", { timeout: 60_000 }, async (t) => {
        const token = fc.constantFrom(
            "functions:\n", "  f:\n", "  g-h:\n", "    image: ", "x/y:1", "    secrets: ", "    labels: ", "    environment: ", "    schedules: ",
            "    readOnlyRootFilesystem: ", "x-a: &a ", "x-b: &b ", "*a", "*b", "[*a, *a, *a, *a, *a, *a, *a, *a]", "[*b, *b, *b, *b, *b, *b, *b, *b]",
            "{<<: *a}", "[", "]", "{", "}", ", ", ": ", "\n", "- ", "'", '"', "${X}", "&c ", "*c", "null", "yes", "- {name: a, cron: '* * * * *'}",
        );
        const texts = fc.oneof(
            fc.array(fc.oneof(token, fc.string({ maxLength: 200 })), { maxLength: 120 }).map((parts) => parts.join("")),
            fc.tuple(fc.integer({ min: 1, max: 12 }), fc.constantFrom("    secrets: BOMB\n", "    labels: {a: BOMB}\n", "    readOnlyRootFilesystem: BOMB\n", "    schedules: BOMB\n")).map(([n, use]) => aliasBomb(n, use)),
        );
        const parse = printedOffThread(t);
        await fc.assert(
            fc.asyncProperty(texts, async (text) => {
                const lines = await parse(text);
                for (const l of lines) assert.ok(l.length <= MAX_LINE, `a problem of ${l.length} characters`);
            }),
            { numRuns: 300 },
        );
    });
});

describe("one name, one object", () => {
    it("two schedules that make the same CronJob name are refused, naming both places", () => {
        const text = [
            "functions:",
            "  a:",
            "    image: x/a:1",
            "    schedules: [{name: b-c, cron: '@hourly'}]",
            "  a-b:",
            "    image: x/b:1",
            "    schedules: [{name: x, cron: '@hourly'}, {name: c, cron: '@daily'}]",
            "",
        ].join("\n");
        assert.deepEqual(printed(text), [
            'functions/stack.yml functions.a-b.schedules[1].name: "c" gives CronJob "a-b-c", the name functions/stack.yml functions.a.schedules[0].name already gives; rename one of the two schedules',
        ]);
    });
});

describe("image references and semver ranges are parsed, not pattern-matched", () => {
    it("a function image that is no image reference is refused in the functions file", () => {
        const lines = printed("functions:\n  f: {image: 'ghcr.io/openfaas/CertInfo:0.2.1 --privileged'}\n  g: {image: 'ghcr.io/openfaas/certinfo@sha256:abc'}\n  h: {image: 'ghcr.io/openfaas/certinfo:latest'}\n");
        assert.deepEqual(lines, [
            'functions/stack.yml functions.f.image = "ghcr.io/openfaas/CertInfo:0.2.1 --privileged": is not a valid image reference: tag "0.2.1 --privileged" is not 1 to 128 letters, digits, _ . and - (not starting with . or -); e.g. ghcr.io/org/fn:1.0.0',
            'functions/stack.yml functions.g.image = "ghcr.io/openfaas/certinfo@sha256:abc": is not a valid image reference: digest "sha256:abc": sha256 takes exactly 64 lower-case hex digits; e.g. ghcr.io/org/fn:1.0.0',
        ], "latest is the policy pack's pinned-images rule, advisory in dev");
    });

    it("imagePolicy.semver must be a range Flux can read", () => {
        const policy = (range: string) => printed(`functions:\n  f: {image: 'x/f:1.0.0', imagePolicy: {semver: ${JSON.stringify(range)}}}\n`);
        assert.deepEqual(policy("latest please"), ['functions/stack.yml functions.f.imagePolicy.semver = "latest please": not a semver range; expected e.g. ">=1.0.0 <2.0.0", "~1.2", "^1.2.3" or "1.x"']);
        for (const ok of [">=1.0.0 <2.0.0", ">=1.0.0, <2.0.0", "1.x", "~1.2", "^1.2.3", "1.0.0 || 2.x"]) assert.deepEqual(policy(ok), [], ok);
    });
});


describe("${VAR} substitution is linear", () => {
    // 40,000 references took 49 s when each copied the rest of the text; 100,000 would take minutes.
    // The time is measured by bench/input-parsers.ts; here the work is on a worker so the timeout stops it.
    it("100,000 references, set and unset, each substituted or reported on its own line", { timeout: 30_000 }, async (t) => {
        const envsubst = offThread(t, path.join(ROOT, "config/stack-yml/envsubst.ts"));
        const r = await envsubst.call<ReturnType<typeof substitute>>("substitute", "a: ${X}\n".repeat(100_000), { X: "1" });
        assert.equal(r.text, "a: 1\n".repeat(100_000));
        assert.deepEqual(r.problems, []);
        const bad = await envsubst.call<ReturnType<typeof substitute>>("substitute", "x: ${UNSET}\n".repeat(100_000), {});
        assert.equal(bad.problems.length, 100_000);
        assert.equal(bad.problems[99_999]!.line, 100_000);
    });

    it("defaults nested deeper than the stack allows are a problem, not a crash", () => {
        const deep = "${A:-".repeat(10_000) + "x" + "}".repeat(10_000);
        assert.match(substitute(deep, {}).problems[0]!.what, /nested more than 32 deep/);
        assert.deepEqual(substitute("${A:-".repeat(32) + "x" + "}".repeat(32), {}), { text: "x", problems: [] });
    });

    it("300,000 bad references inside a default that is not used are a result, not a stack overflow", () => {
        // 900 KB, under the 1 MiB cap of the functions file: the kept problems were spread into one
        // splice() call, "Maximum call stack size exceeded".
        const r = substitute("x: ${SET:-" + "${}".repeat(300_000) + "}\n", { SET: "v" });
        assert.equal(r.text, "x: v\n");
        assert.equal(r.problems.length, 300_000);
    });
});

describe("${VAR} substitution: properties", () => {
    const name = fc.stringMatching(/^[A-Za-z0-9_]{1,8}$/);
    /** Text that holds no `$`, so no reference and no escape. */
    const plain = fc.string({ maxLength: 40 }).map((t) => t.replaceAll("$", ""));
    const RUNS = { numRuns: 500 };

    it("text without $ is returned unchanged, with no problem", () => {
        fc.assert(fc.property(plain, fc.dictionary(name, fc.string()), (text, values) => assert.deepEqual(substitute(text, values), { text, problems: [] })), RUNS);
    });

    it("$$ is a literal $, so $${NAME} stays ${NAME}, whatever is set", () => {
        const parts = fc.array(fc.oneof(plain, fc.constant("$$"), name.map((n) => `$\${${n}}`)), { maxLength: 10 });
        fc.assert(
            fc.property(parts, fc.dictionary(name, fc.string()), (ps, values) => {
                assert.deepEqual(substitute(ps.join(""), values), { text: ps.map((p) => p.replace(/^\$\$/, "$")).join(""), problems: [] });
            }),
            RUNS,
        );
    });

    it("${NAME} of a set NAME becomes exactly its value, which is never substituted again", () => {
        fc.assert(
            fc.property(plain, name, fc.string(), plain, (before, n, value, after) => {
                assert.deepEqual(substitute(`${before}\${${n}}${after}`, { [n]: value }), { text: before + value + after, problems: [] });
            }),
            RUNS,
        );
    });

    it("${NAME:-d}, ${NAME:=d} and ${NAME=d} give d when NAME is unset or empty, the value otherwise", () => {
        const def = plain.map((d) => d.replaceAll("}", ""));
        fc.assert(
            fc.property(name, fc.constantFrom(":-", ":=", "="), def, fc.option(fc.string(), { nil: undefined }), (n, op, d, value) => {
                const values = value === undefined ? {} : { [n]: value };
                assert.deepEqual(substitute(`\${${n}${op}${d}}`, values), { text: value ? value : d, problems: [] });
            }),
            RUNS,
        );
    });

    it("an unset ${NAME} is a problem naming it and its line, and gives nothing", () => {
        fc.assert(
            fc.property(fc.array(plain, { maxLength: 5 }), name, plain, (lines, n, after) => {
                const before = lines.join("\n") + "\n";
                const r = substitute(`${before}\${${n}}${after}`, {});
                assert.equal(r.text, before + after);
                assert.equal(r.problems.length, 1);
                const [p] = r.problems;
                assert.equal(p!.line, before.split("\n").length);
                assert.equal(p!.unset, true);
                assert.ok(p!.what.startsWith(`\${${n}} is not set`), p!.what);
            }),
            RUNS,
        );
    });

    it("concatenation: a + b, each of complete pieces, substitutes as a then b, b's problems on their lines", () => {
        const piece = fc.oneof(
            plain,
            fc.constantFrom("\n", "{", "}", "$$", "$a", "$ ", "${X}", "${UNSET}", "${Y:-d}", "${EMPTY:=${X}}", "${X:-${UNSET}}", "${UNSET:-${UNSET}}", "${_1}", "${X^^}", "${-}", "${}"),
        );
        const text = fc.array(piece, { maxLength: 12 }).map((ps) => ps.join(""));
        const values = { X: "x-value", EMPTY: "", _1: "one\nline" };
        fc.assert(
            fc.property(text, text, (a, b) => {
                const ra = substitute(a, values);
                const rb = substitute(b, values);
                const shift = a.split("\n").length - 1;
                assert.deepEqual(substitute(a + b, values), {
                    text: ra.text + rb.text,
                    problems: [...ra.problems, ...rb.problems.map((p) => ({ ...p, line: p.line + shift }))],
                });
            }),
            { numRuns: 1000 },
        );
    });

    it("hand-picked cases", () => {
        const values = { X: "x-value", EMPTY: "" };
        const whats = (text: string) => substitute(text, values).problems.map((p) => p.what);
        assert.equal(substitute("a: $${X} $X $", values).text, "a: ${X} $X $");
        assert.equal(substitute("${EMPTY:-${X}}|${X:-${UNSET}}", values).text, "x-value|x-value");
        assert.deepEqual(substitute("${X:-${UNSET}}", values).problems, [], "an unset reference in an unused default is no problem");
        assert.match(whats("${EMPTY:-${UNSET}}")[0]!, /^\$\{UNSET\} is not set/);
        assert.match(whats("${X^^}")[0]!, /^"\$\{X\^\^\}": only \$\{NAME\}/);
        assert.match(whats("${-x}")[0]!, /^"\$\{-x\}" is not a variable reference/);
        assert.deepEqual(whats("a\n${X"), ['"${X" is never closed with }']);
        assert.deepEqual(substitute("a\n${X:-d", values).problems, [{ line: 2, what: "a ${ is never closed with }" }]);
    });
});

/** A scratch project with the real functions files, and a directory beside it that is not the project. */
const scratchDirs: string[] = [];
after(() => scratchDirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function scratch(): { project: string; outside: string } {
    const base = tempDir("ofg-hostile-");
    scratchDirs.push(base);
    const project = path.join(base, "project");
    const outside = path.join(base, "outside");
    fs.mkdirSync(path.join(project, "functions"), { recursive: true });
    fs.mkdirSync(outside);
    for (const f of ["stack.yml", "invoker.yml"]) fs.copyFileSync(path.join(ROOT, "functions", f), path.join(project, "functions", f));
    fs.copyFileSync(path.join(ROOT, "functions", "stack.yml"), path.join(outside, "stack.yml"));
    return { project, outside };
}

/** The problems of a dev-like stack in `dir` with the given values, as printed lines. */
function configProblems(dir: string, values: Record<string, string>): string[] {
    try {
        parseConfig({ stack: "dev", values, secretKeys: new Set(), files: projectFiles(dir) });
        return [];
    } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        return e.problems.map(formatProblem);
    }
}

describe("a functions file with a problem on every line", () => {
    // 130,000 unset ${U} in 1 MB (under the 1 MiB cap): Reader.addAll spread them into one push()
    // call, a RangeError instead of a config error; with that fixed, the error was 23 MB long.
    it("is a config error listing the first problems and counting the rest", () => {
        const { project } = scratch();
        fs.writeFileSync(path.join(project, "functions", "stack.yml"), "x: ${U}\n".repeat(130_000));
        const lines = configProblems(project, {});
        assert.equal(lines.length, 21);
        assert.match(lines[0]!, /^functions\/stack\.yml line 1: .*U/);
        assert.match(lines[20]!, /^functions\/stack\.yml: .*and 129980 more problems of \$\{VAR\} substitution/);
    });
});

describe("functionsFile and sealedSecretsDir stay inside the project", () => {
    it("absolute paths and paths that climb out are refused, naming the key", () => {
        const { project } = scratch();
        for (const [key, value] of [["functionsFile", "/etc/passwd"], ["functionsFile", "../outside/stack.yml"], ["functionsFile", "functions/../../outside/stack.yml"], ["sealedSecretsDir", "/etc"], ["sealedSecretsDir", "../.."]] as const) {
            const lines = configProblems(project, { [key]: value });
            assert.ok(lines.some((l) => l.startsWith(`openfaas-gitops:${key} = ${JSON.stringify(value)}: is `) && /(absolute|outside the project); give a path relative to the project root/.test(l)), `${key}=${value}: ${lines.join("\n")}`);
        }
    });

    it("a symlink inside the project that leads out of it is refused, naming the key or file", () => {
        const { project, outside } = scratch();
        fs.symlinkSync(path.join(outside, "stack.yml"), path.join(project, "functions", "linked.yml"));
        fs.mkdirSync(path.join(project, "secrets"));
        fs.symlinkSync(outside, path.join(project, "secrets", "dev"));
        const lines = configProblems(project, { functionsFile: "functions/linked.yml" });
        assert.ok(lines.includes('openfaas-gitops:functionsFile = "functions/linked.yml": cannot read it (functions/linked.yml resolves through a symlink to a path outside the project; keep it (and what it links to) inside the repository); give a path relative to the project root'), lines.join("\n"));
        assert.ok(lines.some((l) => l.startsWith('openfaas-gitops:sealedSecretsDir = "secrets/dev": cannot list it (secrets/dev resolves through a symlink')), lines.join("\n"));
    });

    it("a symlink that stays inside the project is followed; a normalised path is used", () => {
        const { project } = scratch();
        fs.symlinkSync("stack.yml", path.join(project, "functions", "alias.yml"));
        assert.deepEqual(configProblems(project, { functionsFile: "functions/alias.yml" }), []);
        assert.deepEqual(configProblems(project, { functionsFile: "./functions/../functions/stack.yml" }), []);
    });

    it("projectRelativePath: normalised, relative, inside", () => {
        assert.deepEqual(projectRelativePath("./a//b/"), { path: "a/b" });
        assert.ok("problem" in projectRelativePath("C:\\x"));
        assert.ok("problem" in projectRelativePath("."));
        assert.ok("problem" in projectRelativePath("a/../.."));
        fc.assert(
            fc.property(fc.array(fc.constantFrom("a", "b", "..", ".", "", "/"), { maxLength: 8 }).map((p) => p.join("/")), (given) => {
                const r = projectRelativePath(given);
                if ("path" in r) {
                    assert.ok(!path.posix.isAbsolute(r.path) && !r.path.split("/").includes(".."), r.path);
                    assert.equal(path.posix.resolve("/project", r.path).startsWith("/project/"), true);
                }
            }),
            { numRuns: 500 },
        );
    });
});
