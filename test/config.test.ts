import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import * as yaml from "js-yaml";
import { CONFIG_KEYS, ConfigError, parseConfig, SECRET_CONFIG_KEYS } from "../config";
import { CHARTS } from "../model/charts";
import { stackFileConfig } from "../tools/mock-engine";
import { raw, ROOT, STACKS } from "./helpers";
import { tempDir } from "./support/tmp";

/** Parses and returns the ConfigError, failing if the config was accepted. */
function problemsOf(values: Record<string, string>, secretKeys: string[] = [], now?: Date): ConfigError {
    try {
        parseConfig(raw(values, secretKeys), now);
    } catch (e) {
        assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
        return e;
    }
    assert.fail(`config ${JSON.stringify(values)} was accepted`);
}

function assertRejects(values: Record<string, string>, key: string, expected: RegExp, secretKeys: string[] = []) {
    const err = problemsOf(values, secretKeys);
    const p = err.problems.find((x) => x.key === `openfaas-gitops:${key}`);
    assert.ok(p, `no problem names openfaas-gitops:${key}; got:\n${err.message}`);
    assert.match(p.expected, expected);
    assert.match(err.message, new RegExp(`openfaas-gitops:${key.replace(/\./g, "\\.")}`));
}

function openssl(args: string[], cwd: string) {
    execFileSync("openssl", args, { cwd, stdio: "pipe" });
}

