/**
 * No configuration error ever shows a secret: whatever is given for a secret key (stored with
 * `--secret` or, by mistake, in plain text), on whatever problem path, the value stays out of the
 * error text.
 */
import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ConfigError, parseConfig, SECRET_CONFIG_KEYS } from "../config";
import { ConfigKey } from "../config/keys";
import { raw } from "./helpers";

/** The error text of a config, or "" when it is accepted. */
function errorText(values: Record<string, string>, secretKeys: string[]): string {
    try {
        parseConfig(raw(values, secretKeys));
        return "";
    } catch (e) {
        assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
        return [e.message, ...e.problems.map((p) => `${p.value ?? ""} ${p.expected}`)].join("\n");
    }
}

describe("secret config values never reach an error", () => {
    it("a plaintext adminPassword with basicAuthFromSealedSecret: the conflict does not show it either", () => {
        const password = "plaintext-admin-password-7351";
        const text = errorText({ adminPassword: password, basicAuthFromSealedSecret: "true" }, []);
        assert.match(text, /openfaas-gitops:adminPassword = "\[plaintext value hidden\]": must be a secret/);
        assert.match(text, /openfaas-gitops:adminPassword = "\[plaintext value hidden\]": conflicts with basicAuthFromSealedSecret/);
        assert.ok(!text.includes(password), text);
    });

    it("a map key stored as a secret hides every value under it: a problem at functionsEnv.<name> does not show that value", () => {
        // pulumi config set --secret --path 'functionsEnv.DB_PIN' makes the whole functionsEnv a secret;
        // a problem keyed functionsEnv.DB_PIN checked only the exact key and echoed the value.
        const text = errorText({ functionsEnv: JSON.stringify({ DB_PIN: 73519246 }) }, ["functionsEnv"]);
        assert.match(text, /functionsEnv\.DB_PIN/);
        assert.ok(!text.includes("73519246"), text);
        // The same for a schema's problems under a map stored as a secret (the agent map here).
        const agent = errorText({ agent: JSON.stringify({ image: "ghcr.io/acme/agent:1.0.0", repoUrl: "git@github.com:acme/p.git", pollIntervalSeconds: "s3cr3t-in-the-wrong-place" }) }, ["agent"]);
        assert.match(agent, /agent\.pollIntervalSeconds/);
        assert.ok(!agent.includes("s3cr3t-in-the-wrong-place"), agent);
    });

    it("agent.backendUrl with a password is refused, shown redacted; the whole URL goes in agentEngineEnv's PULUMI_BACKEND_URL (a secret)", () => {
        // postgres://user:password@host/db: agent.backendUrl is a plain config value and a plain
        // variable of the agent's Deployment; it was accepted, and PULUMI_BACKEND_URL was refused in agentEngineEnv.
        const AGENT = { image: "ghcr.io/acme/agent:1.0.0", repoUrl: "git@github.com:acme/p.git" };
        const url = "postgres://pulumi:Pw-8c1e55a2@db.example:5432/state";
        const text = errorText({ agent: JSON.stringify({ ...AGENT, backendUrl: url }) }, []);
        assert.match(text, /agent\.backendUrl/);
        assert.match(text, /PULUMI_BACKEND_URL/);
        assert.ok(!text.includes("Pw-8c1e55a2"), text);
        assert.equal(errorText({ agent: JSON.stringify(AGENT), agentEngineEnv: JSON.stringify({ PULUMI_BACKEND_URL: url }) }, ["agentEngineEnv"]), "");
        assert.equal(errorText({ agent: JSON.stringify({ ...AGENT, backendUrl: "s3://bucket?region=eu-west-1" }) }, []), "");
        // Both: the Deployment's env would win over the Secret's, silently.
        assert.match(errorText({ agent: JSON.stringify({ ...AGENT, backendUrl: "s3://bucket" }), agentEngineEnv: JSON.stringify({ PULUMI_BACKEND_URL: url }) }, ["agentEngineEnv"]), /agent\.backendUrl.*one of the two/);
    });

    it("a key of fluxNotificationSecrets that is no notification name is not echoed: it may be a webhook URL pasted as the key", () => {
        const AGENT = JSON.stringify({ image: "ghcr.io/acme/agent:1.0.0", repoUrl: "git@github.com:acme/p.git" });
        const FLUX = JSON.stringify({ notifications: [{ name: "ops", type: "slack" }] });
        const pasted = "https://hooks.slack.com/services/T000/B000/XsecretX";
        const text = errorText({ agent: AGENT, flux: FLUX, fluxNotificationSecrets: JSON.stringify({ ops: "https://hooks.slack.com/services/ok", [pasted]: "" }) }, ["fluxNotificationSecrets"]);
        assert.match(text, /a key that is no notification name/);
        assert.ok(!text.includes("XsecretX"), text);
        // A notification's name is still named.
        assert.match(errorText({ agent: AGENT, flux: FLUX, fluxNotificationSecrets: JSON.stringify({ ops: "https://hooks.slack.com/services/ok", "old-slack": "https://x" }) }, ["fluxNotificationSecrets"]), /has a value for old-slack/);
    });

    it("an unknown key that is a misspelt secret key does not show its value", () => {
        const text = errorText({ adminPasword: "hunter2-plaintext-9931" }, []);
        assert.match(text, /did you mean openfaas-gitops:adminPassword/);
        assert.ok(!text.includes("hunter2-plaintext-9931"), text);
        // Other unknown keys still show what they hold.
        assert.match(errorText({ replicaz: "3" }, []), /"3"/);
    });

    it("a chart repository URL with a credential is refused, shown redacted, whatever else is wrong with it", () => {
        // A schema problem (http://, not https://) echoed the URL whole, password included; a valid
        // https URL with one was accepted and stored in plain text in the Chart's inputs and state.
        for (const repo of ["http://ci:Pw-77aa19@charts.example/", "https://ci:Pw-77aa19@charts.example/"]) {
            const text = errorText({ charts: JSON.stringify({ openfaas: { repo } }) }, []);
            assert.match(text, /charts\.openfaas\.repo/);
            assert.match(text, /\*\*\*@charts\.example/);
            assert.ok(!text.includes("Pw-77aa19"), text);
        }
    });

    it("any value of any secret key, stored as a secret or not, beside any mix of other problems", () => {
        const AGENT = JSON.stringify({ image: "ghcr.io/acme/agent:1.0.0", repoUrl: "git@github.com:acme/p.git" });
        const FLUX = JSON.stringify({ notifications: [{ name: "ops", type: "slack" }] });
        // A marker no message could hold by chance, inside values of the shapes each key reads (text,
        // PEM, JSON objects of strings), so every check path is taken, not only the first one.
        const marker = fc.stringMatching(/^[a-z0-9]{6}$/).map((s) => `Q${s}Z9secretmark`);
        const value = (m: string) =>
            fc.oneof(
                fc.tuple(fc.string({ maxLength: 40 }), fc.string({ maxLength: 40 })).map(([a, b]) => `${a}${m}${b}`),
                fc.constant(`-----BEGIN OPENSSH PRIVATE KEY-----\n${m}\n-----END OPENSSH PRIVATE KEY-----\n`),
                fc.constant(`-----BEGIN PRIVATE KEY-----\n${m}\n-----END PRIVATE KEY-----\n`),
                fc.constant(m),
                fc.dictionary(fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_-]{0,12}$/), fc.oneof(fc.constant(m), fc.constant(`https://hooks.example.com/${m}`), fc.constant(1)), { maxKeys: 3 }).map((o) => JSON.stringify({ ...o, ops: m })),
                fc.constant(JSON.stringify([m])),
            );
        const secretKeys = [...SECRET_CONFIG_KEYS];
        const scenario = marker.chain((m) =>
            fc.record({
                m: fc.constant(m),
                secrets: fc.dictionary(fc.constantFrom(...secretKeys), value(m), { minKeys: 1, maxKeys: secretKeys.length }),
                stored: fc.subarray(secretKeys),
                basicAuthFromSealedSecret: fc.constantFrom(undefined, "true", "maybe"),
                agent: fc.constantFrom(undefined, AGENT, "not json"),
                flux: fc.constantFrom(undefined, FLUX),
                sealingCertPem: fc.constantFrom(undefined, "not a certificate"),
            }),
        );
        fc.assert(
            fc.property(scenario, (s) => {
                const values: Record<string, string> = { ...s.secrets };
                for (const k of ["basicAuthFromSealedSecret", "agent", "flux", "sealingCertPem"] as const) if (s[k] !== undefined) values[k] = s[k]!;
                const text = errorText(values, s.stored as ConfigKey[]);
                assert.ok(!text.includes(s.m), `a secret value reached the error:\n${text}`);
            }),
            { numRuns: 300, interruptAfterTimeLimit: 20_000 },
        );
    });
});
