import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import { Engine, RunContext, RunResult } from "../agent/engine";
import { PermanentError } from "../agent/errors";
import { fromPersisted } from "../agent/persisted-status";
import { backoffDelay, jittered, Reconciler, ReconcilerDeps, Source } from "../agent/reconciler";
import { AgentStatus, Reason } from "../agent/status";
import { emptyStatus } from "../agent/conditions";

/**
 * TEST DOUBLE for the engine (the Pulumi CLI cannot run on these machines): records what it was
 * asked to do and fails, drifts or blocks when a test tells it to.
 */
class EngineDouble implements Engine {
    readonly calls: string[] = [];
    failUp = false;
    drift: string[] = [];
    /** When set, up() waits for release() or for its abort signal. */
    block = false;
    private release?: () => void;
    async up(ctx: RunContext): Promise<RunResult> {
        this.calls.push(`up ${ctx.revision}`);
        if (this.block) {
            await new Promise<void>((resolve, reject) => {
                this.release = resolve;
                ctx.signal.addEventListener("abort", () => reject(new Error("cancelled by signal")));
            });
        }
        if (this.failUp) throw new Error("up failed: deployment rejected");
        this.drift = [];
        return { changes: { create: 1, same: 3 }, changed: ["openfaas-fn/nodeinfo"] };
    }
    async detectDrift(ctx: RunContext): Promise<RunResult> {
        this.calls.push(`drift ${ctx.revision}`);
        return { changes: { update: this.drift.length, same: 3 }, changed: [...this.drift] };
    }
    async correctDrift(ctx: RunContext): Promise<RunResult> {
        this.calls.push(`correct ${ctx.revision}`);
        const changed = this.drift;
        this.drift = [];
        return { changes: { update: changed.length }, changed };
    }
    finish(): void {
        this.release?.();
    }
}

/** TEST DOUBLE for the git source, so a test sets the branch head directly (git itself is tested in agent-git.test.ts). */
class SourceDouble implements Source {
    headRev = "a".repeat(40);
    unreachable = false;
    hostKeyChanged = false;
    badSignature = false;
    readonly hints: (string | undefined)[] = [];
    async head(hint?: string) {
        this.hints.push(hint);
        if (this.hostKeyChanged) throw new PermanentError("the SSH host key of git@github.com:org/repo.git is not the one pinned", Reason.HostKeyMismatch);
        if (this.unreachable) throw new Error("cannot reach git@github.com:org/repo.git: connection refused");
        return this.headRev;
    }
    async checkout() {
        return "/checkout";
    }
    async verify(rev: string) {
        if (this.badSignature) throw new PermanentError(`commit ${rev} has no valid signature`);
    }
}

function setup(over: Partial<ReconcilerDeps["settings"]> = {}, initial?: AgentStatus) {
    let now = Date.parse("2026-11-24T00:00:00Z");
    const engine = new EngineDouble();
    const source = new SourceDouble();
    const events: string[] = [];
    const changes: unknown[] = [];
    const messages: string[] = [];
    let leader = true;
    const r = new Reconciler(
        {
            source,
            engine,
            clock: () => now,
            isLeader: () => leader,
            onChange: (s, e) => {
                changes.push(s);
                if (e) events.push(`${e.type} ${e.reason}`);
                if (e) messages.push(e.message);
            },
            settings: { backoffBaseMs: 30_000, backoffCapMs: 300_000, stalledAfter: 3, driftMode: "correct", ...over },
        },
        initial,
    );
    return { r, engine, source, events, changes, messages, advance: (ms: number) => (now += ms), setLeader: (v: boolean) => (leader = v) };
}

const B = "b".repeat(40);
const C = "c".repeat(40);

