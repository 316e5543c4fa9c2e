/**
 * The Pulumi implementation of the engine, for real: only where a `pulumi` CLI (with its Node
 * language host) is on PATH. The build machines cannot install one (see the README), so here this
 * prints one skip line.
 */
import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { PulumiEngine } from "../agent/pulumi-engine";

function havePulumi(): boolean {
    try {
        execFileSync("pulumi", ["version"], { stdio: "ignore" });
        execFileSync("pulumi-language-nodejs", ["--help"], { stdio: "ignore" });
        return true;
    } catch {
        return false;
    }
}
const available = havePulumi();
if (!available) console.log("# SKIP Pulumi-engine tests: no `pulumi` CLI with pulumi-language-nodejs on PATH");

describe("PulumiEngine on a real Pulumi CLI", { skip: !available && "no pulumi CLI on PATH" }, () => {
    it("preview, up and drift check of a one-output project on a file:// backend, stack config from stacks/", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ofg-pulumi-"));
        const state = fs.mkdtempSync(path.join(os.tmpdir(), "ofg-state-"));
        fs.mkdirSync(path.join(dir, "stacks"));
        fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: engine-test\nruntime: nodejs\nstackConfigDir: stacks\n");
        fs.writeFileSync(path.join(dir, "stacks", "Pulumi.test.yaml"), "config:\n  engine-test:greeting: hello\n");
        fs.writeFileSync(path.join(dir, "index.js"), 'const pulumi = require("@pulumi/pulumi"); exports.greeting = new pulumi.Config().require("greeting");\n');
        fs.symlinkSync(path.resolve(__dirname, "..", "node_modules"), path.join(dir, "node_modules"));
        const engine = new PulumiEngine({ stack: "test", projectPath: ".", backendUrl: `file://${state}`, secretsProvider: "passphrase", env: { PULUMI_CONFIG_PASSPHRASE: "test" } });
        const ctx = { dir, revision: "r1", signal: new AbortController().signal, log: () => {} };
        const preview = await engine.preview(ctx);
        assert.equal(preview.changes.create, 1);
        await engine.up(ctx);
        const drift = await engine.detectDrift(ctx);
        assert.deepEqual(drift.changed, []);
    });
});
