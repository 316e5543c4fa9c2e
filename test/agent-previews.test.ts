/** The decisions of pull-request previews (agent/previews.ts): who is previewed, what runs, the status and the comment. */
import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
    base64Forms,
    commentMarker,
    fenced,
    holdsWrappedSecret,
    scrubbedExcerpt,
    MAX_COMMENT,
    MAX_LISTED,
    MAX_QUOTED,
    MIN_SECRET_LENGTH,
    planPreviews,
    PreviewPolicy,
    previewable,
    previewCommentBody,
    PreviewResult,
    previewStatus,
    printedForms,
    PullRequestRef,
    scrub,
} from "../agent/previews";
import { policyViolation } from "../agent/engine-run";
import { configSecretValues, MAX_PR_SECRETS, prSecretsConfig, stateSecretValues } from "../agent/preview-inputs";
import * as yaml from "js-yaml";

const POLICY: PreviewPolicy = { repository: "org/platform", branch: "main", writers: true, label: "preview" };
const pr = (number: number, over: Partial<PullRequestRef> = {}): PullRequestRef => ({ number, headSha: `${number}`.padStart(40, "a"), headRepository: "org/platform", baseRef: "main", author: "dev", labels: [], ...over });

describe("which pull requests are previewed", () => {
    it("a fork's never, whatever its labels or author; another base's never", () => {
        const fork = previewable(pr(1, { headRepository: "mallory/platform", labels: ["preview"] }), POLICY, () => true);
        assert.deepEqual(fork, { ok: false, why: "its head is in mallory/platform, a fork: a fork's pull request is never previewed" });
        assert.deepEqual(previewable(pr(2, { baseRef: "release" }), POLICY, () => true), { ok: false, why: "it is against release, not main" });
        assert.deepEqual(previewable(pr(3, { headRepository: "ORG/Platform" }), POLICY, () => true), { ok: true }, "GitHub's names are case-insensitive");
    });

    it("an author with write access, or the label; GitHub is asked about the author only when the label does not decide", () => {
        let asked = 0;
        const canWrite = (v: boolean) => () => (asked++, v);
        assert.deepEqual(previewable(pr(1, { labels: ["preview"], labelledHead: pr(1).headSha }), POLICY, canWrite(false)), { ok: true });
        assert.equal(asked, 0);
        assert.deepEqual(previewable(pr(2), POLICY, canWrite(true)), { ok: true });
        assert.deepEqual(previewable(pr(3, { author: "guest" }), POLICY, canWrite(false)), { ok: false, why: "its author (guest) has no write access and it has no label preview" });
        assert.deepEqual(previewable(pr(4), { ...POLICY, writers: false, label: undefined }, canWrite(true)), { ok: false, why: "previews allow neither writers nor a label" });
    });

    it("a label approves the head it was added on, never a commit pushed after it", () => {
        const reviewed = pr(5, { labels: ["preview"], labelledHead: pr(5).headSha });
        const pushedAfter = { ...reviewed, headSha: "f".repeat(40) };
        const labelsOnly = { ...POLICY, writers: false };
        assert.deepEqual(previewable(reviewed, labelsOnly, () => false), { ok: true });
        assert.deepEqual(previewable(pushedAfter, labelsOnly, () => false), { ok: false, why: "the label preview was added on another commit than its head; add it again after reading the new commits" });
    });
});

