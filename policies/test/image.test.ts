/**
 * The image-reference grammar (policies/shared/image.ts) against distribution/reference's: hand-picked
 * cases, generated valid references that must round-trip, and random strings checked against the
 * grammar written as one regular expression here (distribution's own form of it), as an oracle.
 */
import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import fc from "fast-check";
import { imageProblem, parseImageReference } from "../shared/image";

const HEX64 = "0123456789abcdef".repeat(4);

// distribution/reference's regexp.go, composed as it composes them.
const ALNUM = "[a-z0-9]+";
const SEPARATOR = "(?:[._]|__|[-]+)";
const PATH_COMPONENT = `${ALNUM}(?:${SEPARATOR}${ALNUM})*`;
const DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[(?:[a-fA-F0-9:]+)\\])(?::[0-9]+)?`;
const TAG = "[\\w][\\w.-]{0,127}";
const DIGEST = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}";
const REFERENCE = new RegExp(`^((?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*)(?::(${TAG}))?(?:@(${DIGEST}))?$`);

describe("image references", () => {
    it("what issue 20 found passing as pinned is refused, naming the bad part", () => {
        assert.match(imageProblem("ghcr.io/openfaas/CertInfo:0.2.1 --privileged")!, /^is not a valid image reference: tag "0\.2\.1 --privileged"/);
        assert.match(imageProblem("ghcr.io/openfaas/CertInfo:0.2.1")!, /"CertInfo" is not a repository path component/);
        assert.match(imageProblem("ghcr.io/openfaas/certinfo@sha256:abc")!, /digest "sha256:abc": sha256 takes exactly 64 lower-case hex digits/);
        assert.match(imageProblem(`x/y@md5:${HEX64}`)!, /is not sha256:, sha384: or sha512:/);
        assert.match(imageProblem(`x/y@sha256:${HEX64.toUpperCase()}`)!, /lower-case/);
        assert.match(imageProblem("reg:port/x:1")!, /the port "port" is not a number/);
        assert.match(imageProblem(`x/${"a".repeat(300)}:1`)!, /at most 255/);
    });

    it("the forms registries use are accepted and taken apart", () => {
        assert.deepEqual(parseImageReference("ghcr.io/openfaas/certinfo-fn:0.2.1"), { reference: { domain: "ghcr.io", path: "openfaas/certinfo-fn", tag: "0.2.1" } });
        assert.deepEqual(parseImageReference("curlimages/curl:8.11.1"), { reference: { path: "curlimages/curl", tag: "8.11.1" } });
        assert.deepEqual(parseImageReference("localhost:5000/b:1"), { reference: { domain: "localhost:5000", path: "b", tag: "1" } });
        assert.deepEqual(parseImageReference("[::1]:5000/a__b/c---d:V_1.x"), { reference: { domain: "[::1]:5000", path: "a__b/c---d", tag: "V_1.x" } });
        assert.deepEqual(parseImageReference(`nginx:1.27@sha256:${HEX64}`), { reference: { path: "nginx", tag: "1.27", digest: `sha256:${HEX64}` } });
        assert.equal(imageProblem(`nginx@sha256:${HEX64}`), undefined);
        assert.match(imageProblem("nginx")!, /no tag/);
        assert.match(imageProblem("nginx:latest")!, /latest/);
    });

    it("property: generated valid references are accepted with their parts", () => {
        const component = fc.stringMatching(new RegExp(`^${PATH_COMPONENT}$`)).filter((c) => c.length <= 30);
        const domain = fc.oneof(
            fc.constant("localhost"),
            fc.tuple(fc.stringMatching(/^[a-z0-9]{1,10}$/), fc.constantFrom("io", "example.com", "EXAMPLE.org")).map(([a, b]) => `${a}.${b}`),
            fc.constantFrom("[::1]", "[fe80::1]", "registry.local"),
        ).chain((host) => fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }).map((port) => (port === undefined ? host : `${host}:${port}`)));
        const tag = fc.stringMatching(new RegExp(`^${TAG}$`));
        const digest = fc.constantFrom(`sha256:${HEX64}`, `sha512:${HEX64.repeat(2)}`, `sha384:${HEX64}${HEX64.slice(0, 32)}`);
        fc.assert(
            fc.property(fc.option(domain, { nil: undefined }), fc.array(component, { minLength: 1, maxLength: 4 }), fc.option(tag, { nil: undefined }), fc.option(digest, { nil: undefined }), (d, path, t, g) => {
                // Without a registry, a first component with a dot (or localhost) would be read as one, as docker reads it.
                fc.pre(d !== undefined || path.length === 1 || (!path[0]!.includes(".") && path[0] !== "localhost"));
                const ref = `${d === undefined ? "" : `${d}/`}${path.join("/")}${t === undefined ? "" : `:${t}`}${g === undefined ? "" : `@${g}`}`;
                const want = { ...(d === undefined ? {} : { domain: d }), path: path.join("/"), ...(t === undefined ? {} : { tag: t }), ...(g === undefined ? {} : { digest: g }) };
                assert.deepEqual(parseImageReference(ref), { reference: want }, ref);
            }),
            { numRuns: 500 },
        );
    });

    it("property: whatever is accepted matches distribution's grammar; nothing throws and every problem is short", () => {
        const chars = fc.constantFrom(..."aZ09.-_/:@[] \tsha256".split(""), ":latest", "@sha256:", HEX64, "ghcr.io/", "localhost:5000/");
        fc.assert(
            fc.property(fc.oneof(fc.string({ maxLength: 300 }), fc.array(chars, { maxLength: 40 }).map((a) => a.join(""))), (ref) => {
                const parsed = parseImageReference(ref);
                if ("reference" in parsed) assert.match(ref, REFERENCE);
                else assert.ok(parsed.problem.length <= 200, parsed.problem);
            }),
            { numRuns: 2000 },
        );
    });
});
