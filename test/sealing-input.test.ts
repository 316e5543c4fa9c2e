/**
 * The sealing input parsers under generated input (fast-check): committed SealedSecret files, PEM
 * bundles, metadata and YAML bounds; any input gets a result or a clear refusal, never a crash, and no
 * refusal ever holds a value of `data` or `stringData`.
 */
import { strict as assert } from "node:assert";
import * as path from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import * as yaml from "js-yaml";
import { splitPem } from "../sealing/key-cli";
import { parseSealedSecretFile } from "../sealing/manifests";
import { metadataProblems } from "../sealing/sealed-secret";
import { expandedSize } from "../model/yaml";
import { loadDocuments, MAX_EXPANDED_CHARS, YamlInputError } from "../sealing/yaml-input";
import { ROOT } from "./helpers";
import { offThread, ThrownInWorker } from "./support/off-thread";

const RUNS = { numRuns: 250, interruptAfterTimeLimit: 8_000 };

/** A secret value no message could hold by chance; keys and names are drawn from other alphabets. */
const secretValue = fc.stringMatching(/^[0-9a-f]{10}$/).map((hex) => `SV${hex}Q`);
/** Whatever a YAML value can be, holding the secret somewhere inside. */
const anyValueWith = (secret: string) =>
    fc.oneof(
        fc.constant(secret),
        fc.constant(Buffer.from(secret).toString("base64")),
        fc.tuple(fc.string({ maxLength: 10 }), fc.string({ maxLength: 10 })).map(([a, b]) => `${a}${secret}${b}`),
        fc.constant(Number.parseInt(secret.slice(2, 10), 16)),
        fc.constant({ nested: secret }),
        fc.constant([secret]),
        fc.constant(true),
        fc.constant(null),
    );
const key = fc.oneof(fc.stringMatching(/^[-._a-zA-Z0-9]{1,20}$/), fc.constantFrom("__proto__", "constructor", "", "bad key", "k/ey"));
const name = fc.oneof(fc.stringMatching(/^[a-z0-9][-a-z0-9.]{0,20}$/), fc.constantFrom("Bad_Name", "", "-x"), fc.integer(), fc.constant(null), fc.constant({ a: "b" }));
const stringMap = fc.dictionary(fc.oneof(fc.stringMatching(/^[a-z0-9./-]{1,30}$/), fc.constantFrom("Bad Key", "a/b/c", "__proto__")), fc.oneof(fc.stringMatching(/^[A-Za-z0-9._ -]{0,70}$/), fc.integer(), fc.constant({ map: "x" })), { maxKeys: 4 });

/** A Secret manifest, often valid, often wrong in one or more places, with `secret` in its values. */
function secretManifest(secret: string) {
    return fc.record(
        {
            apiVersion: fc.constantFrom("v1", 1),
            kind: fc.constantFrom("Secret", "Secret", "ConfigMap"),
            metadata: fc.oneof(fc.record({ name, namespace: name, labels: stringMap, annotations: stringMap }, { requiredKeys: [] }), fc.constant("text"), fc.constant(null)),
            type: fc.constantFrom("Opaque", 3),
            data: fc.oneof(fc.dictionary(key, anyValueWith(secret), { maxKeys: 3 }), fc.constant([secret])),
            stringData: fc.oneof(fc.dictionary(key, anyValueWith(secret), { maxKeys: 3 }), fc.constant(secret)),
            immutable: fc.constantFrom(true, "yes"),
        },
        { requiredKeys: ["kind"] },
    );
}

/** The manifest as a user could write it: YAML, JSON, or YAML cut short or with a line damaged. */
function asText(doc: unknown) {
    const text = yaml.dump(doc);
    return fc.oneof(
        fc.constant(text),
        fc.constant(JSON.stringify(doc)),
        fc.nat({ max: text.length }).map((n) => text.slice(0, n)),
        fc.tuple(fc.nat({ max: text.length }), fc.constantFrom("\t", ":", "*", "&", "!", "[", "{", '"', "\n  ")).map(([n, c]) => text.slice(0, n) + c + text.slice(n)),
    );
}

describe("secrets/<stack>/ manifests under generated input", () => {
    it("any text gives objects and problems, never a throw; a committed plaintext Secret's values never reach a problem", () => {
        const input = secretValue.chain((secret) =>
            fc.oneof(
                secretManifest(secret).chain((doc) => asText(doc)),
                secretManifest(secret).chain((doc) => asText({ ...(doc as object), apiVersion: "bitnami.com/v1alpha1", kind: "SealedSecret", spec: { encryptedData: (doc as { data?: unknown }).data, template: { metadata: (doc as { metadata?: unknown }).metadata } } })),
                fc.string({ maxLength: 200 }),
            ).map((text) => ({ secret, text })),
        );
        fc.assert(
            fc.property(input, ({ secret, text }) => {
                const { objects, problems } = parseSealedSecretFile(text, "secrets/test/x.yaml");
                assert.ok(Array.isArray(objects) && Array.isArray(problems));
                for (const p of problems) {
                    assert.match(p.key, /^secrets\/test\/x\.yaml/);
                    assert.ok(!`${p.value ?? ""} ${p.expected}`.includes(secret), `a problem shows a value: ${p.expected}`);
                }
                // Objects come with the problems of their file; without any, each is whole.
                if (problems.length === 0) for (const o of objects) assert.equal(typeof o.object.metadata.name, "string");
            }),
            RUNS,
        );
    });
});