describe("what runs", () => {
    const state = (running: [number, string][] = [], previewed: [number, string][] = []) => ({ running: new Map(running), previewed: new Map(previewed) });

    it("each head once, oldest pull request first, at most `parallel` at a time", () => {
        const open = [pr(3), pr(1), pr(2)];
        assert.deepEqual(planPreviews(open, state(), false, 1), { start: [pr(1)], cancel: [] });
        assert.deepEqual(planPreviews(open, state([[1, pr(1).headSha]]), false, 2).start, [pr(2)]);
        assert.deepEqual(planPreviews(open, state([], [[1, pr(1).headSha], [2, pr(2).headSha]]), false, 1).start, [pr(3)]);
        assert.deepEqual(planPreviews(open, state([], open.map((p) => [p.number, p.headSha])), false, 1), { start: [], cancel: [] });
    });

    it("a new push stops the old head's preview and previews the new one; a closed pull request's stops", () => {
        const pushed = pr(1, { headSha: "b".repeat(40) });
        assert.deepEqual(planPreviews([pushed], state([[1, pr(1).headSha], [9, pr(9).headSha]]), false, 1), { start: [pushed], cancel: [1, 9] });
    });

    it("a pull request listed twice starts once; one pushed to again and again goes behind the others", () => {
        assert.deepEqual(planPreviews([pr(1), pr(1), pr(2)], state(), false, 3).start, [pr(1), pr(2)]);
        const busy = pr(1, { headSha: "d".repeat(40) });
        const waiting = new Map([[1, 5_000], [2, 1_000]]); // PR 1's newest head arrived after PR 2 started waiting
        assert.deepEqual(planPreviews([busy, pr(2)], { ...state([], [[1, pr(1).headSha]]), waitingSince: waiting }, false, 1).start, [pr(2)]);
    });

    it("nothing starts while an apply runs or waits; stale previews still stop", () => {
        assert.deepEqual(planPreviews([pr(1, { headSha: "c".repeat(40) }), pr(2)], state([[1, pr(1).headSha]]), true, 4), { start: [], cancel: [1] });
    });

    it("property: never more than `parallel`, never a head twice, never during an apply, only running ones stopped", () => {
        const sha = fc.constantFrom("a", "b", "c").map((c) => c.repeat(40));
        const openArb = fc.uniqueArray(fc.record({ number: fc.integer({ min: 1, max: 8 }), headSha: sha }), { selector: (p) => p.number, maxLength: 8 });
        const mapArb = fc.array(fc.tuple(fc.integer({ min: 1, max: 10 }), sha), { maxLength: 6 }).map((e) => new Map(e));
        fc.assert(
            fc.property(openArb, mapArb, mapArb, fc.boolean(), fc.integer({ min: 1, max: 4 }), (o, running, previewed, pending, parallel) => {
                const running2 = new Map([...running].slice(0, parallel));
                const open = o.map((p) => pr(p.number, { headSha: p.headSha }));
                const plan = planPreviews(open, { running: running2, previewed }, pending, parallel);
                const left = running2.size - plan.cancel.length;
                return (
                    plan.cancel.every((n) => running2.has(n)) &&
                    (!pending || plan.start.length === 0) &&
                    left + plan.start.length <= Math.max(parallel, running2.size) &&
                    plan.start.every((p) => previewed.get(p.number) !== p.headSha && running2.get(p.number) !== p.headSha) &&
                    new Set(plan.start.map((p) => p.number)).size === plan.start.length
                );
            }),
        );
    });
});

describe("the commit status", () => {
    const ok = (violations: PreviewResult["violations"] = [], changes: Record<string, number> = { update: 1, same: 90 }): PreviewResult => ({ ok: true, changes, changed: ["kubernetes:apps/v1:Deployment::fn (update)"], violations });

    it("green only when the preview ran and no mandatory policy failed", () => {
        assert.deepEqual(previewStatus(ok()), { state: "success", description: "1 change(s), policies pass" });
        assert.deepEqual(previewStatus(ok([], { same: 90 })), { state: "success", description: "no changes" });
        assert.equal(previewStatus(ok([{ policy: "hpa", level: "advisory", message: "m" }])).state, "success");
        assert.deepEqual(previewStatus(ok([{ policy: "pinned-images", level: "mandatory", message: "uses :latest" }])), { state: "failure", description: "1 mandatory policy violation(s): pinned-images" });
        assert.equal(previewStatus({ ok: false, error: "boom", violations: [] }).state, "failure");
        const many = Array.from({ length: 40 }, (_, i) => ({ policy: `policy-number-${i}`, level: "mandatory" as const, message: "m" }));
        assert.ok(previewStatus(ok(many)).description.length <= 140, "GitHub's limit");
        const named = previewStatus(ok([{ policy: "leak-s3cr3t-value", level: "mandatory", message: "m" }]), ["s3cr3t-value"]);
        assert.equal(named.description, "1 mandatory policy violation(s); the comment names them", "a policy's name comes from the program: one holding a secret is not shown");
        // Nor a secret split across two names (each alone holds none of it).
        const secret = "s3cret-admin-passw0rd";
        const split = previewStatus(ok([{ policy: secret.slice(0, 10), level: "mandatory", message: "m" }, { policy: secret.slice(10), level: "mandatory", message: "m" }]), [secret]);
        assert.equal(split.description, "2 mandatory policy violation(s); the comment names them");
    });
});

