import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import { AddressInfo } from "node:net";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { installEnvironment, lockfileHash, prepareDependencies } from "../agent/deps";
import { GitSource, SourceError } from "../agent/git";
import { makeRepo } from "./support/gitrepo";
import { serveGit } from "../tools/git-http";
import { tempDir } from "./support/tmp";

const TOKEN = "ghp_test-token-0123456789";

/**
 * A real HTTPS git server: Node's https module in front of git's own smart-HTTP CGI
 * (tools/git-http.ts), accepting only `Authorization: Basic x-access-token:<TOKEN>`.
 */
function gitHttpsServer(root: string, cert: { key: string; cert: string }): https.Server {
    return https.createServer({ key: cert.key, cert: cert.cert }, (req, res) => {
        const expected = `Basic ${Buffer.from(`x-access-token:${TOKEN}`).toString("base64")}`;
        if (req.headers.authorization !== expected) {
            res.writeHead(401, { "WWW-Authenticate": 'Basic realm="git"' });
            res.end();
            return;
        }
        serveGit(root, req, res, "agent");
    });
}

describe("git over real HTTPS with a token", () => {
    const dir = tempDir("ofg-https-");
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out", "cert.pem", "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"], { cwd: dir, stdio: "pipe" });
    const repo = makeRepo();
    let server: https.Server;
    let url = "";
    let head = "";
    before(async () => {
        head = repo.commit({ "a.txt": "over https" });
        server = gitHttpsServer(path.dirname(repo.bare), { key: fs.readFileSync(path.join(dir, "key.pem"), "utf8"), cert: fs.readFileSync(path.join(dir, "cert.pem"), "utf8") });
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
        url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/${path.basename(repo.bare)}`;
    });
    after(() => server?.close());

    const source = (token: string) => {
        fs.writeFileSync(path.join(dir, "token"), token);
        return new GitSource({ repoUrl: url, branch: "main", verifySignatures: "off", httpsTokenFile: path.join(dir, "token"), httpsCaFile: path.join(dir, "cert.pem"), workDir: fs.mkdtempSync(path.join(dir, "w-")) });
    };

    it("reads the head and checks out with the token from the file", async () => {
        const src = source(TOKEN);
        assert.equal(await src.head(), head);
        assert.equal(fs.readFileSync(path.join(await src.checkout(head), "a.txt"), "utf8"), "over https");
    });

    it("names a refused token", async () => {
        await assert.rejects(source("wrong").head(), (e: SourceError) => e.kind === "auth" && /access to .* was refused/.test(e.message));
    });
});

describe("dependency cache (real npm ci)", () => {
    it("installs once per lockfile and again when it changes", async () => {
        const project = tempDir("ofg-deps-");
        const pkg = { name: "p", version: "1.0.0", lockfileVersion: 3, requires: true, packages: { "": { name: "p", version: "1.0.0" } } };
        fs.writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "p", version: "1.0.0" }));
        fs.writeFileSync(path.join(project, "package-lock.json"), JSON.stringify(pkg));
        const lines: string[] = [];
        assert.equal(await prepareDependencies(project, (l) => lines.push(l)), true);
        assert.ok(fs.existsSync(path.join(project, "node_modules")));
        assert.equal(await prepareDependencies(project, (l) => lines.push(l)), false, "same lockfile: no install");
        fs.writeFileSync(path.join(project, "package-lock.json"), JSON.stringify({ ...pkg, packages: { "": { name: "p", version: "1.0.1" } } }));
        fs.writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "p", version: "1.0.1" }));
        assert.equal(await prepareDependencies(project, (l) => lines.push(l)), true, "changed lockfile: install");
        assert.equal(fs.readFileSync(path.join(project, "node_modules", ".openfaas-gitops-deps.sha256"), "utf8").trim(), lockfileHash(project));
        fs.rmSync(path.join(project, "node_modules"), { recursive: true });
        assert.equal(await prepareDependencies(project, (l) => lines.push(l)), true, "a removed node_modules is reinstalled");
        assert.equal(lines.length, 3);
    });

    it("a revision's install scripts do not run, and npm sees none of the agent's credentials or settings", async () => {
        const project = tempDir("ofg-scripts-");
        const dump = path.join(project, "env-seen-by-scripts");
        // What a hostile revision would do: write the environment it runs with where it can read it later.
        const steal = `node -e "require('fs').appendFileSync(process.argv[1], JSON.stringify(process.env) + '\\n')" ${JSON.stringify(dump)}`;
        const scripts = { preinstall: steal, install: steal, postinstall: steal, prepare: steal };
        fs.writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "p", version: "1.0.0", scripts }));
        fs.writeFileSync(path.join(project, "package-lock.json"), JSON.stringify({ name: "p", version: "1.0.0", lockfileVersion: 3, requires: true, packages: { "": { name: "p", version: "1.0.0", hasInstallScript: true } } }));
        const home = tempDir("ofg-home-");
        const agentEnv = {
            PATH: process.env.PATH, HOME: home, NODE_ENV: "production", HTTPS_PROXY: "http://127.0.0.1:9", NO_PROXY: "127.0.0.1",
            AWS_SECRET_ACCESS_KEY: "aws-secret", PULUMI_CONFIG_PASSPHRASE: "passphrase", PULUMI_ACCESS_TOKEN: "pul-token",
            KUBECONFIG: "/etc/kube/config", AGENT_SYNC_TOKEN_FILE: "/etc/openfaas-gitops-agent/git/sync-token", AGENT_SSH_KEY_FILE: "/etc/openfaas-gitops-agent/git/identity",
        };
        assert.equal(await prepareDependencies(project, () => undefined, agentEnv), true);
        const seen = fs.existsSync(dump) ? fs.readFileSync(dump, "utf8") : "";
        for (const leak of ["aws-secret", "passphrase", "pul-token", "/etc/kube/config", "/etc/openfaas-gitops-agent", "AGENT_"]) assert.ok(!seen.includes(leak), `an install script saw ${leak}`);
        assert.equal(seen, "", "no install script ran");
        assert.deepEqual(installEnvironment(agentEnv), { PATH: process.env.PATH, HOME: home, npm_config_cache: path.join(home, ".npm"), HTTPS_PROXY: "http://127.0.0.1:9", NO_PROXY: "127.0.0.1" });
        assert.equal(installEnvironment({ ...agentEnv, NODE_EXTRA_CA_CERTS: "/ca.pem" }).NODE_EXTRA_CA_CERTS, "/ca.pem");
    });

    it("a revision's .npmrc cannot hand the agent's credentials to a registry of its choosing", async () => {
        // A registry on loopback that records what it is sent and serves one tiny package.
        const pkgDir = tempDir("ofg-dep-");
        fs.mkdirSync(path.join(pkgDir, "package"));
        fs.writeFileSync(path.join(pkgDir, "package", "package.json"), JSON.stringify({ name: "dep", version: "1.0.0" }));
        execFileSync("tar", ["-czf", "dep.tgz", "package"], { cwd: pkgDir });
        const tarball = fs.readFileSync(path.join(pkgDir, "dep.tgz"));
        const seen: string[] = [];
        const registry = http.createServer((req, res) => {
            seen.push(`${req.url} ${req.headers.authorization ?? ""}`);
            res.writeHead(200, { "Content-Type": "application/octet-stream" });
            res.end(tarball);
        });
        await new Promise<void>((r) => registry.listen(0, "127.0.0.1", () => r()));
        try {
            const host = `127.0.0.1:${(registry.address() as AddressInfo).port}`;
            const project = tempDir("ofg-npmrc-");
            fs.writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "p", version: "1.0.0", dependencies: { dep: "1.0.0" } }));
            fs.writeFileSync(path.join(project, "package-lock.json"), JSON.stringify({
                name: "p", version: "1.0.0", lockfileVersion: 3, requires: true,
                packages: { "": { name: "p", version: "1.0.0", dependencies: { dep: "1.0.0" } }, "node_modules/dep": { version: "1.0.0", resolved: `http://${host}/dep/-/dep-1.0.0.tgz` } },
            }));
            fs.writeFileSync(path.join(project, ".npmrc"), `registry=http://${host}/\n//${host}/:_authToken=\${PULUMI_ACCESS_TOKEN}\n`);
            const agentEnv = { PATH: process.env.PATH, HOME: tempDir("ofg-home-"), PULUMI_ACCESS_TOKEN: "pul-token" };
            await prepareDependencies(project, () => undefined, agentEnv).catch(() => false);
            assert.ok(seen.length > 0, "npm fetched the package from the loopback registry");
            assert.ok(!seen.join("\n").includes("pul-token"), seen.join("\n"));
        } finally {
            registry.close();
        }
    });

    it("refuses a project without a lockfile", () => {
        assert.throws(() => lockfileHash(tempDir("ofg-nolock-")), /package-lock\.json is missing/);
    });
});