function keyPair(dir: string, name: string): { key: string; cert: string } {
    openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.crt`, "-days", "30", "-subj", "/CN=sealed-secret"], dir);
    return { key: fs.readFileSync(path.join(dir, `${name}.key`), "utf8"), cert: fs.readFileSync(path.join(dir, `${name}.crt`), "utf8") };
}

describe("shipped stacks", () => {
    for (const stack of STACKS) {
        it(`${stack} parses`, () => {
            const cfg = parseConfig(stackFileConfig(stack));
            assert.equal(cfg.stack, stack);
        });
    }

    it("ships dev, staging and prod with the documented shape", () => {
        assert.deepEqual(STACKS, ["dev", "prod", "staging"]);
        const dev = parseConfig(stackFileConfig("dev"));
        assert.equal(dev.ingress.envoyServiceType, "NodePort");
        assert.equal(dev.openfaas.gatewayReplicas, 1);
        const prod = parseConfig(stackFileConfig("prod"));
        assert.equal(prod.ingress.envoyServiceType, "LoadBalancer");
        assert.equal(prod.tls.issuer, "letsencrypt-prod");
        assert.equal(prod.openfaas.gatewayReplicas, 2);
        assert.equal(prod.openfaas.queueWorkerReplicas, 3);
        assert.equal(prod.networkPolicies, true);
    });

    it("no stack file holds a plaintext credential", () => {
        for (const stack of STACKS) {
            const doc = yaml.load(fs.readFileSync(path.join(ROOT, "stacks", `Pulumi.${stack}.yaml`), "utf8")) as { config: Record<string, unknown> };
            for (const key of SECRET_CONFIG_KEYS) {
                const v = doc.config[`openfaas-gitops:${key}`];
                assert.ok(v === undefined || (typeof v === "object" && v !== null && "secure" in v), `${stack}: ${key} must be a secure value`);
            }
        }
    });
});

describe("defaults", () => {
    it("an empty stack is a valid Community Edition platform", () => {
        const cfg = parseConfig(raw({}));
        assert.equal(cfg.ingress.envoyServiceType, "LoadBalancer");
        assert.equal(cfg.tls.issuer, "none");
        assert.equal(cfg.openfaas.adminUser, "admin");
        assert.equal(cfg.openfaas.adminPassword, undefined);
        assert.equal(cfg.openfaas.proLicense, undefined);
        assert.equal(cfg.sealedSecrets.key, undefined);
        assert.equal(cfg.sealedSecrets.certValidityDays, 3650);
        assert.equal(cfg.networkPolicies, true);
        assert.deepEqual(cfg.charts, CHARTS);
    });

    it("Pulumi.yaml declares every non-secret scalar key with the type and default config/ uses", () => {
        const project = yaml.load(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8")) as {
            config: Record<string, { type: string; default: unknown; secret?: boolean }>;
        };
        // Secret keys stay undeclared: a defaulted secret fails `pulumi up` since Pulumi 3.202 (pulumi/pulumi#21865).
        const declared = Object.entries(CONFIG_KEYS).filter(([k, t]) => t !== "object" && !SECRET_CONFIG_KEYS.has(k as never));
        assert.deepEqual(Object.keys(project.config).sort(), declared.map(([k]) => k).sort());
        const defaults: Record<string, string> = {};
        for (const [key, type] of declared) {
            const decl = project.config[key]!;
            assert.equal(decl.type, type, `${key}: type`);
            assert.equal(decl.secret, undefined, `${key}: no secret flag`);
            assert.notEqual(decl.default, undefined, `${key}: an optional key needs a default, or the engine requires it`);
            defaults[key] = String(decl.default);
        }
        // The engine passes the declared defaults to the program; they must mean what "unset" means.
        assert.deepEqual(parseConfig(raw(defaults)), parseConfig(raw({})));
    });
});

describe("docs/configuration.md", () => {
    it("documents every config key in the reference table, and no key the program does not read", () => {
        const reference = fs.readFileSync(path.join(ROOT, "docs", "configuration.md"), "utf8");
        const start = reference.indexOf("| key | type |");
        assert.ok(start >= 0, "the reference table is missing");
        const table = reference.slice(start, reference.indexOf("\n\n", start));
        const documented = [...table.matchAll(/^\| `([A-Za-z]+)` \|/gm)].map((m) => m[1]!);
        assert.deepEqual(documented.sort(), Object.keys(CONFIG_KEYS).sort());
    });
});

describe("invalid configuration", () => {
    it("refuses a wrong-typed value for every integer and boolean key, naming the key", () => {
        const typed = Object.entries(CONFIG_KEYS).filter(([, t]) => t === "integer" || t === "boolean");
        assert.ok(typed.length >= 6);
        for (const [key, type] of typed) {
            const base: Record<string, string> = key.startsWith("envoy") ? { envoyServiceType: "NodePort" } : {};
            for (const bad of type === "integer" ? ["two", "1.5", "true", "1e3"] : ["yes", "1", "TRUE", "on"]) {
                assertRejects({ ...stackFileConfig("prod").values, ...base, [key]: bad }, key, type === "integer" ? /integer/ : /boolean/);
            }
        }
    });

    it("refuses out-of-range numbers", () => {
        assertRejects({ gatewayReplicas: "0" }, "gatewayReplicas", /from 1 to 20/);
        assertRejects({ queueWorkerReplicas: "21" }, "queueWorkerReplicas", /from 1 to 20/);
        assertRejects({ envoyServiceType: "NodePort", envoyHttpNodePort: "80" }, "envoyHttpNodePort", /30000 to 32767/);
        assertRejects({ sealingCertValidityDays: "1" }, "sealingCertValidityDays", /30 to 36500/);
    });

    it("refuses enum values outside their set", () => {
        assertRejects({ envoyServiceType: "ClusterIP" }, "envoyServiceType", /LoadBalancer \| NodePort/);
        assertRejects({ tlsIssuer: "letsencrypt" }, "tlsIssuer", /letsencrypt-prod \| letsencrypt-staging \| none/);
    });

    it("requires an ACME e-mail and a domain when TLS is on", () => {
        assertRejects({ tlsIssuer: "letsencrypt-prod", domain: "a.example.com" }, "acmeEmail", /required when tlsIssuer is letsencrypt-prod/);
        assertRejects({ tlsIssuer: "letsencrypt-staging", acmeEmail: "ops@example.com" }, "domain", /required when tlsIssuer/);
        assertRejects({ acmeEmail: "not-an-email" }, "acmeEmail", /e-mail/);
    });

    it("refuses a domain that is not a DNS name", () => {
        assertRejects({ domain: "https://openfaas.example.com" }, "domain", /DNS name/);
        assertRejects({ domain: "OpenFaaS.Example.com" }, "domain", /lower case/);
    });

    it("refuses node ports without NodePort, and equal node ports", () => {
        assertRejects({ envoyHttpNodePort: "30080" }, "envoyHttpNodePort", /only with envoyServiceType NodePort/);
        assertRejects({ envoyServiceType: "NodePort", envoyHttpNodePort: "30080", envoyHttpsNodePort: "30080" }, "envoyHttpsNodePort", /differ/);
    });

    it("refuses credentials stored in plaintext without echoing them", () => {
        const err = problemsOf({ adminPassword: "correct-horse-battery-staple" });
        assert.match(err.message, /openfaas-gitops:adminPassword/);
        assert.match(err.message, /pulumi config set --secret adminPassword/);
        assert.doesNotMatch(err.message, /correct-horse/);
        assertRejects({ proLicense: "licence-text" }, "proLicense", /must be a secret/);
    });

    it("refuses a short or plaintext sync token and a webhook secret without a webhook host, never echoing them", () => {
        const agent = JSON.stringify({ image: "ghcr.io/acme/agent:1.0.0", repoUrl: "git@github.com:acme/p.git" });
        const err = problemsOf({ agent, agentSyncToken: "short", agentWebhookSecret: "w".repeat(30) }, ["agentSyncToken", "agentWebhookSecret"]);
        assert.match(err.message, /openfaas-gitops:agentSyncToken = "\[secret\]": expected at least 24 printable characters/);
        assert.match(err.message, /openfaas-gitops:agentWebhookSecret: is used only with agent\.webhookHost/);
        assert.doesNotMatch(err.message, /short|wwww/);
        assertRejects({ agent, agentSyncToken: "t".repeat(30) }, "agentSyncToken", /must be a secret/);
        assertRejects({ agentSyncToken: "t".repeat(30) }, "agent", /need the agent map/, ["agentSyncToken"]);
    });

    it("refuses a short admin password without echoing it", () => {
        const err = problemsOf({ adminPassword: "short-pass" }, ["adminPassword"]);
        assert.match(err.message, /openfaas-gitops:adminPassword = "\[secret\]": expected at least 16 characters/);
        assert.doesNotMatch(err.message, /short-pass/);
    });

    it("refuses an admin user that cannot be a basic-auth user", () => {
        assertRejects({ adminUser: "ad:min" }, "adminUser", /no ':'/);
    });

    it("names unknown keys and suggests the nearest one", () => {
        assertRejects({ gatewayReplica: "2" }, "gatewayReplica", /unknown key; did you mean openfaas-gitops:gatewayReplicas\?/);
        assertRejects({ somethingElse: "x" }, "somethingElse", /unknown key/);
    });

    it("validates chart overrides", () => {
        assertRejects({ charts: JSON.stringify({ openfass: { version: "1.0.0" } }) }, "charts.openfass", /unknown chart/);
        assertRejects({ charts: JSON.stringify({ openfaas: { version: "^15.0.0" } }) }, "charts.openfaas.version", /exact chart version/);
        assertRejects({ charts: JSON.stringify({ contour: { repo: "http://insecure.example.com" } }) }, "charts.contour.repo", /https:\/\/ or oci:\/\//);
        assertRejects({ charts: JSON.stringify({ contour: { versoin: "1.0.0" } }) }, "charts.contour.versoin", /unknown field/);
        assertRejects({ charts: JSON.stringify({ contour: { version: 1 } }) }, "charts.contour.version", /non-empty string/);
        assertRejects({ charts: "[1,2]" }, "charts", /map/);
        const ok = parseConfig(raw({ charts: JSON.stringify({ openfaas: { version: "15.0.7" }, contour: { path: "./vendor/contour" } }) }));
        assert.equal(ok.charts.openfaas.version, "15.0.7");
        assert.equal(ok.charts.openfaas.repo, CHARTS.openfaas.repo);
        assert.equal(ok.charts.contour.path, "./vendor/contour");
    });

    it("lists every problem of a stack in one error", () => {
        const err = problemsOf({ gatewayReplicas: "two", tlsIssuer: "acme", networkPolicies: "maybe", adminUser: "a:b" });
        assert.deepEqual(
            err.problems.map((p) => p.key).sort(),
            ["openfaas-gitops:adminUser", "openfaas-gitops:gatewayReplicas", "openfaas-gitops:networkPolicies", "openfaas-gitops:tlsIssuer"],
        );
        assert.match(err.message, /has 4 configuration problems; nothing was created/);
    });
});

describe("bring-your-own sealing key", () => {
    const dir = tempDir("ofg-key-");
    const a = keyPair(dir, "a");
    const b = keyPair(dir, "b");

    it("accepts a matching RSA pair as a secret key", () => {
        const cfg = parseConfig(raw({ sealingKeyPem: a.key, sealingCertPem: a.cert }, ["sealingKeyPem"]));
        assert.equal(cfg.sealedSecrets.key?.certPem, a.cert);
    });

    it("requires both halves", () => {
        assertRejects({ sealingCertPem: a.cert }, "sealingKeyPem", /go together/);
        assertRejects({ sealingKeyPem: a.key }, "sealingCertPem", /go together/, ["sealingKeyPem"]);
    });

    it("refuses a certificate of another key", () => {
        assertRejects({ sealingKeyPem: a.key, sealingCertPem: b.cert }, "sealingCertPem", /does not belong to the private key/, ["sealingKeyPem"]);
    });

    it("refuses garbage and expired certificates, never echoing the key", () => {
        const err = problemsOf({ sealingKeyPem: "not a key", sealingCertPem: a.cert }, ["sealingKeyPem"]);
        assert.match(err.message, /sealingKeyPem = "\[secret\]": expected a PEM private key/);
        const future = new Date(Date.now() + 365 * 24 * 3600 * 1000);
        const expired = problemsOf({ sealingKeyPem: a.key, sealingCertPem: a.cert }, ["sealingKeyPem"], future);
        assert.match(expired.message, /certificate expired/);
        assert.doesNotMatch(expired.message + err.message, new RegExp(a.key.split("\n")[1]!.slice(0, 20).replace(/[+/]/g, ".")));
    });

    it("refuses a non-RSA key", () => {
        openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "ec.key", "-out", "ec.crt", "-days", "30", "-subj", "/CN=x"], dir);
        const key = fs.readFileSync(path.join(dir, "ec.key"), "utf8");
        const cert = fs.readFileSync(path.join(dir, "ec.crt"), "utf8");
        assertRejects({ sealingKeyPem: key, sealingCertPem: cert }, "sealingKeyPem", /RSA key of at least 2048 bits/, ["sealingKeyPem"]);
    });
});