describe("PEM bundles", () => {
    it("splitPem finds the first private key and certificate among any blocks and noise", () => {
        const block = (type: string, body: string) => `-----BEGIN ${type}-----\n${body}\n-----END ${type}-----\n`;
        const part = fc.oneof(
            fc.tuple(fc.constantFrom("PRIVATE KEY", "RSA PRIVATE KEY", "CERTIFICATE", "PUBLIC KEY", "X509 CRL"), fc.stringMatching(/^[A-Za-z0-9+/=]{1,40}$/)).map(([t, b]) => ({ t, text: block(t, b) })),
            fc.string({ maxLength: 30 }).filter((n) => !n.includes("-----")).map((text) => ({ t: "", text })),
        );
        fc.assert(
            fc.property(fc.array(part, { maxLength: 8 }), (parts) => {
                const got = splitPem(parts.map((p) => p.text).join(""));
                const first = (re: RegExp) => parts.find((p) => re.test(p.t))?.text;
                // A block is returned as written, ending in one newline.
                assert.equal(got.privateKey, first(/PRIVATE KEY/)?.trimEnd().concat("\n"));
                assert.equal(got.certificate, first(/^CERTIFICATE$/)?.trimEnd().concat("\n"));
            }),
            RUNS,
        );
    });

    // A regex from each BEGIN to its END took 22 s on 2.8 MB of these (quadratic: 8.4 MB would take
    // minutes). The time is measured by bench/input-parsers.ts; the work is on a worker so the timeout stops it.
    it("splitPem reads 8.4 MB of unterminated blocks and finds neither a key nor a certificate", { timeout: 30_000 }, async (t) => {
        const keyCli = offThread(t, path.join(ROOT, "sealing/key-cli.ts"));
        assert.deepEqual(await keyCli.call("splitPem", "-----BEGIN CERTIFICATE-----x".repeat(300_000)), { privateKey: undefined, certificate: undefined });
    });
});

describe("metadata and YAML bounds", () => {
    it("metadataProblems takes any value, and never shows an annotation's value", () => {
        const input = secretValue.chain((secret) => fc.tuple(fc.constant(secret), fc.oneof(fc.anything(), fc.record({ name, labels: stringMap, annotations: fc.dictionary(fc.string({ maxLength: 20 }), anyValueWith(secret), { maxKeys: 4 }) }))));
        fc.assert(
            fc.property(input, ([secret, metadata]) => {
                const problems = metadataProblems(metadata, "metadata");
                assert.ok(problems.every((p) => typeof p === "string" && !p.includes(secret)), problems.join("\n"));
            }),
            RUNS,
        );
    });

    it("aliases: a document within the bound loads, one past it is refused, whatever the nesting and fan-out", { timeout: 60_000 }, async (t) => {
        // On a worker, so that a walk of an expanded bomb is stopped by the timeout.
        const yamlInput = offThread(t, path.join(ROOT, "sealing/yaml-input.ts"));
        // Level i is a list of `fanOut` aliases to level i-1: the expansion is fanOut^depth * leaf.
        const bomb = fc.record({ depth: fc.integer({ min: 1, max: 12 }), fanOut: fc.integer({ min: 1, max: 12 }), leaf: fc.integer({ min: 1, max: 2000 }), asMap: fc.boolean() });
        await fc.assert(
            fc.asyncProperty(bomb, async ({ depth, fanOut, leaf, asMap }) => {
                const lines = [`l0: &l0 "${"x".repeat(leaf)}"`];
                for (let i = 1; i <= depth; i++) {
                    const refs = Array.from({ length: fanOut }, (_, j) => (asMap ? `k${j}: *l${i - 1}` : `*l${i - 1}`));
                    lines.push(`l${i}: &l${i} ${asMap ? `{${refs.join(", ")}}` : `[${refs.join(", ")}]`}`);
                }
                const text = lines.join("\n") + "\n";
                let refused = false;
                try {
                    await yamlInput.call("loadDocuments", text);
                } catch (e) {
                    assert.ok(e instanceof ThrownInWorker && e.className === YamlInputError.name, String(e));
                    assert.match(e.message, /^expands past/);
                    refused = true;
                }
                // The expansion that was measured: the last level alone is fanOut^depth leaves of `leaf` characters.
                const leaves = fanOut ** depth;
                if (leaves * leaf > MAX_EXPANDED_CHARS) assert.ok(refused, `${leaves} x ${leaf} characters loaded`);
                if (!refused) assert.ok((expandedSize(yaml.load(text), MAX_EXPANDED_CHARS) as number) <= MAX_EXPANDED_CHARS);
            }),
            { numRuns: 150, interruptAfterTimeLimit: 10_000 },
        );
    });

    it("a syntax error is refused by position, without the text there", () => {
        const input = secretValue.chain((secret) => fc.tuple(fc.constant(secret), fc.constantFrom(`k: *${secret}`, `k: !${secret} x`, `k: !<tag:${secret}> x`, `%TAG !e! tag:${secret}:\n---\nk: !e!x y`, `k: [${secret}`, `k: "${secret}`, `- ${secret}\nk: v`)));
        fc.assert(
            fc.property(input, ([secret, text]) => {
                assert.throws(() => loadDocuments(text), (e: unknown) => e instanceof YamlInputError && !e.message.includes(secret));
            }),
            { numRuns: 50 },
        );
    });
});
