/**
 * The drift gate: a drift check runs the engine only when an object the program manages may have
 * changed since the last full check that found none.
 *
 * A full check (a preview with refresh) costs about 6.6 CPU-seconds on the prod stack, every drift
 * interval, and almost always finds nothing. What it compares, the apiserver already records: every
 * write to an object changes its `managedFields` (the writer, the fields it owns, when) or its
 * `generation`, and a deleted or re-created object is absent or has a new `uid`. So before a check,
 * the gate reads the metadata of the objects the last run reported (one list call per kind and
 * namespace, or one read per object where a list would be too long) and hashes it, status writes
 * left out. The same hash as just before a full check
 * that found no drift, for the same revision, means nothing has written those objects since: the
 * check answers "no drift" without running the engine.
 *
 * Anything else runs the full check: a new revision, an update or a correction since, drift found
 * last time, metadata that cannot be read (RBAC without list, the apiserver unavailable), and at
 * least every {@link FULL_CHECK_EVERY_MS} whatever the hash says, which bounds what a write that
 * leaves no trace in the metadata could hide (two edits of the same field by the same writer in
 * the same second, or a client rewriting managedFields itself).
 */
import * as crypto from "node:crypto";
import { Engine, hasChanges, ObjectRef, RunContext, RunResult } from "./engine";
import { apiStatus, KubeApi } from "../kube/api";

/** A full check at least this often, whatever the metadata says (see above). */
export const FULL_CHECK_EVERY_MS = 60 * 60_000;

/**
 * The most objects one list may return. A collection with more holds more than the program's own
 * (anyone who may create objects there could fill it): the gate then reads the program's objects
 * one by one, so its memory never grows with what others put in a namespace.
 */
export const LIST_LIMIT = 500;

interface ManagedFieldsEntry {
    readonly manager?: string;
    readonly operation?: string;
    readonly subresource?: string;
    readonly apiVersion?: string;
    readonly time?: string;
    readonly fieldsV1?: unknown;
}

/** The part of an object's metadata the gate reads (a PartialObjectMetadata item). */
export interface ObjectMetadata {
    readonly name?: string;
    readonly namespace?: string;
    readonly uid?: string;
    readonly generation?: number;
    readonly managedFields?: readonly ManagedFieldsEntry[];
}

/** Pure: one key per object. */
export function refKey(o: ObjectRef): string {
    return `${o.apiVersion} ${o.kind} ${o.namespace ?? ""} ${o.name}`;
}

/**
 * Pure: the hash of the objects' metadata as the gate compares it: for each object (in key order)
 * its uid, generation and managedFields entries other than status writes (in a stable order), or
 * that it is absent.
 */
export function fingerprint(objects: readonly ObjectRef[], live: ReadonlyMap<string, ObjectMetadata>): string {
    const hash = crypto.createHash("sha256");
    for (const key of [...new Set(objects.map(refKey))].sort()) {
        const m = live.get(key);
        hash.update(`${key}\n`);
        if (!m) {
            hash.update("absent\n");
            continue;
        }
        hash.update(`${m.uid ?? ""} ${m.generation ?? ""}\n`);
        const entries = (m.managedFields ?? [])
            .filter((e) => e.subresource !== "status")
            .map((e) => JSON.stringify([e.manager ?? "", e.operation ?? "", e.subresource ?? "", e.apiVersion ?? "", e.time ?? "", e.fieldsV1 ?? null]))
            .sort();
        for (const e of entries) hash.update(`${e}\n`);
    }
    return hash.digest("hex");
}

/** Pure: whether two runs reported the same objects. */
export function sameObjects(a: readonly ObjectRef[], b: readonly ObjectRef[]): boolean {
    const keys = (x: readonly ObjectRef[]) => [...new Set(x.map(refKey))].sort().join("\n");
    return keys(a) === keys(b);
}

interface ApiResource {
    readonly name: string;
    readonly kind: string;
    readonly namespaced: boolean;
}

/**
 * The metadata of `objects` as the apiserver has them now: discovery for each API version (the
 * resource name of each kind), then one metadata-only list per kind and namespace, or, where that
 * list would exceed {@link LIST_LIMIT}, one read per object. Rejects when a kind is not served or a
 * call fails (an object that is gone is absent, not a failure).
 */
