/**
 * The agent's flux source mode against the REAL Flux source-controller (v1.9.6, built from its Go
 * module) and the REAL kube-apiserver with the Flux CRDs, following a real git repository served by
 * `git http-backend`: the agent watches the GitRepository, downloads and verifies each artifact and
 * applies exactly that revision.
 *
 * The engine is the TEST DOUBLE of the engine interface (the real engine run is
 * test/agent-e2e.test.ts, for both sources): it runs this program for real, on the extracted
 * artifact, under tools/mock-engine.ts (itself a double of the Pulumi engine) and records which
 * image the nodeinfo Deployment would get. Notification-controller cannot be built here: a local
 * HTTP server stands in for its event endpoint (a TEST DOUBLE that only records the POSTs), and the
 * recorded payloads are decoded by Flux's own Event type in test/agent-flux-events.test.ts' tool.
 */
import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import { AddressInfo } from "node:net";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import * as yaml from "js-yaml";
import { Engine } from "../agent/engine";
import { sendFluxEvents } from "../agent/flux-events";
import { FluxSource } from "../agent/flux-source";
import { kubeApi } from "../kube/api";
import { Reconciler } from "../agent/reconciler";
import { Reason } from "../agent/status";
import { gitRepositorySpec } from "../components/flux/source";
import { ControlPlane, controlPlaneAvailable, ensureBinaries, installCrds, startControlPlane } from "../tools/controlplane";
import { serveGit } from "../tools/git-http";
import { ensureSmallTool } from "../tools/go-tools";
import { stackFileConfig } from "../tools/mock-engine";
import { freePort } from "../tools/net";
import { SourceController, startSourceController } from "../tools/source-controller";
import { makeRepo, Repo } from "./support/gitrepo";
import { ROOT, runProgram } from "./helpers";
import { EventsRecorder, startEventsRecorder } from "./support/flux-events-recorder";
import { until } from "./support/wait";
import { tempDir } from "./support/tmp";

const available = controlPlaneAvailable();
const NS = "flux-system";
const NAME = "openfaas-gitops";

/** The project's data files, as the repository holds them: what the program reads besides its code. */
function projectData(): Record<string, string> {
    const files = execFileSync("git", ["ls-files", "stacks", "functions", "secrets"], { cwd: ROOT, encoding: "utf8" }).trim().split("\n");
    return Object.fromEntries(files.map((f) => [f, fs.readFileSync(path.join(ROOT, f), "utf8")]));
}

/** Rewrites the image on the line carrying `marker`, keeping the marker: what image-automation-controller's setters do. */
function setImage(text: string, marker: string, image: string): string {
    const lines = text.split("\n");
    const i = lines.findIndex((l) => l.trimEnd().endsWith(marker));
    assert.ok(i >= 0, `no line ends with ${marker}`);
    lines[i] = lines[i]!.replace(/^(\s*image:\s*)\S+/, `$1${image}`);
    return lines.join("\n");
}

