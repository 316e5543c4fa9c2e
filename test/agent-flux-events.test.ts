/**
 * The agent's Flux events and artifact checks, as pure functions; and the payloads decoded by Flux's
 * OWN Event type (github.com/fluxcd/pkg/apis/event v0.27.2, the version Flux 2.8's controllers use)
 * in tools/flux-event, with unknown fields refused, so notification-controller can read them.
 */
import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as http from "node:http";
import type * as net from "node:net";
import { describe, it } from "node:test";
import { eventsUrl, FluxEvent, fluxEvents, postEvent, SOURCE_GROUP } from "../agent/flux-events";
import { artifactOf, digestProblem, parseDigest } from "../agent/flux-source";
import { Reason, shortRevision } from "../agent/status";
import { ensureSmallTool, smallToolAvailable } from "../tools/go-tools";

const REV = `main@sha1:${"ab12".repeat(10)}`;
const at = new Date("2026-11-25T10:00:00.123Z");
const where = { namespace: "flux-system", name: "openfaas-gitops", instance: "agent-0", at };

describe("Flux events (pure)", () => {
    it("an apply goes out for chat and as the commit status, both naming Flux's revision under the source group", () => {
        const [chat, status, ...more] = fluxEvents({ type: "Normal", reason: Reason.Applied, message: `applied ${REV}: 3 create` }, { ...where, revision: REV });
        assert.equal(more.length, 0);
        assert.deepEqual(chat, {
            involvedObject: { apiVersion: "source.toolkit.fluxcd.io/v1", kind: "GitRepository", namespace: "flux-system", name: "openfaas-gitops" },
            severity: "info",
            timestamp: "2026-11-25T10:00:00Z",
            message: `applied ${REV}: 3 create`,
            reason: "Applied",
            reportingController: "openfaas-gitops-agent",
            reportingInstance: "agent-0",
            metadata: { "source.toolkit.fluxcd.io/revision": REV },
        });
        assert.deepEqual(status!.metadata, { "source.toolkit.fluxcd.io/revision": REV, "source.toolkit.fluxcd.io/commit_status": "update" });
    });

    it("failures and stalls are errors and commit statuses; drift is an error without one; progress is not sent", () => {
        const failed = fluxEvents({ type: "Warning", reason: Reason.DigestMismatch, message: "bad digest" }, { ...where, revision: REV });
        assert.deepEqual(failed.map((e) => [e.severity, e.metadata?.[`${SOURCE_GROUP}/commit_status`]]), [["error", undefined], ["error", "update"]]);
        const drift = fluxEvents({ type: "Warning", reason: Reason.DriftDetected, message: "drift" }, { ...where, revision: REV });
        assert.deepEqual(drift.map((e) => e.severity), ["error"]);
        assert.deepEqual(fluxEvents({ type: "Normal", reason: Reason.Progressing, message: "applying" }, { ...where, revision: REV }), []);
        const source = fluxEvents({ type: "Warning", reason: Reason.SourceUnavailable, message: "down" }, where);
        assert.equal(source.length, 1);
        assert.equal(source[0]!.metadata, undefined, "no revision to name");
    });

    it("messages are cut to the Event type's 39,000 characters; the endpoint is the chart's Service", () => {
        const [e] = fluxEvents({ type: "Warning", reason: Reason.ApplyFailed, message: "x".repeat(50_000) }, where);
        assert.equal(e!.message.length, 39_000);
        assert.equal(eventsUrl("flux"), "http://notification-controller.flux.svc.cluster.local./");
    });

    it("revisions in messages keep Flux's ref and cut the hash", () => {
        assert.equal(shortRevision(REV), "main@sha1:ab12ab12ab12");
        assert.equal(shortRevision("0123456789abcdef0123456789abcdef01234567"), "0123456789ab");
    });
});

describe("posting a Flux event", () => {
    // The error is logged (could not send the Flux event): it named the endpoint with its credential.
    it("an error names the endpoint without a credential in its URL", async () => {
        const server = http.createServer((req, res) => {
            req.resume();
            res.writeHead(500).end();
        });
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
        const port = (server.address() as net.AddressInfo).port;
        const event = fluxEvents({ type: "Normal", reason: Reason.Applied, message: "applied" }, { namespace: "flux-system", name: "repo", at: new Date() })[0]!;
        try {
            await assert.rejects(postEvent(`http://user:hunter2-secret@127.0.0.1:${port}/`, event), (e: Error) => {
                assert.equal(e.message, `HTTP 500 from http://***@127.0.0.1:${port}/`);
                return true;
            });
        } finally {
            server.close();
        }
    });
});

