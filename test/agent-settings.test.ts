import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { FIELDS, helpText, nodeSelectorText, parseNodeSelector, parseTolerations, TAINT_EFFECTS, tolerationsText } from "../agent/contract";
import { LABEL_KEY, LABEL_VALUE } from "../model/names";
import { parseListen, parseSettings, SettingsError } from "../agent/settings";

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
    it("object names follow Kubernetes' rules as model/names.ts writes them: a DNS label of a subdomain has at most 63 characters", () => {
        const long = "a".repeat(64);
        assert.match(problems({ ...base, AGENT_LEASE_NAME: `${long}.example` }).join("\n"), /AGENT_LEASE_NAME/);
        assert.match(problems({ ...base, AGENT_STATUS_CONFIGMAP: long }).join("\n"), /AGENT_STATUS_CONFIGMAP/);
        assert.equal(parseSettings({ ...base, AGENT_LEASE_NAME: `${"a".repeat(63)}.example` }, [], exists).leaseName, `${"a".repeat(63)}.example`);
    });

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

    it("AGENT_FLUX_EVENTS_URL: a credential in a refused URL is not shown", () => {
        const [p] = problems({ AGENT_SOURCE: "flux", AGENT_STACK: "prod", AGENT_FLUX_EVENTS_URL: "ftp://user:hunter2-secret@notification-controller/" });
        assert.equal(p, 'AGENT_FLUX_EVENTS_URL (--flux-events-url) = "ftp://***@notification-controller/": expected an http(s) URL or off');
    });

    it("AGENT_FLUX_EVENTS_URL: a URL that cannot be requested is refused at start, not at every event", () => {
        for (const url of ["http://[::1", "http://host:99999/", "http://a b/"]) {
            assert.deepEqual(problems({ AGENT_SOURCE: "flux", AGENT_STACK: "prod", AGENT_FLUX_EVENTS_URL: url }), [`AGENT_FLUX_EVENTS_URL (--flux-events-url) = ${JSON.stringify(url)}: expected an http(s) URL or off`]);
        }
        assert.equal(parseSettings({ AGENT_SOURCE: "flux", AGENT_STACK: "prod", AGENT_FLUX_EVENTS_URL: "http://[::1]:9292/" }, [], exists).flux?.eventsUrl, "http://[::1]:9292/");
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
        assert.equal(s.runTimeoutMs, 3_600_000);
        assert.equal(parseSettings({ ...base, AGENT_RUN_TIMEOUT: "7200" }, [], exists).runTimeoutMs, 7_200_000);
        assert.throws(() => parseSettings({ ...base, AGENT_RUN_TIMEOUT: "10" }, [], exists), /AGENT_RUN_TIMEOUT \(--run-timeout\) = "10": expected whole seconds from 60 to 86400/);
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
            'AGENT_LISTEN (--listen) = "8080": expected host:port, e.g. 0.0.0.0:8080, or [::]:8080 for IPv6',
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

    it("a repository URL with credentials is refused, shown redacted, with the setting to use instead; an ssh login name is no credential", () => {
        const https = { AGENT_STACK: "dev", AGENT_HTTPS_TOKEN_FILE: "/t" };
        for (const url of ["https://oauth2:glpat-SECRET@gitlab.com/acme/p.git", "https://ghp_SECRET@github.com/acme/p.git"]) {
            const p = problems({ ...https, AGENT_REPO_URL: url });
            assert.equal(p.length, 1, p.join("\n"));
            assert.match(p[0]!, /^AGENT_REPO_URL \(--repo-url\) = "https:\/\/\*\*\*@(gitlab|github)\.com\/acme\/p\.git": carries credentials.*put the token in the file named by AGENT_HTTPS_TOKEN_FILE \(--https-token-file\)$/);
            assert.ok(!p[0]!.includes("SECRET"));
        }
        const ssh = problems({ ...base, AGENT_REPO_URL: "ssh://git:SECRET@host/r.git" });
        assert.deepEqual(ssh, ['AGENT_REPO_URL (--repo-url) = "ssh://***@host/r.git": carries credentials, which would be shown wherever the URL is; remove them from the URL: ssh signs in with the deploy key of AGENT_SSH_KEY_FILE (--ssh-key-file), never a password']);
        assert.ok(!problems({ ...base, AGENT_REPO_URL: "git:SECRET@host:r.git" }).join().includes("SECRET"));
        for (const url of ["git@github.com:org/repo.git", "ssh://git@host:2222/r.git", "https://github.com/org/repo.git"]) assert.equal(parseSettings({ ...base, AGENT_REPO_URL: url }, [], exists).repoUrl, url);
    });

    it("a branch git would refuse and a project path outside the checkout are refused", () => {
        assert.deepEqual(problems({ ...base, AGENT_BRANCH: "main:refs/heads/evil", AGENT_PROJECT_PATH: "../../etc" }), [
            'AGENT_BRANCH (--branch) = "main:refs/heads/evil": contains a space, a control character or one of : ? [ \\ ^ ~ *; expected a branch name git accepts (git check-ref-format --branch), e.g. main',
            'AGENT_PROJECT_PATH (--project-path) = "../../etc": leaves the repository (..); expected a directory inside it, e.g. infra/platform or .',
        ]);
        assert.match(problems({ ...base, AGENT_PROJECT_PATH: "/etc" })[0]!, /is absolute/);
        assert.match(problems({ ...base, AGENT_BRANCH: "-x" })[0]!, /starts with '-'/);
        const s = parseSettings({ ...base, AGENT_BRANCH: "release/1.2", AGENT_PROJECT_PATH: "infra/platform" }, [], exists);
        assert.deepEqual([s.branch, s.projectPath], ["release/1.2", "infra/platform"]);
    });

    it("listen: IPv6 in brackets listens on the bare address; anything else that is no host:port is refused", () => {
        const listen = (v: string) => parseSettings({ ...base, AGENT_LISTEN: v }, [], exists);
        assert.deepEqual([listen("[::1]:8080").listenHost, listen("[::1]:8080").listenPort], ["::1", 8080]);
        assert.deepEqual([listen("[::]:9000").listenHost, listen("localhost:1").listenHost], ["::", "localhost"]);
        for (const [bad, why] of [
            ["::1:8080", /an IPv6 address goes in brackets: \[::1\]:8080/],
            ["[::1:8080", /expected host:port/],
            ["[nope]:8080", /\[nope\] is not an IPv6 address/],
            ["0.0.0.0:0", /port from 1 to 65535/],
            ["0.0.0.0:65536", /port from 1 to 65535/],
            ["999.1.1.1:80", /neither an IPv4 address nor a host name/],
            [":8080", /the host is empty/],
            ["a b:80", /neither an IPv4 address nor a host name/],
        ] as const) assert.match(problems({ ...base, AGENT_LISTEN: bad })[0]!, why, bad);
    });

    it("property: the listen parser accepts exactly host:port it can listen on, and never throws", () => {
        const host = fc.oneof(fc.ipV4(), fc.ipV6().map((h) => `[${h}]`), fc.domain());
        fc.assert(
            fc.property(host, fc.integer({ min: 1, max: 65535 }), (h, port) => {
                const r = parseListen(`${h}:${port}`);
                assert.ok("host" in r, `${h}:${port}: ${"problem" in r ? r.problem : ""}`);
                assert.deepEqual(r, { host: h.replace(/^\[|\]$/g, ""), port });
            }),
            { numRuns: 300 },
        );
        fc.assert(
            fc.property(fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: fc.constantFrom(..."[]:0123456789abf.-"), maxLength: 20 })), (v) => {
                const r = parseListen(v);
                if ("problem" in r) return;
                assert.ok(r.port >= 1 && r.port <= 65535, v);
                assert.ok(net.isIP(r.host) !== 0 || /^[A-Za-z0-9.-]+$/.test(r.host), `${v} -> ${r.host}`);
            }),
            { numRuns: 1000 },
        );
    });

    it("previews: AGENT_PREVIEW_NODE_SELECTOR is node labels as key=value,key=value; anything else is named with the fix", () => {
        const previews = { ...base, AGENT_PREVIEW_REPOSITORY: "acme/platform", AGENT_GITHUB_TOKEN_FILE: "/t", AGENT_PREVIEW_IMAGE: "agent:1", POD_IP: "10.0.0.7" };
        assert.equal(parseSettings(previews, [], exists).previews?.nodeSelector, undefined, "any node by default");
        assert.deepEqual(parseSettings({ ...previews, AGENT_PREVIEW_NODE_SELECTOR: "pool=previews, kubernetes.io/os=linux" }, [], exists).previews?.nodeSelector, { pool: "previews", "kubernetes.io/os": "linux" });
        for (const [bad, why] of [["pool", /"pool" is no label key=value/], ["pool=a b", /"pool=a b" is no label key=value/], ["a=1,a=2", /the label a is given twice/], ["-x=1", /is no label/]] as const) {
            const said = problems({ ...previews, AGENT_PREVIEW_NODE_SELECTOR: bad }).join("\n");
            assert.match(said, /AGENT_PREVIEW_NODE_SELECTOR \(--preview-node-selector\) = ".*": /);
            assert.match(said, why);
            assert.match(said, /expected node labels as key=value,key=value, e\.g\. pool=previews/);
        }
    });

    it("previews: AGENT_PREVIEW_TOLERATIONS is taints as kubectl taint writes them; anything else is named with the fix", () => {
        const previews = { ...base, AGENT_PREVIEW_REPOSITORY: "acme/platform", AGENT_GITHUB_TOKEN_FILE: "/t", AGENT_PREVIEW_IMAGE: "agent:1", POD_IP: "10.0.0.7" };
        assert.equal(parseSettings(previews, [], exists).previews?.tolerations, undefined, "none by default");
        // GitHub's API: a token in its query would be a credential in the open, and is never echoed.
        const said = problems({ ...previews, AGENT_GITHUB_API_URL: "https://ghe.example.com/api/v3?access_token=ghp_secret123" }).join("\n");
        assert.match(said, /AGENT_GITHUB_API_URL \(--github-api-url\) = "https:\/\/ghe\.example\.com\/api\/v3\?…": has a query or fragment/);
        assert.ok(!said.includes("ghp_secret123"));
        assert.match(problems({ ...base, AGENT_PREVIEW_TOLERATIONS: "pool", AGENT_PREVIEW_NODE_SELECTOR: "pool=x" }).join("\n"), /AGENT_PREVIEW_NODE_SELECTOR \(--preview-node-selector\), AGENT_PREVIEW_TOLERATIONS \(--preview-tolerations\) are set but AGENT_PREVIEW_REPOSITORY \(--preview-repository\) is not/);
        assert.deepEqual(parseSettings({ ...previews, AGENT_PREVIEW_TOLERATIONS: "pool=previews:NoSchedule,dedicated,gpu:NoExecute" }, [], exists).previews?.tolerations, [
            { key: "pool", value: "previews", effect: "NoSchedule" },
            { key: "dedicated" },
            { key: "gpu", effect: "NoExecute" },
        ]);
        for (const bad of ["pool=previews:Sometimes", "pool=a b", "=x", "pool:NoSchedule:NoExecute"]) {
            const said = problems({ ...previews, AGENT_PREVIEW_TOLERATIONS: bad }).join("\n");
            assert.match(said, /AGENT_PREVIEW_TOLERATIONS \(--preview-tolerations\) = ".*": ".*" is no toleration key\[=value\]\[:NoSchedule\|PreferNoSchedule\|NoExecute\]; expected taints as kubectl taint writes them, e\.g\. pool=previews:NoSchedule/, bad);
        }
    });

    it("property: tolerations of valid keys and values, written as the Deployment writes them, read back the same; any text is read or refused, never thrown on", () => {
        const label = (re: RegExp, min: number) => fc.stringMatching(re).filter((s) => s.length >= min);
        const toleration = fc.record({ key: label(LABEL_KEY, 1), value: label(LABEL_VALUE, 0), effect: fc.constantFrom(...TAINT_EFFECTS) }, { requiredKeys: ["key"] });
        fc.assert(fc.property(fc.array(toleration, { minLength: 1, maxLength: 5 }), (tolerations) => {
            assert.deepEqual(parseTolerations(tolerationsText(tolerations)), { tolerations: tolerations.map((t) => ({ ...t })) });
        }));
        fc.assert(fc.property(fc.string({ maxLength: 200 }), (text) => {
            const r = parseTolerations(text);
            if ("tolerations" in r) for (const t of r.tolerations) assert.ok(LABEL_KEY.test(t.key) && (t.value === undefined || LABEL_VALUE.test(t.value)));
        }));
    });

    it("property: a nodeSelector of valid labels, written as the Deployment writes it, reads back the same; any text is read or refused, never thrown on", () => {
        const label = (re: RegExp, min: number) => fc.stringMatching(re).filter((s) => s.length >= min);
        fc.assert(fc.property(fc.dictionary(label(LABEL_KEY, 1), label(LABEL_VALUE, 0), { minKeys: 1, maxKeys: 6 }), (selector) => {
            assert.deepEqual(parseNodeSelector(nodeSelectorText(selector)), { selector: { ...selector } });
        }));
        fc.assert(fc.property(fc.string({ maxLength: 200 }), (text) => {
            const r = parseNodeSelector(text);
            if ("selector" in r) for (const [k, v] of Object.entries(r.selector)) assert.ok(LABEL_KEY.test(k) && LABEL_VALUE.test(v));
        }));
    });

    it("an unknown flag is refused", () => {
        assert.match(problems(base, ["--brnach", "x"])[0]!, /Unknown option '--brnach'/);
    });
});

