/**
 * The drift gate (agent/drift-gate.ts): the fingerprint it compares (a property: status writes and
 * order never change it, any other write does), the objects an engine run reports, and when it lets
 * a check skip the engine, against an engine double (a named stand-in for the real engine, which
 * test/agent-pulumi-engine.test.ts runs through the gate on a real cluster), and how it reads a
 * namespace someone filled, against an API double.
 */
import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import fc from "fast-check";
import { DriftGate, fingerprint, FULL_CHECK_EVERY_MS, LIST_LIMIT, liveMetadata, ObjectMetadata, refKey } from "../agent/drift-gate";
import { Engine, ObjectRef, objectRef, RunContext, RunResult } from "../agent/engine";
import { KubeApi, KubeApiError } from "../kube/api";

describe("the objects an engine run reports", () => {
    it("reads a Kubernetes provider resource's type and ID, and nothing else", () => {
        assert.deepEqual(objectRef("kubernetes:apps/v1:Deployment", "openfaas-fn/nodeinfo"), { apiVersion: "apps/v1", kind: "Deployment", namespace: "openfaas-fn", name: "nodeinfo" });
        assert.deepEqual(objectRef("kubernetes:core/v1:Namespace", "openfaas"), { apiVersion: "v1", kind: "Namespace", name: "openfaas" });
        assert.deepEqual(objectRef("kubernetes:projectcontour.io/v1:HTTPProxy", "a/b"), { apiVersion: "projectcontour.io/v1", kind: "HTTPProxy", namespace: "a", name: "b" });
        for (const [type, id] of [
            ["pulumi:providers:kubernetes", "abc"],
            ["kubernetes:helm.sh/v4:Chart", undefined],
            ["kubernetes:apps/v1:Deployment", ""],
            ["kubernetes:apps/v1:Deployment", "a/b/c"],
            ["kubernetes:apps/v1:Deployment", "/b"],
            ["random:index/randomPassword:RandomPassword", "x"],
        ] as const) assert.equal(objectRef(type, id), undefined, `${type} ${id}`);
    });
});

const OBJECTS: ObjectRef[] = [
    { apiVersion: "apps/v1", kind: "Deployment", namespace: "fn", name: "a" },
    { apiVersion: "apps/v1", kind: "Deployment", namespace: "fn", name: "b" },
    { apiVersion: "v1", kind: "Namespace", name: "fn" },
];

const entry = fc.record({
    manager: fc.constantFrom("pulumi-kubernetes", "kubectl-edit", "kube-controller-manager", "helm"),
    operation: fc.constantFrom("Apply", "Update"),
    subresource: fc.constantFrom(undefined, "status", "scale"),
    apiVersion: fc.constant("apps/v1"),
    time: fc.integer({ min: 0, max: 1e6 }).map((s) => new Date(1.7e12 + s * 1000).toISOString().replace(/\.\d+Z$/, "Z")),
    fieldsV1: fc.dictionary(fc.constantFrom("f:spec", "f:metadata", "f:data"), fc.constant({})),
});
const metadata = fc.record({ uid: fc.uuid(), generation: fc.integer({ min: 1, max: 9 }), managedFields: fc.array(entry, { maxLength: 4 }) });
const liveOf = (m: ObjectMetadata[]) => new Map(OBJECTS.map((o, i) => [refKey(o), m[i]!] as const));

describe("the drift gate's fingerprint", () => {
    it("is the same whatever the order of objects and entries, and whatever status writes were made", () => {
        fc.assert(
            fc.property(fc.array(metadata, { minLength: 3, maxLength: 3 }), fc.array(entry, { minLength: 1, maxLength: 3 }), (m, statusWrites) => {
                const print = fingerprint(OBJECTS, liveOf(m));
                const shuffled = m.map((x) => ({ ...x, managedFields: [...x.managedFields].reverse() }));
                assert.equal(fingerprint([...OBJECTS].reverse(), liveOf(shuffled)), print);
                const withStatus = m.map((x, i) => (i === 0 ? { ...x, managedFields: [...x.managedFields, ...statusWrites.map((e) => ({ ...e, subresource: "status" }))] } : x));
                assert.equal(fingerprint(OBJECTS, liveOf(withStatus)), print);
            }),
        );
    });

    it("changes with any other write: a new or changed entry, a new generation or uid, an object gone", () => {
        fc.assert(
            fc.property(fc.array(metadata, { minLength: 3, maxLength: 3 }), entry.filter((e) => e.subresource !== "status"), fc.integer({ min: 0, max: 2 }), (m, write, i) => {
                const print = fingerprint(OBJECTS, liveOf(m));
                const changed = (f: (x: (typeof m)[number]) => ObjectMetadata) => fingerprint(OBJECTS, liveOf(m.map((x, j) => (j === i ? f(x) : x))));
                if (!m[i]!.managedFields.some((e) => JSON.stringify(e) === JSON.stringify(write))) assert.notEqual(changed((x) => ({ ...x, managedFields: [...x.managedFields, write] })), print);
                assert.notEqual(changed((x) => ({ ...x, generation: x.generation + 1 })), print);
                assert.notEqual(changed((x) => ({ ...x, uid: `${x.uid}-recreated` })), print);
                const gone = new Map(liveOf(m));
                gone.delete(refKey(OBJECTS[i]!));
                assert.notEqual(fingerprint(OBJECTS, gone), print);
            }),
        );
    });
});

