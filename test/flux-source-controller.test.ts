/**
 * The REAL Flux source-controller (v1.9.6, built from its Go module) against the REAL kube-apiserver
 * with the Flux CRDs, fetching a real git repository served by `git http-backend`: the GitRepository
 * this program declares (gitRepositorySpec) gets an artifact whose sha256 digest matches the bytes
 * served at its URL, and a new commit gets a new artifact.
 */
import { strict as assert } from "node:assert";
import * as crypto from "node:crypto";
import * as http from "node:http";
import { AddressInfo } from "node:net";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import * as yaml from "js-yaml";
import { gitRepositorySpec } from "../components/flux/source";
import { ControlPlane, controlPlaneAvailable, ensureBinaries, installCrds, startControlPlane } from "../tools/controlplane";
import { serveGit } from "../tools/git-http";
import { SourceController, startSourceController } from "../tools/source-controller";
import { makeRepo, Repo } from "./support/gitrepo";

const available = controlPlaneAvailable();

interface Artifact { readonly url: string; readonly revision: string; readonly digest: string }

describe("Flux source-controller on the real control plane", { skip: !available && "no Go toolchain and no cached binaries" }, () => {
    let cp: ControlPlane;
    let sc: SourceController;
    let git: http.Server;
    let repo: Repo;

    before(async () => {
        ensureBinaries((l) => console.log(`# ${l}`));
        cp = await startControlPlane();
        installCrds(cp);
        repo = makeRepo("main");
        git = http.createServer((req, res) => serveGit(path.dirname(repo.bare), req, res));
        await new Promise<void>((r) => git.listen(0, "127.0.0.1", () => r()));
        sc = await startSourceController(cp.kubeconfig);
        cp.kubectl(["create", "namespace", "flux-system"]);
    });
    after(async () => {
        await sc?.stop();
        git?.close();
        await cp?.stop();
    });

    async function artifactFor(revisionSha: string, timeoutMs = 120_000): Promise<Artifact> {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
            const got = JSON.parse(cp.kubectl(["-n", "flux-system", "get", "gitrepository", "openfaas-gitops", "-o", "json"]));
            const a = got.status?.artifact as Artifact | undefined;
            if (a && a.revision.endsWith(revisionSha)) return a;
            if (Date.now() > deadline || !sc.running()) assert.fail(`no artifact for ${revisionSha}; status ${JSON.stringify(got.status)}\n${sc.log().slice(-3000)}`);
            await new Promise((r) => setTimeout(r, 500));
        }
    }

    function download(url: string): Promise<Buffer> {
        return new Promise((resolve, reject) => {
            http.get(url, (res) => {
                const chunks: Buffer[] = [];
                res.on("data", (c: Buffer) => chunks.push(c));
                res.on("end", () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks)) : reject(new Error(`GET ${url}: ${res.statusCode}`))));
            }).on("error", reject);
        });
    }

    it("fetches the repository into an artifact with a sha256 digest, and follows a new commit", async () => {
        const first = repo.commit({ "Pulumi.yaml": "name: openfaas-gitops\n", "functions/stack.yml": "version: 1.0\n" }, "first");
        const url = `http://127.0.0.1:${(git.address() as AddressInfo).port}/remote.git`;
        const spec = gitRepositorySpec("flux-system", { repoUrl: url, branch: "main", interval: "2s" });
        assert.equal("secretRef" in spec.spec, false, "no credentials for a plain http URL");
        cp.kubectl(["apply", "--server-side", "-f", "-"], yaml.dump(spec));

        const a = await artifactFor(first);
        assert.equal(a.revision, `main@sha1:${first}`);
        assert.match(a.digest, /^sha256:[0-9a-f]{64}$/);
        const bytes = await download(a.url);
        assert.equal(`sha256:${crypto.createHash("sha256").update(bytes).digest("hex")}`, a.digest, "the served bytes have the advertised digest");
        assert.equal(bytes.subarray(0, 2).toString("hex"), "1f8b", "a gzip (tar.gz) artifact");

        const second = repo.commit({ "functions/stack.yml": "version: 1.0\nfunctions: {}\n" }, "second");
        const b = await artifactFor(second);
        assert.notEqual(b.digest, a.digest);
    });
});
