/**
 * Hostile input to config reading (issue 20): the functions file, the stack config and the policy
 * pack's view of them. Each case was a defect: accepted, or answered with unbounded time or text.
 */
import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import fc from "fast-check";
import { applyOverrides } from "../config/functions";
import { parseStackYml } from "../config/stack-yml/parse";
import { formatProblem, PROBLEM_CAPS } from "../model/problem";
import { expandedSize, MAX_YAML_SIZE } from "../model/yaml";

/** Every problem of a stack.yml text, as the config error prints them. */
function printed(text: string): string[] {
    const parsed = parseStackYml(text, "functions/stack.yml");
    const applied = applyOverrides(parsed.functions, {}, { pro: false, schedules: true, file: "functions/stack.yml", configKey: "openfaas-gitops:functions" });
    return [...parsed.problems, ...applied.problems].map(formatProblem);
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
    it("an alias bomb of 436 bytes is refused at once, naming the file (it was walked expanded and printed 39 million characters)", () => {
        const text = aliasBomb(7, "    readOnlyRootFilesystem: BOMB\n    secrets: BOMB\n");
        assert.ok(text.length < 450);
        const started = Date.now();
        const lines = printed(text);
        assert.ok(Date.now() - started < 1000, `took ${Date.now() - started} ms`);
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

    it("property: any YAML-ish text of a few KB is read or refused within a second, every printed problem bounded", () => {
        const token = fc.constantFrom(
            "functions:\n", "  f:\n", "  g-h:\n", "    image: ", "x/y:1", "    secrets: ", "    labels: ", "    environment: ", "    schedules: ",
            "    readOnlyRootFilesystem: ", "x-a: &a ", "x-b: &b ", "*a", "*b", "[*a, *a, *a, *a, *a, *a, *a, *a]", "[*b, *b, *b, *b, *b, *b, *b, *b]",
            "{<<: *a}", "[", "]", "{", "}", ", ", ": ", "\n", "- ", "'", '"', "${X}", "&c ", "*c", "null", "yes", "- {name: a, cron: '* * * * *'}",
        );
        const texts = fc.oneof(
            fc.array(fc.oneof(token, fc.string({ maxLength: 200 })), { maxLength: 120 }).map((parts) => parts.join("")),
            fc.tuple(fc.integer({ min: 1, max: 12 }), fc.constantFrom("    secrets: BOMB\n", "    labels: {a: BOMB}\n", "    readOnlyRootFilesystem: BOMB\n", "    schedules: BOMB\n")).map(([n, use]) => aliasBomb(n, use)),
        );
        fc.assert(
            fc.property(texts, (text) => {
                const started = Date.now();
                const lines = printed(text);
                assert.ok(Date.now() - started < 1000, `took ${Date.now() - started} ms`);
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