describe("secrets never reach the comment", () => {
    it("as printed, JSON-escaped, URL-encoded, and in base64 at every alignment inside a longer base64 text", () => {
        const secret = 'pa"ss\nw0rd/+?';
        for (const prefix of ["", "u", "us", "use"]) {
            const blob = Buffer.from(`${prefix}${secret}:tail`).toString("base64");
            assert.doesNotMatch(scrub(`data: ${blob}`, [secret]), new RegExp(base64Forms(secret).map((f) => f.replace(/[+/]/g, "\\$&")).join("|")), prefix);
        }
        assert.equal(scrub(`a ${secret} b`, [secret]), "a [secret] b");
        assert.equal(scrub(`{"p":${JSON.stringify(secret)}}`, [secret]), '{"p":"[secret]"}');
        assert.equal(scrub(`?p=${encodeURIComponent(secret)}&q`, [secret]), "?p=[secret]&q");
        assert.equal(scrub("replicas: 1, enabled: yes", ["1", "yes"]), "replicas: 1, enabled: yes", `values under ${MIN_SECRET_LENGTH} characters are not secrets to scrub`);
    });

    it("as Go, Python and YAML print it, as form data, hex and base64url, and JSON inside JSON (found by the attack review)", () => {
        const secret = "s3cr3t<pa'ss>&wörd/+?";
        const goJson = JSON.stringify(secret).replace(/[<>&]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
        const printed = [
            goJson,
            JSON.stringify(secret).replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`),
            `password: '${secret.replace(/'/g, "''")}'`,
            Buffer.from(secret).toString("hex"),
            Buffer.from(secret).toString("hex").toUpperCase(),
            new URLSearchParams({ p: secret }).toString(),
            Buffer.from(`x${secret}`).toString("base64url"),
            JSON.stringify({ annotation: JSON.stringify({ data: { p: secret } }) }),
        ];
        for (const text of printed) assert.doesNotMatch(scrub(text, [secret]), /s3cr3t|7333637233|dGNyM3Q|czNjcjN0/i, text);
    });

    it("a secret of several lines (a PEM key) printed indented, as Pulumi's diagnostics print, or with CRLF is withheld", () => {
        const pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\nq8Zb1xYzW0oP2c4kQm9Xx3sT5vLk8r2Qy1fA7m3nH6pJdE0tV\n-----END PRIVATE KEY-----";
        for (const text of [`error: bad key:\n    ${pem.replace(/\n/g, "\n    ")}`, pem.replace(/\n/g, "\r\n")]) {
            assert.equal(holdsWrappedSecret(text, [pem]), true, JSON.stringify(text.slice(0, 40)));
            const body = previewCommentBody({ stack: "prod", revision: "0".repeat(40), result: { ok: false, error: text, violations: [] }, secrets: [pem] });
            assert.ok(!body.includes("MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7"), body);
        }
    });

    it("a text of megabytes is scrubbed only as far as it is shown, and a secret across the cut is still found (scrubbedExcerpt)", () => {
        const secret = "s3cret-admin-passw0rd";
        const text = `${"x".repeat(1995)}${secret}${"y".repeat(4_000_000)}`;
        const excerpt = scrubbedExcerpt(text, [secret], 2000);
        assert.deepEqual(excerpt, { text: `${"x".repeat(1995)}[secr`, cut: true }, "the secret across the cut is scrubbed before cutting");
        assert.deepEqual(scrubbedExcerpt("short", [secret], 2000), { text: "short", cut: false });
        const body = previewCommentBody({ stack: "prod", revision: "0".repeat(40), result: { ok: false, error: text, violations: [] }, secrets: [secret] });
        assert.ok(body.length < MAX_QUOTED + 2_000 && !body.includes("s3cret-a"), "cut, and no part of the secret");
    });

    it("a secret split across lines by a printer that wraps is found, and its whole block withheld", () => {
        const secret = "s3cr3t-passw0rd-0123456789";
        const wrapped = `token: ${secret.slice(0, 10)}\n       ${secret.slice(10)}\n`;
        assert.equal(holdsWrappedSecret(wrapped, [secret]), true);
        assert.equal(holdsWrappedSecret("a\nb\n", [secret]), false);
        // A secret printed whole on one line of a text of several lines is no wrapped one: it is scrubbed, the rest is kept.
        const unwrapped = `Error: leaking ${secret}\n    at apply (index.ts:3)\n    at run`;
        assert.equal(holdsWrappedSecret(unwrapped, [secret]), false);
        assert.equal(holdsWrappedSecret(`${unwrapped}\n${wrapped}`, [secret]), true, "one whole and one wrapped: wrapped");
        const kept = previewCommentBody({ stack: "prod", revision: "0".repeat(40), secrets: [secret], result: { ok: false, error: unwrapped, violations: [] } });
        assert.match(kept, /Error: leaking \[secret\]\n {4}at apply/);
        const body = previewCommentBody({ stack: "prod", revision: "0".repeat(40), secrets: [secret], result: { ok: false, error: wrapped, violations: [] } });
        assert.ok(!body.includes(secret.slice(0, 10)), body);
        assert.match(body, /\[withheld: this text holds a secret value split across lines/);
    });

    it("property: no printed form of any secret survives, and text without secrets is kept as it was", () => {
        const chars = fc.constantFrom(..."abcxyz019 :\"\\\n/+=%".split(""));
        const secretArb = fc.string({ unit: chars, minLength: MIN_SECRET_LENGTH, maxLength: 12 });
        const forms = printedForms;
        fc.assert(
            fc.property(fc.array(secretArb, { minLength: 1, maxLength: 3 }), fc.array(fc.oneof(fc.string({ unit: chars, maxLength: 20 }), fc.nat({ max: 99 })), { maxLength: 12 }), (secrets, parts) => {
                // The text: random pieces and the secrets' forms, mixed.
                const text = parts.map((p) => (typeof p === "number" ? (() => { const f = forms(secrets[p % secrets.length]!); return f[p % f.length]!; })() : p)).join("");
                const out = scrub(text, secrets);
                return secrets.every((s) => forms(s).every((f) => !out.includes(f)));
            }),
        );
        fc.assert(fc.property(fc.string(), (text) => scrub(text, []) === text));
    });
});