describe("reconcile loop (engine double)", () => {
    it("status writes land in the order of the changes: a slow write never lands after a newer one", async () => {
        // An election error is recorded outside the run chain; its write (slow, as an apiserver
        // under load answers) must not land after the applied run's, or the stored status loses the
        // apply and a next leader adopts a revision as not applied.
        const landed: AgentStatus[] = [];
        let slowNext = true;
        const r = new Reconciler({
            source: new SourceDouble(),
            engine: new EngineDouble(),
            clock: Date.now,
            isLeader: () => true,
            onChange: async (s) => {
                if (slowNext) {
                    slowNext = false;
                    await new Promise((resolve) => setTimeout(resolve, 200));
                }
                landed.push(s);
            },
            settings: { backoffBaseMs: 30_000, backoffCapMs: 300_000, stalledAfter: 3, driftMode: "correct" },
        });
        await Promise.all([r.leaderElection("no answer from the apiserver within the renew deadline (8 s)"), r.sync("poll")]);
        assert.equal(landed.at(-1)!.lastAppliedRevision, "a".repeat(40), "the last write is not the newest status");
        assert.deepEqual(landed.at(-1), r.status);
    });

    it("withCheckout: a new process checks out the revision applied before it, never a head it did not apply; nothing applied is an error; in turn with the runs", async () => {
        // B was applied; C, the head, was refused (a bad signature, say): its config is nobody's to trust.
        const stored = { ...emptyStatus(0), headRevision: C, lastAppliedRevision: B };
        const { r, source, engine } = setup({}, stored);
        const checkedOut: string[] = [];
        source.checkout = async (rev?: string) => (checkedOut.push(rev!), "/checkout");
        assert.equal(await r.withCheckout(async (dir) => dir), "/checkout");
        assert.deepEqual(checkedOut, [B]);
        // A sync started first runs first: the checkout is not replaced under the previews' feet.
        source.headRev = C;
        const order: string[] = [];
        await Promise.all([r.sync("poll").then(() => order.push("sync")), r.withCheckout(async () => order.push(`previews at ${engine.calls.at(-1)}`))]);
        assert.deepEqual(order, ["sync", `previews at up ${C}`]);
        assert.deepEqual(checkedOut.at(-1), C, "once applied, C is what previews read");
        await assert.rejects(setup().r.withCheckout(async () => "x"), /no revision of the branch is applied yet: previews start after the first apply/);
    });

    it("applies a revision once; polls and webhooks after that find it up to date", async () => {
        const { r, engine, events } = setup();
        assert.equal((await r.sync("poll")).action, "applied");
        assert.equal((await r.sync("poll")).action, "up-to-date");
        assert.equal((await r.sync("webhook")).action, "up-to-date");
        assert.deepEqual(engine.calls, [`up ${"a".repeat(40)}`]);
        assert.equal(r.status.lastAppliedRevision, "a".repeat(40));
        assert.equal(r.status.conditions.Ready.status, "True");
        assert.deepEqual(events, ["Normal Progressing", "Normal Applied"]);
        assert.equal(r.status.history[0]!.result, "succeeded");
    });

    it("busy while a run goes or waits (previews do not start then), idle once it is done", async () => {
        const { r, engine } = setup();
        assert.equal(r.busy, false);
        engine.block = true;
        const running = r.sync("poll");
        await new Promise((resolve) => setTimeout(resolve, 20));
        assert.equal(r.busy, true, "a run is going");
        const waiting = r.sync("webhook");
        assert.equal(r.busy, true);
        engine.block = false;
        engine.finish();
        await Promise.all([running, waiting]);
        assert.equal(r.busy, false);
    });

    it("a run that never finishes is stopped at the run deadline as a failure, so the next sync is not held behind it", async () => {
        const { r, engine } = setup({ runTimeoutMs: 50 });
        engine.block = true;
        const failed = await r.sync("poll");
        assert.equal(failed.action, "failed");
        assert.match((failed as { error: string }).error, /took longer than AGENT_RUN_TIMEOUT \(0 s\)/);
        assert.equal(r.status.failures, 1);
        assert.equal(r.status.history[0]!.result, "failed");
        engine.block = false;
        assert.equal((await r.sync("manual")).action, "applied");
        // The drift check of the applied revision has the same deadline.
        engine.detectDrift = (ctx) => new Promise((_, reject) => ctx.signal.addEventListener("abort", () => reject(new Error("killed"))));
        const drift = await r.checkDrift();
        assert.equal(drift.action, "drift-skipped");
        assert.match((drift as { reason: string }).reason, /AGENT_RUN_TIMEOUT/);
        assert.equal(r.status.history[0]!.result, "failed");
    });

    it("the run deadline and a leadership loss reach the install too (npm ci), not only the engine", async () => {
        // An install that only ends when told to: before, prepare got no signal, so a hung npm ci held
        // the queue for its own 30 min timeout whatever AGENT_RUN_TIMEOUT said, and kept running after
        // the Lease was lost.
        const { r, engine } = setup({ runTimeoutMs: 50 });
        const hungInstall = (_dir: string, _log: (l: string) => void, signal?: AbortSignal) =>
            new Promise<void>((_, reject) => {
                const t = setTimeout(() => reject(new Error("install ran to its own end")), 5_000);
                signal?.addEventListener("abort", () => (clearTimeout(t), reject(new Error("npm ci killed"))), { once: true });
            });
        (r as unknown as { deps: ReconcilerDeps }).deps = { ...(r as unknown as { deps: ReconcilerDeps }).deps, prepare: hungInstall };
        const t0 = Date.now();
        const failed = await r.sync("poll");
        assert.equal(failed.action, "failed");
        assert.match((failed as { error: string }).error, /AGENT_RUN_TIMEOUT/);
        assert.ok(Date.now() - t0 < 2_000, `the install was stopped at the deadline (took ${Date.now() - t0} ms)`);
        assert.deepEqual(engine.calls, []);
        // A leader that loses the Lease mid-install stops the install as well.
        const other = setup();
        (other.r as unknown as { deps: ReconcilerDeps }).deps = { ...(other.r as unknown as { deps: ReconcilerDeps }).deps, prepare: hungInstall };
        const run = other.r.sync("poll");
        await new Promise((res) => setTimeout(res, 20));
        other.r.leadershipLost();
        assert.equal((await run).action, "cancelled");
    });

    it("a credential inside a URL in any error (source, apply, drift) reaches neither the status nor an Event", async () => {
        const { r, engine, source, messages } = setup();
        const failing = (what: string) => new Error(`${what} failed: cannot reach https://oauth2:hunter2@git.example/org/repo.git and postgres://state:pw-42@db.example/pulumi`);
        source.head = async () => {
            throw failing("ls-remote");
        };
        await r.sync("poll");
        source.head = async () => "a".repeat(40);
        engine.up = async () => {
            throw failing("update");
        };
        await r.sync("manual");
        engine.up = async () => ({ changes: { same: 1 }, changed: [] });
        await r.sync("manual");
        engine.detectDrift = async () => {
            throw failing("refresh");
        };
        await r.checkDrift();
        const seen = JSON.stringify(r.status) + messages.join("\n");
        assert.match(seen, /https:\/\/\*\*\*@git\.example/);
        assert.doesNotMatch(seen, /hunter2|pw-42/);
    });

    it("drift checks triggered while a long update runs wait as one, not one per tick", async () => {
        // The drift timer fires every AGENT_DRIFT_INTERVAL (1 s is accepted) whatever is running:
        // each tick queued another full refresh behind the update, and every sync after them waited.
        const { r, engine } = setup();
        engine.block = true;
        const applying = r.sync("poll");
        await new Promise((res) => setImmediate(res));
        const ticks = Array.from({ length: 50 }, () => r.checkDrift());
        engine.finish();
        assert.equal((await applying).action, "applied");
        await Promise.all(ticks);
        assert.deepEqual(engine.calls.filter((c) => c.startsWith("drift")), [`drift ${"a".repeat(40)}`]);
    });

    it("backs off exponentially, goes Stalled, then recovers on a new revision", async () => {
        const { r, engine, source, advance } = setup();
        engine.failUp = true;
        const f1 = await r.sync("poll");
        assert.equal(f1.action, "failed");
        assert.equal((f1 as any).retryAt - Date.parse("2026-11-24T00:00:00Z"), 30_000);
        assert.equal((await r.sync("poll")).action, "waiting", "inside the backoff window nothing is retried");
        advance(30_000);
        const f2 = await r.sync("poll");
        assert.equal(f2.action, "failed");
        advance(59_999);
        assert.equal((await r.sync("poll")).action, "waiting", "the second wait is twice the first");
        advance(1);
        const f3 = await r.sync("poll");
        assert.deepEqual([f3.action, (f3 as any).stalled], ["failed", true]);
        assert.equal(r.status.conditions.Stalled.status, "True");
        assert.equal(r.status.conditions.Ready.status, "False");
        advance(10_000_000);
        assert.equal((await r.sync("poll")).action, "stalled", "a stalled revision is not retried by polls");
        assert.equal(engine.calls.length, 3);

        engine.failUp = false;
        source.headRev = B;
        assert.equal((await r.sync("webhook")).action, "applied", "a new revision clears Stalled");
        assert.equal(r.status.conditions.Stalled.status, "False");
        assert.equal(r.status.failures, 0);
        assert.equal(r.status.lastAppliedRevision, B);
    });

    it("a stored next retry further away than the backoff cap (an edited or future-dated status) waits at most the cap", async () => {
        // nextRetryAt: 9999-... with failures 1 kept the failing revision from ever being retried,
        // and the status said neither Stalled nor why.
        const stored = { lastAttemptedRevision: "a".repeat(40), failures: 1, nextRetryAt: "9999-01-01T00:00:00.000Z" };
        for (const adopt of [false, true]) {
            const { r, engine, advance } = adopt ? setup() : setup({}, stored as unknown as AgentStatus);
            if (adopt) await r.adoptLeaderStatus(async () => stored);
            assert.equal((await r.sync("poll")).action, "waiting");
            advance(300_000);
            assert.equal((await r.sync("poll")).action, "applied", adopt ? "adopted" : "at start");
            assert.deepEqual(engine.calls, [`up ${"a".repeat(40)}`]);
        }
    });

    it("a manual sync retries a stalled revision at once", async () => {
        const { r, engine } = setup({ stalledAfter: 1 });
        engine.failUp = true;
        assert.equal(((await r.sync("poll")) as any).stalled, true);
        engine.failUp = false;
        assert.equal((await r.sync("manual")).action, "applied");
    });

    it("keeps the last good revision when a new one fails, and never applies half", async () => {
        const { r, engine, source } = setup();
        await r.sync("poll");
        source.headRev = B;
        engine.failUp = true;
        await r.sync("poll");
        assert.equal(r.status.lastAppliedRevision, "a".repeat(40));
        assert.equal(r.status.lastAttemptedRevision, B);
        assert.match(r.status.lastError!, /deployment rejected/);
    });

    it("an unverified head is not applied and stalls until a new revision", async () => {
        const { r, engine, source } = setup();
        source.badSignature = true;
        const d = await r.sync("poll");
        assert.deepEqual([d.action, (d as any).stalled], ["failed", true]);
        assert.deepEqual(engine.calls, []);
        assert.equal(r.status.conditions.Stalled.reason, "VerificationFailed");
        assert.match(r.status.conditions.Ready.message, /no valid signature/);
    });

    it("reports an unreachable source without touching the applied state", async () => {
        const { r, source, events } = setup();
        await r.sync("poll");
        source.unreachable = true;
        assert.equal((await r.sync("poll")).action, "source-error");
        assert.equal(r.status.conditions.Ready.reason, "SourceUnavailable");
        assert.equal(events.at(-1), "Warning SourceUnavailable");
    });

    it("recovery clears Ready and lastError on every path: up to date, waiting and stalled", async () => {
        const { r, engine, source, advance } = setup({ stalledAfter: 2 });
        await r.sync("poll");
        source.unreachable = true;
        await r.sync("poll");
        assert.equal(r.status.lastError, "cannot reach git@github.com:org/repo.git: connection refused");
        source.unreachable = false;
        assert.equal((await r.sync("poll")).action, "up-to-date");
        assert.deepEqual([r.status.conditions.Ready.status, r.status.conditions.Ready.reason, r.status.lastError], ["True", "Applied", undefined]);

        source.headRev = B;
        engine.failUp = true;
        await r.sync("poll");
        source.unreachable = true;
        await r.sync("poll");
        source.unreachable = false;
        assert.equal((await r.sync("poll")).action, "waiting");
        assert.deepEqual([r.status.conditions.Ready.reason, r.status.lastError], ["ApplyFailed", "up failed: deployment rejected"], "waiting shows the apply error, not the gone source error");
        advance(30_000);
        await r.sync("poll");
        source.unreachable = true;
        await r.sync("poll");
        source.unreachable = false;
        assert.deepEqual(await r.sync("poll"), { action: "stalled", reason: "RetriesExhausted" });
        assert.deepEqual([r.status.conditions.Ready.reason, r.status.conditions.Stalled.status], ["RetriesExhausted", "True"]);
        assert.equal(r.status.lastError, "up failed: deployment rejected");
    });

    it("an unchanged poll updates the last check time without reporting a change", async () => {
        const { r, advance, changes } = setup();
        await r.sync("poll");
        const reported = changes.length;
        advance(60_000);
        assert.equal((await r.sync("poll")).action, "up-to-date");
        assert.equal(r.status.lastCheckedAt, "2026-11-24T00:01:00.000Z");
        assert.equal(changes.length, reported, "no status write for a poll that found nothing new");
    });

    it("conditions are Unknown while a run is in progress", async () => {
        const { r, engine } = setup();
        engine.block = true;
        const run = r.sync("poll");
        await new Promise((res) => setImmediate(res));
        assert.deepEqual([r.status.conditions.Ready.status, r.status.conditions.Reconciling.status, r.status.conditions.Reconciling.reason], ["Unknown", "True", "Progressing"]);
        engine.finish();
        await run;
        assert.deepEqual([r.status.conditions.Ready.status, r.status.conditions.Reconciling.status], ["True", "False"]);
    });

    it("a changed host key stalls at once: polls stop asking the server until a manual sync", async () => {
        const { r, source, events } = setup();
        await r.sync("poll");
        source.hostKeyChanged = true;
        assert.deepEqual(await r.sync("poll"), { action: "source-error", error: "the SSH host key of git@github.com:org/repo.git is not the one pinned", stalled: true });
        assert.deepEqual([r.status.conditions.Stalled.status, r.status.conditions.Stalled.reason, r.status.conditions.Ready.reason], ["True", "HostKeyMismatch", "HostKeyMismatch"]);
        assert.equal(events.at(-1), "Warning HostKeyMismatch");
        const asked = source.hints.length;
        assert.deepEqual(await r.sync("poll"), { action: "stalled", reason: "HostKeyMismatch" });
        assert.deepEqual(await r.sync("webhook"), { action: "stalled", reason: "HostKeyMismatch" });
        assert.equal(source.hints.length, asked, "retrying cannot fix a host key: the server is not asked again");
        source.hostKeyChanged = false; // known_hosts fixed
        assert.equal((await r.sync("manual")).action, "applied");
        assert.deepEqual([r.status.conditions.Stalled.status, r.status.conditions.Ready.status], ["False", "True"]);
    });

    it("a leader that loses its Lease mid-update aborts the run; it is not a failure", async () => {
        const { r, engine, setLeader } = setup();
        engine.block = true;
        const run = r.sync("poll");
        await new Promise((res) => setImmediate(res));
        setLeader(false);
        r.leadershipLost();
        assert.deepEqual(await run, { action: "cancelled", revision: "a".repeat(40), reason: "leadership was lost" });
        assert.equal(r.status.failures, 0);
        assert.equal(r.status.history[0]!.result, "cancelled");
        assert.equal((await r.sync("poll")).action, "not-leader");
    });

    it("merges triggers: at most one sync waits behind the running one, with the newest push hint", async () => {
        const { r, engine, source } = setup();
        engine.block = true;
        const first = r.sync("poll");
        await new Promise((res) => setImmediate(res));
        source.headRev = B;
        const queued = Array.from({ length: 200 }, (_, i) => r.sync("webhook", i === 199 ? B : C));
        engine.block = false;
        engine.finish();
        await first;
        const decisions = await Promise.all(queued);
        assert.ok(decisions.every((d) => d === decisions[0]), "every merged trigger gets the one sync's decision");
        assert.deepEqual(engine.calls, [`up ${"a".repeat(40)}`, `up ${B}`]);
        assert.deepEqual(source.hints, [undefined, B], "two head checks, the second with the newest push's sha");
    });

    it("suspended: nothing runs until resumed", async () => {
        const { r, engine } = setup();
        await r.suspend(true);
        assert.equal((await r.sync("poll")).action, "suspended");
        assert.equal((await r.sync("manual")).action, "suspended");
        assert.equal((await r.checkDrift()).action, "suspended");
        assert.equal(r.status.conditions.Reconciling.reason, "Suspended");
        assert.deepEqual(engine.calls, []);
        await r.suspend(false);
        assert.equal((await r.sync("poll")).action, "applied");
    });

    it("agent.suspend is desired state at every start: true suspends, and a restart with false resumes (no latch)", async () => {
        const first = setup({ suspend: true });
        await first.r.applySuspendSetting();
        assert.deepEqual([first.r.status.suspended, first.r.status.suspendedBy], [true, "setting"]);
        assert.equal((await first.r.sync("poll")).action, "suspended");
        const persisted = JSON.parse(JSON.stringify(first.r.status));
        const restarted = setup({ suspend: false }, persisted);
        await restarted.r.applySuspendSetting();
        assert.equal(restarted.r.status.suspended, false);
        assert.equal((await restarted.r.sync("poll")).action, "applied", "git's suspend: false is applied");
        assert.ok(restarted.events.includes("Normal Resumed"));
        // A status from an agent that did not record why it was suspended: the setting decides.
        const older = setup({ suspend: false }, { ...persisted, suspendedBy: undefined });
        await older.r.applySuspendSetting();
        assert.equal(older.r.status.suspended, false);
    });

    it("POST /suspend outlives restarts and leader changes until POST /resume; a resume lasts until the next start", async () => {
        const a = setup({ suspend: false });
        await a.r.applySuspendSetting();
        await a.r.suspend(true);
        const restarted = setup({ suspend: false }, JSON.parse(JSON.stringify(a.r.status)));
        await restarted.r.applySuspendSetting();
        assert.deepEqual([restarted.r.status.suspended, restarted.r.status.suspendedBy], [true, "request"], "an emergency stop survives a pod restart");
        const follower = setup({ suspend: false });
        await follower.r.adoptLeaderStatus(async () => JSON.parse(JSON.stringify(a.r.status)));
        assert.equal(follower.r.status.suspended, true, "and a new leader");
        await restarted.r.suspend(false);
        assert.equal((await restarted.r.sync("poll")).action, "applied");

        // With agent.suspend true, POST /resume runs until the next start (the setting applies again).
        const s = setup({ suspend: true });
        await s.r.applySuspendSetting();
        await s.r.suspend(false);
        assert.equal((await s.r.sync("poll")).action, "applied");
        const next = setup({ suspend: true }, JSON.parse(JSON.stringify(s.r.status)));
        await next.r.applySuspendSetting();
        assert.deepEqual([next.r.status.suspended, next.r.status.suspendedBy], [true, "setting"]);
        // A new leader decides a setting's suspension by its own setting (a rollout that changed it).
        const newLeader = setup({ suspend: false });
        await newLeader.r.adoptLeaderStatus(async () => JSON.parse(JSON.stringify(next.r.status)));
        assert.equal(newLeader.r.status.suspended, false);
    });

    it("HostKeyMismatch: a restart (the documented remedy) asks the server again; polls after that do not", async () => {
        const { r, source } = setup();
        source.hostKeyChanged = true;
        await r.sync("poll");
        assert.equal(r.status.stalledReason, "HostKeyMismatch");
        assert.match(r.status.conditions.Stalled.message, /restart the agent: the first check after a start asks the server again/);
        const persisted = JSON.parse(JSON.stringify(r.status));

        // Restarted with known_hosts still wrong: one check, then stalled without asking.
        const still = setup({}, persisted);
        still.source.hostKeyChanged = true;
        assert.equal((await still.r.sync("poll")).action, "source-error");
        const asked = still.source.hints.length;
        assert.deepEqual(await still.r.sync("poll"), { action: "stalled", reason: "HostKeyMismatch" });
        assert.equal(still.source.hints.length, asked);

        // Restarted with known_hosts fixed: the first poll applies.
        const fixed = setup({}, persisted);
        assert.equal((await fixed.r.sync("poll")).action, "applied");
        assert.equal(fixed.r.status.conditions.Stalled.status, "False");
        // So does a replica that becomes leader.
        const leader = setup();
        await leader.r.adoptLeaderStatus(async () => persisted);
        assert.equal((await leader.r.sync("webhook")).action, "applied");
    });

    it("reads a status persisted in the old boolean format: facts kept, conditions derived afresh", () => {
        const old = {
            headRevision: B, lastAppliedRevision: "a".repeat(40), lastAttemptedRevision: B, failures: 5, lastError: "up failed",
            driftedResources: [], history: [],
            conditions: {
                Ready: { status: false, reason: "ApplyFailed", message: "up failed", lastTransitionTime: "2026-01-01T00:00:00.000Z" },
                Reconciling: { status: false, reason: "Idle", message: "", lastTransitionTime: "2026-01-01T00:00:00.000Z" },
                Stalled: { status: true, reason: "RetriesExhausted", message: "x", lastTransitionTime: "2026-01-01T00:00:00.000Z" },
                DriftDetected: { status: false, reason: "NotChecked", message: "", lastTransitionTime: "2026-01-01T00:00:00.000Z" },
            },
        };
        const s = fromPersisted(old, Date.parse("2026-11-24T00:00:00Z"));
        assert.deepEqual([s.stalledReason, s.applyError, s.lastAppliedRevision], ["RetriesExhausted", "up failed", "a".repeat(40)]);
        assert.deepEqual(Object.values(s.conditions).map((c) => c.status), ["False", "False", "True", "Unknown"]);
        const { r, engine, source } = setup({}, JSON.parse(JSON.stringify(old)));
        source.headRev = B;
        return r.sync("poll").then((d) => {
            assert.deepEqual(d, { action: "stalled", reason: "RetriesExhausted" }, "an upgraded agent does not retry a stalled revision");
            assert.deepEqual(engine.calls, []);
        });
    });

    it("only the leader runs", async () => {
        const { r, engine, setLeader } = setup();
        setLeader(false);
        assert.equal((await r.sync("poll")).action, "not-leader");
        assert.equal((await r.checkDrift()).action, "not-leader");
        assert.deepEqual(engine.calls, []);
    });

    it("a replica that becomes leader takes the previous leader's status: no second apply of its revision, its failures and history kept", async () => {
        // The previous leader applied A, then failed twice on B; this replica started before all that.
        const previous = setup();
        await previous.r.sync("poll");
        previous.engine.failUp = true;
        previous.source.headRev = B;
        await previous.r.sync("poll");
        previous.advance(60_000);
        await previous.r.sync("poll");
        const persisted = JSON.parse(JSON.stringify(previous.r.status)) as AgentStatus;

        const { r, engine, source, setLeader } = setup();
        setLeader(false);
        assert.equal((await r.sync("poll")).action, "not-leader");
        setLeader(true);
        source.headRev = B;
        const adopted = r.adoptLeaderStatus(async () => persisted);
        // A sync triggered as leadership arrives waits for the adoption and decides on its facts.
        const decision = await r.sync("poll");
        await adopted;
        assert.equal(decision.action, "waiting");
        assert.deepEqual(engine.calls, []);
        assert.equal(r.status.lastAppliedRevision, "a".repeat(40));
        assert.equal(r.status.failures, 2);
        assert.deepEqual(r.status.history.map((h) => h.result), ["failed", "failed", "succeeded"]);

        // Nothing to read (no ConfigMap yet): this replica keeps what it knew.
        const fresh = setup();
        await fresh.r.adoptLeaderStatus(async () => undefined);
        assert.equal((await fresh.r.sync("poll")).action, "applied");
    });

    it("runs one update at a time: concurrent triggers queue behind the running one", async () => {
        const { r, engine, source } = setup();
        engine.block = true;
        const first = r.sync("poll");
        await new Promise((res) => setImmediate(res));
        source.headRev = B;
        const second = r.sync("webhook");
        await new Promise((res) => setImmediate(res));
        assert.deepEqual(engine.calls, [`up ${"a".repeat(40)}`], "the second waits for the first");
        engine.block = false;
        engine.finish();
        assert.equal((await first).action, "applied");
        assert.equal((await second).action, "applied");
        assert.deepEqual(engine.calls, [`up ${"a".repeat(40)}`, `up ${B}`]);
    });

    it("restarting with the persisted status does not re-apply", async () => {
        const first = setup();
        await first.r.sync("poll");
        const restarted = setup({}, JSON.parse(JSON.stringify(first.r.status)));
        assert.equal((await restarted.r.sync("poll")).action, "up-to-date");
        assert.deepEqual(restarted.engine.calls, []);
    });

    it("keeps the last 10 runs", async () => {
        const { r, source } = setup();
        for (let i = 0; i < 12; i++) {
            source.headRev = String(i).padStart(40, "0");
            await r.sync("poll");
        }
        assert.equal(r.status.history.length, 10);
        assert.equal(r.status.history[0]!.revision, "11".padStart(40, "0"));
    });

    it("poll jitter stays within 10% of the interval", () => {
        assert.deepEqual([0, 0.5, 0.999999].map((r) => jittered(60_000, () => r)), [54_000, 60_000, 66_000]);
    });

    it("backoff delays", () => {
        assert.deepEqual([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, 30, 300)), [30, 60, 120, 240, 300, 300]);
    });
});

