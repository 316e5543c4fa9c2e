/**
 * A DigestMismatch stall holds for one artifact, not for its revision: the same revision
 * republished with a digest that matches is applied (docs/agent.md: "until a new artifact").
 * The real FluxSource and Reconciler, the artifact served over loopback HTTP; the GitRepository is
 * read through a TEST DOUBLE of the Kubernetes API (the real source-controller path is
 * test/agent-flux.test.ts), so the test can publish a bad artifact, which source-controller never does.
 */
import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import { AddressInfo } from "node:net";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { Engine, RunResult } from "../agent/engine";
import { FluxSource, GitRepositoryObject } from "../agent/flux-source";
import { KubeApi } from "../kube/api";
import { statusConfigMapData } from "../agent/status-store";
import { parsePersisted } from "../agent/persisted-status";
import { Reconciler } from "../agent/reconciler";
import { Reason } from "../agent/status";
import { tempDir } from "./support/tmp";

/** TEST DOUBLE of the Kubernetes API: the GitRepository's status is whatever the test publishes. */
class GitRepositoryDouble extends KubeApi {
    published: GitRepositoryObject = {};
    constructor() {
        super({ server: "https://127.0.0.1:1" });
    }
    override async getPath<T>(): Promise<T> {
        return this.published as T;
    }
}

describe("a DigestMismatch stall", () => {
    let server: http.Server;
    let url = "";
    let digest = "";
    before(async () => {
        const dir = tempDir("ofg-digest-");
        fs.mkdirSync(path.join(dir, "src"));
        fs.writeFileSync(path.join(dir, "src", "Pulumi.yaml"), "name: x\n");
        execFileSync("tar", ["-czf", path.join(dir, "a.tar.gz"), "-C", path.join(dir, "src"), "."]);
        const bytes = fs.readFileSync(path.join(dir, "a.tar.gz"));
        digest = `sha256:${crypto.createHash("sha256").update(bytes).digest("hex")}`;
        server = http.createServer((_, res) => res.end(bytes));
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
        url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/a.tar.gz`;
    });
    after(() => server?.close());

    it("holds for that artifact only: the same revision republished with a matching digest is applied", async () => {
        const api = new GitRepositoryDouble();
        const revision = `main@sha1:${"a".repeat(40)}`;
        const artifact = (d: string) => ({ status: { artifact: { url, revision, digest: d } } });
        api.published = artifact(`sha256:${"0".repeat(64)}`);
        const source = new FluxSource(api, { namespace: "flux-system", name: "openfaas-gitops", workDir: tempDir("ofg-digest-work-") });
        const applied: string[] = [];
        /** TEST DOUBLE for the engine (no Pulumi CLI here): records what it applied. */
        const engine: Engine = {
            up: async (c): Promise<RunResult> => (applied.push(c.revision), { changes: { same: 1 }, changed: [] }),
            detectDrift: async () => ({ changes: {}, changed: [] }),
            correctDrift: async () => ({ changes: {}, changed: [] }),
        };
        const settings = { backoffBaseMs: 1, backoffCapMs: 1, stalledAfter: 5, driftMode: "report" as const };
        const r = new Reconciler({ source, engine, clock: Date.now, isLeader: () => true, settings });

        const first = await r.sync("watch", revision);
        assert.deepEqual([first.action, (first as { stalled?: boolean }).stalled], ["failed", true]);
        assert.equal(r.status.conditions.Stalled.reason, Reason.DigestMismatch);
        assert.deepEqual(await r.sync("poll"), { action: "stalled", reason: Reason.DigestMismatch }, "the same bad artifact is not downloaded again");

        // A restart keeps the stall, and which artifact it is about.
        const persisted = parsePersisted(statusConfigMapData(r.status)["status.json"]!, Date.now()).status;
        const restarted = new Reconciler({ source, engine, clock: Date.now, isLeader: () => true, settings }, persisted);
        assert.deepEqual(await restarted.sync("poll"), { action: "stalled", reason: Reason.DigestMismatch });

        api.published = artifact(digest); // source-controller rebuilt the artifact of the same revision
        assert.equal((await restarted.sync("watch", revision)).action, "applied");
        assert.deepEqual(applied, [revision]);
        assert.equal(restarted.status.conditions.Stalled.status, "False");
    });
});