describe("the comment", () => {
    const secret = "s3cr3t-passw0rd";
    const base = { stack: "prod", revision: "0123456789abcdef0123456789abcdef01234567", secrets: [secret], statusUrl: "https://agent.example.com/" };

    it("says what the preview found, marked so the next one edits it in place", () => {
        const body = previewCommentBody({
            ...base,
            result: { ok: true, changes: { update: 1, same: 90 }, changed: ["kubernetes:apps/v1:Deployment::openfaas-chart:openfaas/gateway (update)"], violations: [] },
        });
        assert.ok(body.startsWith(`${commentMarker("prod")}\n### Preview of stack \`prod\` at \`0123456789ab\`: passes`));
        assert.match(body, /Changes: 1 to update\./);
        assert.match(body, /```text\nkubernetes:apps\/v1:Deployment::openfaas-chart:openfaas\/gateway \(update\)\n```/);
        assert.match(body, /Every policy passes\./);
        assert.match(body, /\[The agent's status\]\(https:\/\/agent\.example\.com\/\)$/);
    });

    it("a failed policy, an outdated preview, a long list and a long error", () => {
        const changed = Array.from({ length: MAX_LISTED + 7 }, (_, i) => `kubernetes:core/v1:ConfigMap::c${i} (create)`);
        const body = previewCommentBody({ ...base, outdated: true, result: { ok: true, changes: { create: changed.length }, changed, violations: [{ policy: "pinned-images", level: "mandatory", message: "image ghcr.io/x:latest is not pinned", resource: "kubernetes:apps/v1:Deployment::fn" }] } });
        assert.match(body, /: fails/);
        assert.match(body, /_Outdated: a newer commit has been pushed/);
        assert.match(body, /\.\.\. and 7 more\n```/);
        assert.match(body, /\[mandatory\] pinned-images \(kubernetes:apps\/v1:Deployment::fn\): image ghcr\.io\/x:latest is not pinned/);
        const failed = previewCommentBody({ ...base, result: { ok: false, error: "x".repeat(50_000), violations: [] } });
        assert.ok(failed.length < MAX_QUOTED + 1_000, `${failed.length} characters`);
        assert.match(failed, /\[\.\.\. cut; the agent's log has the whole text \.\.\.\]/);
    });

    it("a secret across the cut is scrubbed before the cut (before, its first part was posted)", () => {
        const error = `${"x".repeat(MAX_QUOTED - 6)}${secret} tail`;
        const body = previewCommentBody({ ...base, result: { ok: false, error, violations: [] } });
        assert.ok(!body.includes(secret.slice(0, 6)), "no part of the secret");
    });

    it("never over GitHub's limit, whatever the program printed, short secrets doubling it included", () => {
        const violations = Array.from({ length: 200 }, (_, i) => ({ policy: `p${i}`, level: "advisory" as const, message: "abcd ".repeat(100), resource: "r".repeat(1_000) }));
        const changed = Array.from({ length: 500 }, (_, i) => `${"n".repeat(10_000)}${i}`);
        const body = previewCommentBody({ ...base, secrets: ["abcd"], result: { ok: true, changes: { update: 500 }, changed, violations } });
        assert.ok(body.length <= MAX_COMMENT + 200 && body.length < 65_536, `${body.length} characters`);
    });

    it("property: whatever the program printed, no secret is posted and its text stays inside its code block", () => {
        const untrusted = fc.oneof(fc.string(), fc.constantFrom("```", "````\n@admin ![x](https://evil.example/p.png)", `${secret}`, Buffer.from(`k:${secret}`).toString("base64")));
        const text = fc.array(untrusted, { maxLength: 4 }).map((a) => a.join(" "));
        fc.assert(
            fc.property(text, text, fc.boolean(), (name, message, failed) => {
                const result: PreviewResult = failed
                    ? { ok: false, error: `${name} ${message}`, violations: [] }
                    : { ok: true, changes: { update: 1 }, changed: [name], violations: [{ policy: "p", level: "advisory", message }] };
                const body = previewCommentBody({ ...base, result });
                if (body.includes(secret) || base64Forms(secret).some((f) => body.includes(f))) return false;
                // Outside the code blocks, only the agent's own lines. As in CommonMark, a block ends at
                // the first line of at least as many backticks (up to 3 spaces before, spaces after).
                const outside = body.replace(/^(`{3,})text\n(?:.*\n)*? {0,3}\1`* *$/gm, "");
                return !outside.includes("@admin") && !outside.includes("evil.example");
            }),
        );
    });

    it("a fence is longer than any run of backticks inside it", () => {
        fc.assert(
            fc.property(fc.string({ unit: fc.constantFrom("`", "a", "\n") }), (s) => {
                const block = fenced(s);
                const fence = /^`+/.exec(block)![0];
                return !s.includes(fence) && block.endsWith(`\n${fence}`);
            }),
        );
    });
});

describe("policy results as a run reports them (agent/engine-run.ts)", () => {
    it("the policy, its level (the CLI's warning is advisory), the resource by type and name, the message without colour codes", () => {
        const urn = "urn:pulumi:dev::openfaas-gitops::openfaas-gitops:platform:OpenFaaSFunction$kubernetes:apps/v1:Deployment::fn-certinfo";
        assert.deepEqual(policyViolation({ policyName: "pinned-images", enforcementLevel: "mandatory", message: "\x1b[31mimage x:latest\x1b[0m is not pinned\n", resourceUrn: urn }), {
            policy: "pinned-images",
            level: "mandatory",
            message: "image x:latest is not pinned",
            resource: "kubernetes:apps/v1:Deployment::fn-certinfo",
        });
        assert.deepEqual(policyViolation({ policyName: "hpa", enforcementLevel: "warning", message: "<{%fg 3%}>m<{%reset%}>" }), { policy: "hpa", level: "advisory", message: "m" });
    });

    it("property: any event gives a violation without colour codes, never a throw", () => {
        fc.assert(
            fc.property(fc.string(), fc.constantFrom("mandatory", "warning") as fc.Arbitrary<"mandatory" | "warning">, fc.string(), fc.option(fc.string(), { nil: undefined }), (policyName, enforcementLevel, message, resourceUrn) => {
                const v = policyViolation({ policyName, enforcementLevel, message: `\x1b[1m${message}\x1b[0m`, resourceUrn });
                return !v.message.includes("\x1b[0m") && (v.level === "mandatory") === (enforcementLevel === "mandatory");
            }),
        );
    });
});

describe("the secret values a preview's posts are scrubbed of (agent/preview-inputs.ts)", () => {
    const sig = { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270" };
    it("reads every secret of a state exported with --show-secrets, whole and each string in it", () => {
        const state = {
            version: 3,
            deployment: {
                resources: [
                    { urn: "a", outputs: { result: { ...sig, plaintext: JSON.stringify("pw-123456") }, plain: "not-secret" } },
                    { urn: "b", inputs: { data: { ...sig, plaintext: JSON.stringify({ user: "admin-user", pass: ["p4ss-word"] }) } } },
                    { urn: "c", outputs: { odd: { ...sig, plaintext: "not json at all" } } },
                ],
            },
        };
        assert.deepEqual(stateSecretValues(state), [
            JSON.stringify("pw-123456"), "pw-123456",
            JSON.stringify({ user: "admin-user", pass: ["p4ss-word"] }), "admin-user", "p4ss-word",
            "not json at all",
        ]);
        assert.deepEqual(stateSecretValues({ resources: [{ outputs: { x: { ...sig, plaintext: 5 } }, y: "plain" }] }), [], "no plaintext string: nothing");
    });
    it("reads the secret entries of `pulumi config --json --show-secrets`, objects included, and leaves the rest", () => {
        const config = {
            "p:adminPassword": { value: "s3cret-pw", secret: true },
            "p:plain": { value: "visible", secret: false },
            "p:obj": { value: "{\"k\":\"inner-secret\"}", objectValue: { k: "inner-secret" }, secret: true },
        };
        assert.deepEqual(configSecretValues(config), ["s3cret-pw", "{\"k\":\"inner-secret\"}", "inner-secret"]);
        assert.deepEqual(configSecretValues(null), []);
    });
});

describe("what of a pull request's stack config the agent decrypts (prSecretsConfig)", () => {
    const branch = "encryptionsalt: v1:branch-salt\nconfig:\n  p:adminPassword:\n    secure: v1:AAA\n";
    it("each secure value under a key of its own, with the branch's encryption settings; never the pull request's provider or plain strings", () => {
        const pr = [
            "secretsprovider: hashivault://attacker-key",
            "encryptionsalt: v1:pr-salt",
            "config:",
            "  p:adminPassword:",
            "    secure: v1:AAA",
            "  p:obj:",
            "    k1: plain-one",
            "    k2: plain-two",
            "    deep: [{ secure: v1:BBB }]",
            "",
        ].join("\n");
        const out = prSecretsConfig(pr, branch);
        assert.ok("text" in out);
        assert.deepEqual(yaml.load(out.text), { encryptionsalt: "v1:branch-salt", config: { "preview:secret0": { secure: "v1:AAA" }, "preview:secret1": { secure: "v1:BBB" } } });
        assert.equal(out.count, 2);
    });
    it("refuses more than MAX_PR_SECRETS encrypted values, and YAML it cannot read, naming why", () => {
        const many = `config:\n${Array.from({ length: MAX_PR_SECRETS + 1 }, (_, i) => `  p:k${i}:\n    secure: v1:X${i}`).join("\n")}\n`;
        assert.deepEqual(prSecretsConfig(many, branch), { problem: `it holds more than ${MAX_PR_SECRETS} encrypted values` });
        assert.ok("problem" in prSecretsConfig("config: [unclosed", branch));
        assert.deepEqual(prSecretsConfig("just text", branch), { text: yaml.dump({ encryptionsalt: "v1:branch-salt", config: {} }), count: 0 });
    });
});
