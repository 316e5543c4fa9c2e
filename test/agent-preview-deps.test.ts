/**
 * The preview pod takes the agent's node_modules (agent/preview-main.ts takeDependencies) over HTTP
 * from a server on loopback that serves a real tar of a real directory, whole or broken off, as the
 * agent's would when an apply replaces its node_modules while the tar is sent. A transfer that fails
 * must leave no node_modules (the pod then runs npm ci), never fail the preview.
 */
import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { takeDependencies } from "../agent/preview-main";
import { tempDir } from "./support/tmp";

const TOKEN = "preview-token-0123456789";

describe("the preview pod takes the agent's dependencies", () => {
    let server: http.Server;
    let base: string;
    let tarball: Buffer;
    const peers: (string | undefined)[] = [];
    const auth: (string | undefined)[] = [];

    before(async () => {
        const agentProject = tempDir("ofg-deps-agent-");
        fs.mkdirSync(path.join(agentProject, "node_modules", "left-pad"), { recursive: true });
        fs.writeFileSync(path.join(agentProject, "node_modules", "left-pad", "index.js"), "module.exports = 1;\n");
        // Incompressible and large enough that half of the tar stops inside it.
        fs.writeFileSync(path.join(agentProject, "node_modules", "left-pad", "blob.bin"), crypto.randomBytes(2 * 1024 * 1024));
        tarball = execFileSync("tar", ["-c", "-f", "-", "-C", agentProject, "node_modules"], { maxBuffer: 64 * 1024 * 1024 });
        server = http.createServer((req, res) => {
            peers.push(req.socket.remoteAddress);
            auth.push(req.headers.authorization);
            if (req.url === "/whole") return res.end(tarball);
            if (req.url === "/broken") {
                res.writeHead(200, { "Content-Type": "application/x-tar" });
                return res.write(tarball.subarray(0, tarball.length >> 1), () => setTimeout(() => res.destroy(), 50));
            }
            if (req.url === "/garbage") return res.end(crypto.randomBytes(64 * 1024));
            return res.writeHead(410).end("no dependencies are offered, or they were fetched already\n");
        });
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
        base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(() => new Promise<void>((r) => server.close(() => r())));

    const project = () => {
        const dir = tempDir("ofg-deps-pod-");
        fs.writeFileSync(path.join(dir, "package.json"), "{}\n");
        return dir;
    };

    it("a whole transfer: the agent's node_modules, as sent", async () => {
        const dir = project();
        const said: string[] = [];
        assert.equal(await takeDependencies(`${base}/whole`, TOKEN, dir, (l) => said.push(l)), true);
        assert.equal(fs.readFileSync(path.join(dir, "node_modules", "left-pad", "index.js"), "utf8"), "module.exports = 1;\n");
        assert.equal(fs.statSync(path.join(dir, "node_modules", "left-pad", "blob.bin")).size, 2 * 1024 * 1024);
        assert.deepEqual(said, []);
    });

    for (const [what, route, why] of [
        ["broken off midway (an apply replaced the agent's node_modules)", "/broken", /could not be taken \(.+\); npm ci instead/],
        ["not a tar", "/garbage", /could not be taken \(.+\); npm ci instead/],
        ["refused (410: fetched already)", "/gone", /could not be taken \(GET \/gone: HTTP 410 no dependencies are offered.*\); npm ci instead/],
    ] as const) {
        it(`a transfer ${what}: false, no node_modules left, and one line says why`, async () => {
            const dir = project();
            const said: string[] = [];
            assert.equal(await takeDependencies(`${base}${route}`, TOKEN, dir, (l) => said.push(l)), false);
            assert.equal(fs.existsSync(path.join(dir, "node_modules")), false, "nothing half-unpacked is taken for installed");
            assert.equal(said.length, 1);
            assert.match(said[0]!, why);
            assert.ok(!said[0]!.includes("\n"), "one line");
            assert.ok(!said[0]!.includes(TOKEN));
        });
    }

    it("every request carried the pod's token and stayed on loopback", () => {
        assert.ok(peers.length >= 4);
        for (const p of peers) assert.equal(p, "127.0.0.1");
        for (const a of auth) assert.equal(a, `Bearer ${TOKEN}`);
    });
});