export async function liveMetadata(api: KubeApi, objects: readonly ObjectRef[], limit = LIST_LIMIT): Promise<Map<string, ObjectMetadata>> {
    const base = (apiVersion: string) => (apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`);
    const resources = new Map<string, readonly ApiResource[]>();
    for (const apiVersion of new Set(objects.map((o) => o.apiVersion))) {
        resources.set(apiVersion, (await api.getPath<{ resources: ApiResource[] }>(base(apiVersion))).resources.filter((r) => !r.name.includes("/")));
    }
    const collections = new Map<string, ObjectRef[]>();
    for (const o of objects) {
        const key = `${o.apiVersion} ${o.kind} ${o.namespace ?? ""}`;
        collections.set(key, [...(collections.get(key) ?? []), o]);
    }
    const live = new Map<string, ObjectMetadata>();
    for (const mine of collections.values()) {
        const o = mine[0]!;
        const r = resources.get(o.apiVersion)!.find((x) => x.kind === o.kind);
        if (!r) throw new Error(`${o.apiVersion} ${o.kind} is not served`);
        const path = `${base(o.apiVersion)}${r.namespaced && o.namespace ? `/namespaces/${encodeURIComponent(o.namespace)}` : ""}/${r.name}`;
        const page = await api.listMetadata<{ metadata: ObjectMetadata }>(path, "", limit);
        if (!page.metadata?.continue) {
            for (const item of page.items) {
                live.set(refKey({ apiVersion: o.apiVersion, kind: o.kind, namespace: r.namespaced ? item.metadata.namespace : undefined, name: item.metadata.name ?? "" }), item.metadata);
            }
            continue;
        }
        for (const one of mine) {
            try {
                live.set(refKey(one), (await api.getMetadata<{ metadata: ObjectMetadata }>(`${path}/${encodeURIComponent(one.name)}`)).metadata);
            } catch (e) {
                if (apiStatus(e) !== 404) throw e;
            }
        }
    }
    return live;
}

interface Known {
    readonly revision: string;
    /** The objects the last run reported. */
    readonly objects: readonly ObjectRef[];
    /** The hash read just before the last full check, when that check found no drift. */
    readonly quiet?: { readonly print: string; readonly at: number };
}

/** An {@link Engine} whose drift checks go through the gate; updates and corrections pass through. */
export class DriftGate implements Engine {
    private known?: Known;

    /** `read` hashes the objects as they are now (fingerprint of liveMetadata, or a test double). */
    constructor(
        private readonly engine: Engine,
        private readonly read: (objects: readonly ObjectRef[]) => Promise<string>,
        private readonly clock: () => number,
    ) {}

    private after(revision: string, r: RunResult): RunResult {
        this.known = r.objects ? { revision, objects: r.objects } : undefined;
        return r;
    }

    async up(ctx: RunContext): Promise<RunResult> {
        this.known = undefined;
        return this.after(ctx.revision, await this.engine.up(ctx));
    }

    async correctDrift(ctx: RunContext): Promise<RunResult> {
        this.known = undefined;
        return this.after(ctx.revision, await this.engine.correctDrift(ctx));
    }

    async detectDrift(ctx: RunContext): Promise<RunResult> {
        const known = this.known?.revision === ctx.revision ? this.known : undefined;
        let before: string | undefined;
        if (known) {
            try {
                before = await this.read(known.objects);
            } catch (e) {
                ctx.log(`drift gate: cannot read the objects' metadata (${(e as Error).message}); checking in full`);
            }
        }
        const now = this.clock();
        if (known?.quiet && before === known.quiet.print && now - known.quiet.at < FULL_CHECK_EVERY_MS) {
            ctx.log(`drift check: none of the ${new Set(known.objects.map(refKey)).size} objects was written since the full check at ${new Date(known.quiet.at).toISOString()}; the engine did not run`);
            return { changes: {}, changed: [], objects: known.objects };
        }
        this.known = undefined;
        const r = await this.engine.detectDrift(ctx);
        const quiet = before !== undefined && !hasChanges(r) && r.objects !== undefined && sameObjects(r.objects, known!.objects);
        this.known = r.objects ? { revision: ctx.revision, objects: r.objects, quiet: quiet ? { print: before!, at: now } : undefined } : undefined;
        return r;
    }
}

/** The gate's reader on a cluster: the fingerprint of the objects' live metadata. */
export function clusterReader(api: KubeApi): (objects: readonly ObjectRef[]) => Promise<string> {
    return async (objects) => fingerprint(objects, await liveMetadata(api, objects));
}
