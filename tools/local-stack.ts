/**
 * What a stack of this project needs to run on the local cluster (tools/controlplane.ts) with the
 * engine built here (tools/engine.ts), shared by `npm run demo` (tools/demo.ts) and the engine
 * tests (test/support/engine.ts): the project's files as the working tree has them, the pinned
 * charts from local paths, and bring-your-own values for everything the program would generate
 * with the random, tls and github providers (they cannot be built here).
 */
import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { CHART_NAMES } from "../model/charts";
import { upstream } from "./upstream";

/** The checkout this module belongs to. */
export const ROOT = path.resolve(__dirname, "..");

/**
 * Copies this project's files into `dir` as `git ls-files` sees them: tracked files (as they are in
 * the working tree, edits included) and new files that are not ignored. node_modules, build output
 * and local secrets stay behind, as they would in a commit.
 */
export function copyWorkingTree(dir: string): void {
    const files = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: ROOT, encoding: "utf8" }).split("\0").filter(Boolean);
    for (const f of files) {
        // A tracked file deleted in the working tree is listed but gone.
        if (!fs.existsSync(path.join(ROOT, f))) continue;
        fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
        fs.copyFileSync(path.join(ROOT, f), path.join(dir, f));
    }
}

/**
 * The `charts` config that points every pinned chart at a local copy (tools/upstream.ts: from
 * ../shared/upstream or the tools cache), so no run of the program downloads one.
 */
export function localChartsConfig(): Record<string, { path: string }> {
    const charts = upstream().charts;
    return Object.fromEntries(CHART_NAMES.map((c) => [c, { path: charts[c] }]));
}

/** Credentials a real `pulumi up` would generate; supplied here as bring-your-own config. */
export interface LocalCredentials {
    readonly adminPassword: string;
    readonly sealingKeyPem: string;
    readonly sealingCertPem: string;
    readonly agentDeployKey: string;
    readonly agentSyncToken: string;
    readonly agentWebhookSecret: string;
}

/** Generates {@link LocalCredentials} with openssl and ssh-keygen; the key files are left in `dir`. */
export function makeCredentials(dir: string): LocalCredentials {
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "sealing.key", "-out", "sealing.crt", "-days", "30", "-subj", "/CN=sealed-secret"], { cwd: dir, stdio: "pipe" });
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "agent", "-f", path.join(dir, "deploy")]);
    const token = () => crypto.randomBytes(24).toString("hex");
    return {
        adminPassword: token(),
        sealingKeyPem: fs.readFileSync(path.join(dir, "sealing.key"), "utf8"),
        sealingCertPem: fs.readFileSync(path.join(dir, "sealing.crt"), "utf8"),
        agentDeployKey: fs.readFileSync(path.join(dir, "deploy"), "utf8"),
        agentSyncToken: token(),
        agentWebhookSecret: token(),
    };
}

/**
 * The agent's dependency cache as a previous run leaves it, so its first run installs nothing (npm
 * ci itself is tested in test/agent-https-deps.test.ts): the checkout's node_modules is this
 * project's. The agent keeps its lockfile-hash marker inside node_modules (agent/deps.ts), so the
 * marker is written into this project's node_modules.
 */
export function seedDependencyCache(agentWorkDir: string): void {
    const checkout = path.join(agentWorkDir, "checkout");
    fs.mkdirSync(checkout, { recursive: true });
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(checkout, "node_modules"));
    const lockHash = crypto.createHash("sha256").update(fs.readFileSync(path.join(ROOT, "package-lock.json"))).digest("hex");
    fs.writeFileSync(path.join(ROOT, "node_modules", ".openfaas-gitops-deps.sha256"), lockHash + "\n");
}