describe("drift", () => {
    it("corrects drift by re-applying the applied revision (a deleted Deployment comes back)", async () => {
        const { r, engine, events } = setup();
        await r.sync("poll");
        assert.equal((await r.checkDrift()).action, "no-drift");
        engine.drift = ["kubernetes:apps/v1:Deployment::openfaas-fn/nodeinfo (deleted)"];
        const d = await r.checkDrift();
        assert.deepEqual(d, { action: "drift-corrected", resources: ["kubernetes:apps/v1:Deployment::openfaas-fn/nodeinfo (deleted)"] });
        assert.deepEqual(engine.calls.slice(-2), [`drift ${"a".repeat(40)}`, `correct ${"a".repeat(40)}`]);
        assert.equal(r.status.conditions.DriftDetected.status, "False");
        assert.equal(r.status.conditions.DriftDetected.reason, "Corrected");
        assert.ok(events.includes("Warning DriftDetected") && events.includes("Normal DriftCorrected"));
        assert.deepEqual(r.status.history.slice(0, 2).map((h) => `${h.kind} ${h.result}`), ["drift-correct succeeded", "drift-check drift"]);
    });

    it("report-only mode reports and leaves the cluster alone", async () => {
        const { r, engine } = setup({ driftMode: "report" });
        await r.sync("poll");
        engine.drift = ["openfaas-fn/nodeinfo"];
        assert.deepEqual(await r.checkDrift(), { action: "drift-reported", resources: ["openfaas-fn/nodeinfo"] });
        assert.equal(engine.calls.filter((c) => c.startsWith("up")).length, 1);
        assert.equal(r.status.conditions.DriftDetected.status, "True");
        assert.deepEqual(r.status.driftedResources, ["openfaas-fn/nodeinfo"]);
    });

    it("is skipped before anything was applied", async () => {
        const { r } = setup();
        assert.deepEqual(await r.checkDrift(), { action: "drift-skipped", reason: "no revision applied yet" });
    });
});

describe("SIGTERM", () => {
    it("lets a running update finish within the grace period and takes no new work", async () => {
        const { r, engine, source } = setup();
        engine.block = true;
        const run = r.sync("poll");
        await new Promise((res) => setImmediate(res));
        const stopped = r.stop(5_000);
        source.headRev = C;
        assert.equal((await r.sync("webhook")).action, "stopping");
        engine.finish();
        assert.equal(await stopped, "finished");
        assert.equal((await run).action, "applied");
    });

    it("cancels an update that outlives the grace period, cleanly", async () => {
        const { r, engine } = setup();
        engine.block = true;
        const run = r.sync("poll");
        await new Promise((res) => setImmediate(res));
        assert.equal(await r.stop(20), "cancelled");
        assert.deepEqual(await run, { action: "cancelled", revision: "a".repeat(40), reason: "the shutdown grace period elapsed" });
        assert.equal(r.status.failures, 0, "a cancelled update is not a failure");
        assert.equal(r.status.history[0]!.result, "cancelled");
        assert.equal(r.status.lastAppliedRevision, undefined);
    });

    it("with nothing running, stops at once", async () => {
        const { r } = setup();
        assert.equal(await r.stop(1000), "idle");
    });
});