describe("the agent's --help and docs/agent.md's settings table", () => {
    const ROOT = path.resolve(__dirname, "..");

    it("--help prints every setting's flag, variable and meaning, and exits 0 without starting", () => {
        const r = spawnSync(process.execPath, ["--import", "tsx", "agent/main.ts", "--help"], { cwd: ROOT, encoding: "utf8", env: { PATH: process.env.PATH ?? "" } });
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stdout, helpText());
        for (const f of Object.values(FIELDS)) assert.match(r.stdout, new RegExp(`--${f.flag} / ${f.env} +${f.doc.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\n`));
    });

    it("the table in docs/agent.md names exactly the variables and flags the agent reads", () => {
        const doc = fs.readFileSync(path.join(ROOT, "docs", "agent.md"), "utf8");
        const table = doc.slice(doc.indexOf("| variable | flag | default | meaning |")).split("\n\n")[0]!.split("\n").slice(2);
        const names = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
        const cells = table.map((row) => row.split(" | "));
        assert.deepEqual(cells.flatMap((c) => names(c[0]!)).sort(), Object.values(FIELDS).map((f) => f.env).sort());
        assert.deepEqual(cells.flatMap((c) => names(c[1]!)).sort(), Object.values(FIELDS).map((f) => `--${f.flag}`).sort());
    });
});
