import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import { parseSettings, SettingsError } from "../agent/settings";

const exists = (_file: string) => true;
const base = { AGENT_REPO_URL: "git@github.com:org/repo.git", AGENT_STACK: "prod", AGENT_SSH_KEY_FILE: "/k", AGENT_KNOWN_HOSTS_FILE: "/kh" };

function problems(env: Record<string, string>, argv: string[] = [], fileExists: (file: string) => boolean = exists): string[] {
    try {
        parseSettings(env, argv, fileExists);
    } catch (e) {
        assert.ok(e instanceof SettingsError);
        return [...e.problems];
    }
    assert.fail("accepted");
}

describe("agent settings", () => {
    it("flux mode: no repository or ssh settings needed; the GitRepository and the event endpoint default to the Flux component's", () => {
        const s = parseSettings({ AGENT_SOURCE: "flux", AGENT_STACK: "prod" }, [], exists);
        assert.equal(s.source, "flux");
        assert.deepEqual(s.flux, { namespace: "flux-system", name: "openfaas-gitops", eventsUrl: "http://notification-controller.flux-system.svc.cluster.local./" });
        assert.equal(parseSettings({ AGENT_SOURCE: "flux", AGENT_STACK: "prod", AGENT_FLUX_NAMESPACE: "flux", AGENT_FLUX_EVENTS_URL: "off" }, [], exists).flux?.eventsUrl, undefined);
        assert.equal(parseSettings(base, [], exists).flux, undefined, "git mode is the default");
        assert.deepEqual(problems({ AGENT_SOURCE: "kustomize", AGENT_STACK: "prod" }), ['AGENT_SOURCE (--source) = "kustomize": expected one of git | flux']);
        assert.deepEqual(problems({ AGENT_SOURCE: "flux", AGENT_STACK: "prod", AGENT_FLUX_SOURCE: "Bad_Name", AGENT_FLUX_EVENTS_URL: "notification-controller" }), [
            'AGENT_FLUX_EVENTS_URL (--flux-events-url) = "notification-controller": expected an http(s) URL or off',
            'AGENT_FLUX_SOURCE (--flux-source) = "Bad_Name": expected a GitRepository name (lower-case letters, digits and \'-\')',
        ]);
    });

    it("defaults", () => {
        const s = parseSettings(base, [], exists);
        assert.equal(s.branch, "main");
        assert.equal(s.projectPath, ".");
        assert.equal(s.pollIntervalMs, 60_000);
        assert.equal(s.driftIntervalMs, 600_000);
        assert.equal(s.driftMode, "correct");
        assert.equal(s.verifySignatures, "off");
        assert.equal(s.listenPort, 8080);
        assert.equal(s.stalledAfter, 5);
        assert.equal(s.suspend, false);
        assert.equal(parseSettings({ ...base, AGENT_SUSPEND: "true" }, [], exists).suspend, true);
    });

    it("Kubernetes names are checked before the agent talks to the apiserver", () => {
        assert.deepEqual(problems({ ...base, AGENT_LEASE_NAME: "Agent_Lease", AGENT_STATUS_CONFIGMAP: "-x", POD_NAMESPACE: "a.b", AGENT_SUSPEND: "yes" }), [
            'AGENT_SUSPEND (--suspend) = "yes": expected one of true | false',
            'POD_NAMESPACE (--namespace) = "a.b": expected a namespace name (lower-case letters, digits and \'-\')',
            'AGENT_LEASE_NAME (--lease-name) = "Agent_Lease": expected a Lease name (lower-case letters, digits and \'-\')',
            'AGENT_STATUS_CONFIGMAP (--status-configmap) = "-x": expected a ConfigMap name (lower-case letters, digits and \'-\')',
        ]);
    });

    it("flags override the environment", () => {
        const s = parseSettings(base, ["--branch", "release", "--poll-interval", "15", "--listen", "127.0.0.1:9000"], exists);
        assert.deepEqual([s.branch, s.pollIntervalMs, s.listenHost, s.listenPort], ["release", 15_000, "127.0.0.1", 9000]);
    });

    it("names every bad setting by variable and flag", () => {
        const p = problems({ AGENT_REPO_URL: "ftp://x", AGENT_DRIFT_MODE: "fix", AGENT_BACKOFF_BASE: "60", AGENT_BACKOFF_CAP: "30", AGENT_LISTEN: "8080", AGENT_VERIFY_SIGNATURES: "ssh" });
        assert.deepEqual(p, [
            'AGENT_REPO_URL (--repo-url) = "ftp://x": expected an ssh URL (git@host:org/repo.git, ssh://...) or https://...',
            "AGENT_STACK (--stack) is required",
            "AGENT_ALLOWED_SIGNERS_FILE (--allowed-signers-file) is required with verify-signatures ssh",
            'AGENT_LISTEN (--listen) = "8080": expected host:port, e.g. 0.0.0.0:8080',
            "AGENT_BACKOFF_CAP (--backoff-cap) must be at least AGENT_BACKOFF_BASE (--backoff-base)",
            'AGENT_DRIFT_MODE (--drift-mode) = "fix": expected one of correct | report',
        ]);
    });

    it("an ssh URL needs the deploy key and a pinned known_hosts; files must exist", () => {
        assert.deepEqual(problems({ AGENT_REPO_URL: "ssh://git@host/r.git", AGENT_STACK: "dev" }).map((p) => p.split(" ")[0]), ["AGENT_SSH_KEY_FILE", "AGENT_KNOWN_HOSTS_FILE"]);
        assert.deepEqual(problems(base, [], (f) => f !== "/kh"), ['AGENT_KNOWN_HOSTS_FILE (--known-hosts-file) = "/kh": no such file']);
        assert.deepEqual(problems({ ...base, AGENT_PULUMI_PLUGINS: "/opt/p" }, [], (f) => f !== "/opt/p"), ['AGENT_PULUMI_PLUGINS (--pulumi-plugins) = "/opt/p": no such file']);
    });

    it("https with a token file", () => {
        const s = parseSettings({ AGENT_REPO_URL: "https://github.com/org/repo.git", AGENT_STACK: "dev", AGENT_HTTPS_TOKEN_FILE: "/t" }, [], exists);
        assert.equal(s.httpsTokenFile, "/t");
    });

    it("an unknown flag is refused", () => {
        assert.match(problems(base, ["--brnach", "x"])[0]!, /Unknown option '--brnach'/);
    });
});