/** An engine double: records which operations ran and answers what the test says. */
class EngineDouble implements Engine {
    readonly ran: string[] = [];
    drift: string[] = [];
    objects: ObjectRef[] | undefined = OBJECTS;
    fail = false;
    private result(): RunResult {
        return { changes: this.drift.length ? { update: this.drift.length } : { same: 3 }, changed: this.drift, objects: this.objects };
    }
    async up(): Promise<RunResult> {
        this.ran.push("up");
        return { changes: { same: 3 }, changed: [], objects: this.objects };
    }
    async detectDrift(): Promise<RunResult> {
        this.ran.push("check");
        if (this.fail) throw new Error("engine failed");
        return this.result();
    }
    async correctDrift(): Promise<RunResult> {
        this.ran.push("correct");
        this.drift = [];
        return this.result();
    }
}

describe("the drift gate", () => {
    const setup = () => {
        const engine = new EngineDouble();
        const world = { print: "p1", now: 0, readable: true };
        const logs: string[] = [];
        const gate = new DriftGate(
            engine,
            async () => {
                if (!world.readable) throw new Error("HTTP 403: forbidden");
                return world.print;
            },
            () => world.now,
        );
        const ctx = (revision = "r1"): RunContext => ({ dir: "/x", revision, signal: new AbortController().signal, log: (l) => logs.push(l) });
        /** Runs a check and says whether the engine ran for it. */
        const check = async (revision = "r1") => {
            const before = engine.ran.length;
            const r = await gate.detectDrift(ctx(revision));
            return { full: engine.ran.length > before, changed: r.changed };
        };
        return { engine, world, logs, gate, ctx, check };
    };

    it("runs the engine until a full check found no drift with the metadata unchanged, then only when the metadata changes", async () => {
        const { world, logs, gate, ctx, check } = setup();
        assert.equal((await check()).full, true, "no run reported the objects yet");
        await gate.up(ctx());
        assert.equal((await check()).full, true, "the first check after an update is full");
        assert.deepEqual(await check(), { full: false, changed: [] });
        assert.match(logs.at(-1)!, /none of the 3 objects was written since the full check at 1970-01-01T00:00:00.000Z; the engine did not run/);
        world.print = "p2";
        assert.equal((await check()).full, true, "a write to an object");
        assert.equal((await check()).full, false, "that write was no drift: quiet again");
    });

    it("checks in full after drift, an update, a correction, a new revision, unreadable metadata, and every hour", async () => {
        const { engine, world, gate, ctx, check } = setup();
        await gate.up(ctx());
        await check();
        assert.equal((await check()).full, false);

        engine.drift = ["Deployment::a (update)"];
        world.print = "p2";
        assert.deepEqual(await check(), { full: true, changed: ["Deployment::a (update)"] });
        assert.equal((await check()).full, true, "drift found last time");
        await gate.correctDrift(ctx());
        world.print = "p3";
        assert.equal((await check()).full, true, "after a correction");
        assert.equal((await check()).full, false);

        await gate.up(ctx("r2"));
        assert.equal((await check("r2")).full, true, "after an update");
        assert.equal((await check("r2")).full, false);
        assert.equal((await check("r3")).full, true, "another revision");

        await check("r3");
        assert.equal((await check("r3")).full, false);
        world.readable = false;
        assert.equal((await check("r3")).full, true, "metadata that cannot be read");
        world.readable = true;
        await check("r3");
        assert.equal((await check("r3")).full, false);
        world.now += FULL_CHECK_EVERY_MS;
        assert.equal((await check("r3")).full, true, "an hour since the last full check");
        assert.equal((await check("r3")).full, false);
    });

    it("never skips when the engine reported other objects, no objects, or failed", async () => {
        const { engine, world, gate, ctx, check } = setup();
        await gate.up(ctx());
        engine.objects = OBJECTS.slice(1);
        assert.equal((await check()).full, true);
        assert.equal((await check()).full, true, "the objects changed between the update and the check");
        assert.equal((await check()).full, false);

        engine.fail = true;
        world.print = "p2";
        await assert.rejects(gate.detectDrift(ctx()), /engine failed/);
        engine.fail = false;
        engine.objects = undefined;
        assert.equal((await check()).full, true, "after a failed check");
        assert.equal((await check()).full, true, "an engine that reports no objects");
    });
});