describe("agent flux source mode with the real source-controller", { skip: !available && "no Go toolchain and no cached binaries" }, () => {
    let cp: ControlPlane;
    let sc: SourceController;
    let git: http.Server;
    let tampered: http.Server;
    let notifications: EventsRecorder;
    let repo: Repo;
    let source: FluxSource;
    let reconciler: Reconciler;
    let storageDir: string;
    let storagePort: number;
    const applied: { revision: string; nodeinfo: string; invoker: string }[] = [];
    let tamperedBytes = Buffer.alloc(0);

    /** TEST DOUBLE of the engine interface: runs the program on the extracted artifact under the mock engine. */
    const engine: Engine = {
        up: async ({ dir, revision }) => {
            const { resources } = await runProgram(stackFileConfig("dev", dir));
            const d = resources.find((r) => r.type === "kubernetes:apps/v1:Deployment" && r.inputs.metadata?.name === "nodeinfo");
            const cron = resources.find((r) => r.type === "kubernetes:batch/v1:CronJob");
            applied.push({ revision, nodeinfo: d!.inputs.spec.template.spec.containers[0].image, invoker: cron!.inputs.spec.jobTemplate.spec.template.spec.containers[0].image });
            return { changes: { same: resources.length }, changed: [] };
        },
        detectDrift: async () => ({ changes: {}, changed: [] }),
        correctDrift: async () => ({ changes: {}, changed: [] }),
    };

    const startSc = async () => {
        sc = await startSourceController(cp.kubeconfig, { storageDir, storagePort });
    };
    const gitRepository = () => JSON.parse(cp.kubectl(["-n", NS, "get", "gitrepository", NAME, "-o", "json"]));

    before(async () => {
        ensureBinaries((l) => console.log(`# ${l}`));
        cp = await startControlPlane();
        installCrds(cp);
        cp.kubectl(["create", "namespace", NS]);
        repo = makeRepo("main");
        git = http.createServer((req, res) => serveGit(path.dirname(repo.bare), req, res));
        tampered = http.createServer((_req, res) => res.end(tamperedBytes));
        notifications = await startEventsRecorder();
        for (const s of [git, tampered]) await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
        storageDir = tempDir("ofg-sc-storage-");
        storagePort = await freePort();
        await startSc();

        const work = tempDir("ofg-agent-flux-");
        source = new FluxSource(kubeApi(cp.kubeconfig), { namespace: NS, name: NAME, workDir: work, onRevision: () => void reconciler.sync("watch") });
        reconciler = new Reconciler({
            source,
            engine,
            clock: Date.now,
            isLeader: () => true,
            settings: { backoffBaseMs: 1000, backoffCapMs: 1000, stalledAfter: 5, driftMode: "correct" },
            // As agent/main.ts sends them.
            onChange: async (_status, event, run) => {
                if (event) await sendFluxEvents(notifications.url, event, { namespace: NS, name: NAME, revision: run?.revision, instance: "test", at: new Date() }, (e) => assert.fail(e));
            },
        });
        source.start();
    });
    after(async () => {
        source?.stop();
        await sc?.stop();
        for (const s of [git, tampered]) s?.close();
        notifications?.close();
        await cp?.stop();
        if (storageDir) fs.rmSync(storageDir, { recursive: true, force: true });
    });

    const appliedRevision = (revision: string) => until(`the agent to apply ${revision}`, () => (reconciler.status.lastAppliedRevision === revision ? reconciler.status : undefined), 120_000);

    it("a commit becomes a GitRepository artifact, and the watch makes the agent apply exactly that revision", async () => {
        const first = repo.commit(projectData(), "platform");
        const url = `http://127.0.0.1:${(git.address() as AddressInfo).port}/remote.git`;
        cp.kubectl(["apply", "--server-side", "-f", "-"], yaml.dump(gitRepositorySpec(NS, { repoUrl: url, branch: "main", interval: "2s" })));
        const revision = `main@sha1:${first}`;
        const status = await appliedRevision(revision);
        assert.equal(gitRepository().status.artifact.revision, revision);
        assert.deepEqual(applied, [{ revision, nodeinfo: "ghcr.io/openfaas/nodeinfo:0.2.0", invoker: "curlimages/curl:8.11.1" }]);
        assert.equal(status.conditions.Ready.status, "True");
        assert.match(status.conditions.Ready.message, new RegExp(`revision main@sha1:${first.slice(0, 12)} is applied`));
        // Sent right after the status is recorded.
        const sent = await until("the Applied events", () => { const a = notifications.received.filter((e) => e.reason === Reason.Applied); return a.length >= 2 ? a : undefined; }, 10_000);
        assert.deepEqual(sent.map((e) => e.metadata), [
            { "source.toolkit.fluxcd.io/revision": revision },
            { "source.toolkit.fluxcd.io/revision": revision, "source.toolkit.fluxcd.io/commit_status": "update" },
        ]);
    });

    it("image automation: new tags committed on the marked lines, as the controller writes them, are deployed (a function and the cron jobs' invoker)", async () => {
        const read = (file: string) => fs.readFileSync(path.join(repo.work, file), "utf8");
        const next = repo.commit({
            "functions/stack.yml": setImage(read("functions/stack.yml"), '# {"$imagepolicy": "flux-system:nodeinfo"}', "ghcr.io/openfaas/nodeinfo:0.3.0"),
            "functions/invoker.yml": setImage(read("functions/invoker.yml"), '# {"$imagepolicy": "flux-system:cron-invoker"}', "curlimages/curl:8.12.0"),
        }, "Update images");
        await appliedRevision(`main@sha1:${next}`);
        assert.deepEqual(applied.at(-1), { revision: `main@sha1:${next}`, nodeinfo: "ghcr.io/openfaas/nodeinfo:0.3.0", invoker: "curlimages/curl:8.12.0" });
    });

    it("an artifact whose bytes do not match the advertised digest is refused: Stalled, nothing applied", async () => {
        const good = gitRepository().status.artifact;
        await sc.stop(); // nothing may rewrite the status while it is tampered with
        const bytes = await (await fetch(good.url).catch(() => undefined))?.arrayBuffer();
        assert.equal(bytes, undefined, "source-controller's storage is down");
        tamperedBytes = fs.readFileSync(path.join(storageDir, good.path));
        tamperedBytes[tamperedBytes.length - 1] ^= 0xff;
        const commit = repo.commit({ "README.md": "tampered\n" }, "tampered");
        const revision = `main@sha1:${commit}`;
        const before = applied.length;
        const port = (tampered.address() as AddressInfo).port;
        cp.kubectl(["-n", NS, "patch", "gitrepository", NAME, "--subresource=status", "--type=merge", "-p", JSON.stringify({ status: { artifact: { ...good, revision, url: `http://127.0.0.1:${port}/a.tar.gz` } } })]);
        const status = await until("the agent to refuse the artifact", () => (reconciler.status.stalledReason === Reason.DigestMismatch ? reconciler.status : undefined), 60_000);
        assert.equal(applied.length, before, "the engine never ran");
        assert.notEqual(status.lastAppliedRevision, revision);
        assert.equal(status.conditions.Ready.status, "False");
        assert.equal(status.conditions.Ready.reason, Reason.DigestMismatch);
        assert.match(status.conditions.Ready.message, new RegExp(`not the ${good.digest} that the GitRepository's status advertises; refusing`));
        assert.equal(status.conditions.Stalled.status, "True");
        // The Flux event is sent after the status changes (an HTTP request of its own): waited for.
        await until("the DigestMismatch Flux event", () => (notifications.received.some((e) => e.reason === Reason.DigestMismatch && e.severity === "error" && e.metadata?.["source.toolkit.fluxcd.io/revision"] === revision) ? true : undefined), 30_000);
    });

    it("source-controller down is a source error, and when it is back the agent recovers and applies the head", async () => {
        const commit = repo.commit({ "README.md": "after the outage\n" }, "after the outage");
        const revision = `main@sha1:${commit}`;
        const good = gitRepository().status.artifact;
        // What the status says when source-controller published the revision and then went down.
        cp.kubectl(["-n", NS, "patch", "gitrepository", NAME, "--subresource=status", "--type=merge", "-p",
            JSON.stringify({ status: { artifact: { ...good, revision, path: `gitrepository/${NS}/${NAME}/gone.tar.gz`, url: `${sc.storageUrl}/gitrepository/${NS}/${NAME}/gone.tar.gz` } } })]);
        const down = await until("the source error", () => (reconciler.status.sourceError ? reconciler.status : undefined), 60_000);
        assert.equal(down.conditions.Ready.reason, Reason.SourceUnavailable);
        assert.match(down.conditions.Ready.message, /cannot download the Flux artifact .* source-controller may be down/);
        assert.equal(down.failures, 0, "an unreachable source is not a failure of the revision");
        assert.equal(down.stalledReason, undefined, "a new revision is not stalled");

        await startSc();
        const up = await appliedRevision(revision);
        assert.equal(up.sourceError, undefined);
        assert.equal(up.conditions.Ready.status, "True");
        assert.equal(applied.at(-1)!.revision, revision);
        assert.equal(gitRepository().status.artifact.revision, revision);
    });

    it("every event the agent sent decodes with Flux's own Event type", () => {
        const bin = ensureSmallTool("flux-event");
        const seen = execFileSync(bin, [], { input: notifications.received.map((e) => JSON.stringify(e)).join("\n"), encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] }).trim().split("\n");
        assert.equal(seen.length, notifications.received.length);
        assert.ok(notifications.received.length >= 6);
    });
});