describe("Flux artifact checks (pure)", () => {
    const bytes = Buffer.from("artifact");
    const hex = crypto.createHash("sha256").update(bytes).digest("hex");

    it("accepts the advertised sha256 and refuses any other, naming both digests", () => {
        assert.equal(digestProblem(`sha256:${hex}`, hex, REV), undefined);
        const other = crypto.createHash("sha256").update("tampered").digest("hex");
        assert.match(digestProblem(`sha256:${hex}`, other, REV)!, new RegExp(`artifact of ${REV} has digest sha256:${other}, not the sha256:${hex}.*refusing`));
    });

    it("refuses digests it cannot verify rather than skipping the check", () => {
        assert.throws(() => parseDigest(`sha512:${"0".repeat(128)}`), /not sha256:<64 hex digits>/);
        assert.throws(() => parseDigest(undefined), /not sha256/);
        assert.throws(() => parseDigest(`sha256:${hex.toUpperCase()}`), /not sha256/);
        assert.equal(parseDigest(`sha256:${hex}`), hex);
    });

    it("a GitRepository without an artifact explains why with Flux's Ready condition", () => {
        const a = { url: "http://x/a.tar.gz", revision: REV, digest: `sha256:${hex}` };
        assert.deepEqual(artifactOf({ status: { artifact: a } }, "flux-system/x"), a);
        assert.throws(() => artifactOf({ status: { conditions: [{ type: "Ready", status: "False", reason: "GitOperationFailed", message: "auth failed" }] } }, "flux-system/x"), /flux-system\/x has no artifact: GitOperationFailed: auth failed/);
        assert.throws(() => artifactOf({}, "flux-system/x"), /has no artifact yet/);
    });
});

const goTool = smallToolAvailable("flux-event");

describe("Flux events decoded by Flux's own Event type", { skip: !goTool && "no `go` on PATH and no cached tools/flux-event" }, () => {
    const decode = (events: readonly unknown[]) => {
        const bin = ensureSmallTool("flux-event");
        return execFileSync(bin, [], { input: events.map((e) => JSON.stringify(e)).join("\n"), encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] })
            .trim().split("\n").map((l) => JSON.parse(l) as { kind: string; severity: string; reason: string; revision: string; commitStatus: boolean });
    };

    it("every event the agent sends decodes strictly; notification-controller sees the revision and the commit-status mark", () => {
        const sent: FluxEvent[] = [
            ...fluxEvents({ type: "Normal", reason: Reason.Applied, message: "applied" }, { ...where, revision: REV }),
            ...fluxEvents({ type: "Warning", reason: Reason.RetriesExhausted, message: "failed 5 times" }, { ...where, revision: REV }),
            ...fluxEvents({ type: "Warning", reason: Reason.DriftDetected, message: "drift" }, { ...where, revision: REV }),
            ...fluxEvents({ type: "Warning", reason: Reason.SourceUnavailable, message: "down" }, where),
        ];
        assert.deepEqual(decode(sent), [
            { kind: "GitRepository", severity: "info", reason: "Applied", revision: REV, commitStatus: false },
            { kind: "GitRepository", severity: "info", reason: "Applied", revision: REV, commitStatus: true },
            { kind: "GitRepository", severity: "error", reason: "RetriesExhausted", revision: REV, commitStatus: false },
            { kind: "GitRepository", severity: "error", reason: "RetriesExhausted", revision: REV, commitStatus: true },
            { kind: "GitRepository", severity: "error", reason: "DriftDetected", revision: REV, commitStatus: false },
            { kind: "GitRepository", severity: "error", reason: "SourceUnavailable", revision: "", commitStatus: false },
        ]);
    });

    it("the decoder is strict: an unknown field, a bad severity or a missing object is refused", () => {
        const [good] = fluxEvents({ type: "Normal", reason: Reason.Applied, message: "applied" }, { ...where, revision: REV });
        for (const [bad, why] of [
            [{ ...good, revison: REV }, /unknown field "revison"/],
            [{ ...good, severity: "warning" }, /severity "warning"/],
            [{ ...good, involvedObject: { kind: "GitRepository" } }, /involvedObject needs/],
        ] as const) {
            assert.throws(() => decode([bad]), (e: { stderr?: string }) => why.test(String(e.stderr)));
        }
    });
});