/**
 * TEST DOUBLE of the Kubernetes API: one namespace with the program's two Deployments among
 * `others` more (someone filled it), a list page of at most `limit` items, reads by name. The real
 * apiserver's lists are in test/agent-pulumi-engine.test.ts.
 */
class FloodedNamespaceDouble extends KubeApi {
    readonly calls: string[] = [];
    constructor(private readonly others: number) {
        super({ server: "https://127.0.0.1:1" });
    }
    private item(name: string): { metadata: ObjectMetadata } {
        return { metadata: { name, namespace: "fn", uid: `uid-${name}`, generation: 1, managedFields: [{ manager: "m", operation: "Apply", time: "2026-12-03T00:00:00Z" }] } };
    }
    private names(): string[] {
        return ["a", ...Array.from({ length: this.others }, (_, i) => `other-${i}`)];
    }
    override async getPath<T>(apiPath: string): Promise<T> {
        this.calls.push(`discover ${apiPath}`);
        return { resources: [{ name: "deployments", kind: "Deployment", namespaced: true }, { name: "deployments/scale", kind: "Scale", namespaced: true }] } as T;
    }
    override async listMetadata<T>(apiPath: string, _selector: string, limit?: number): Promise<{ metadata?: { continue?: string }; items: T[] }> {
        this.calls.push(`list ${apiPath}`);
        const all = this.names().map((n) => this.item(n));
        return { metadata: limit && all.length > limit ? { continue: "next" } : {}, items: all.slice(0, limit) as T[] };
    }
    override async getMetadata<T>(apiPath: string): Promise<T> {
        this.calls.push(`get ${apiPath}`);
        const name = decodeURIComponent(apiPath.split("/").pop()!);
        if (!this.names().includes(name)) throw new KubeApiError(`HTTP 404 from GET ${apiPath}`, 404, undefined);
        return this.item(name) as T;
    }
}

describe("the drift gate's reads", () => {
    // The program's objects: `a` exists, `b` was deleted.
    const mine: ObjectRef[] = [
        { apiVersion: "apps/v1", kind: "Deployment", namespace: "fn", name: "a" },
        { apiVersion: "apps/v1", kind: "Deployment", namespace: "fn", name: "b" },
    ];

    it("list a collection of ordinary size in one call", async () => {
        const api = new FloodedNamespaceDouble(10);
        const live = await liveMetadata(api, mine);
        assert.deepEqual([...live.keys()].filter((k) => k.endsWith(" a") || k.endsWith(" b")), [refKey(mine[0]!)]);
        assert.deepEqual(api.calls, ["discover /apis/apps/v1", "list /apis/apps/v1/namespaces/fn/deployments"]);
    });

    it("read the program's objects one by one where others filled the namespace, and hash them the same", async () => {
        const flooded = new FloodedNamespaceDouble(LIST_LIMIT * 4);
        const live = await liveMetadata(flooded, mine);
        assert.deepEqual([...live.keys()], [refKey(mine[0]!)], "only the program's objects are kept, and a deleted one is absent");
        assert.deepEqual(flooded.calls, [
            "discover /apis/apps/v1",
            "list /apis/apps/v1/namespaces/fn/deployments",
            "get /apis/apps/v1/namespaces/fn/deployments/a",
            "get /apis/apps/v1/namespaces/fn/deployments/b",
        ]);
        assert.equal(fingerprint(mine, live), fingerprint(mine, await liveMetadata(new FloodedNamespaceDouble(10), mine)));
    });
});
