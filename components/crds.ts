/**
 * The CRD step (docs/crds.md): before the program declares anything, the charts' CRDs are applied
 * when the cluster does not have them at the configured chart version, and left alone otherwise.
 * Not a ComponentResource: the CRDs stay out of Pulumi state, where they were 3.3 of the prod
 * stack's 4.3 MB and half of every operation's CPU (issue 24), carried through the program, the CLI,
 * the provider and a server-side dry-run each time for objects that change once per chart release.
 *
 * The provider still renders them (the `kubernetes:helm:template` invoke, Helm's own rendering, with
 * the chart's repository or path), but only in a run that applies them. A preview applies nothing:
 * it validates the CRDs it would apply with a server-side dry-run and says so in its output.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as yaml from "js-yaml";
import { apiErrorText, apiStatus, KubeApi, kubeConnection } from "../kube/api";
import { ChartName, ChartSource } from "../model/charts";
import { CHART_CRD_VALUES, CHART_RELEASE_NAMES, CRD_CHART_LABEL, CRD_FIELD_MANAGER, CrdWork, crdWork, LiveCrd, ManifestObject, markedCrds, WantedCrds } from "../model/crds";

const CRDS_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
/** How long a new CRD may take to be served; the apiserver establishes one in well under a second. */
const ESTABLISH_TIMEOUT_MS = 60_000;

/** Where the step says what it did: the run's output (pulumi.log in a program). */
export interface CrdStepLog {
    info(message: string): void;
    warn(message: string): void;
}

export interface CrdStepArgs {
    /** The charts the stack installs, as configured. */
    readonly charts: readonly { readonly name: ChartName; readonly source: ChartSource }[];
    /** The provider the charts render with: the step renders through the same one. */
    readonly provider: k8s.Provider;
    /** A preview: validate, apply nothing. */
    readonly dryRun: boolean;
    readonly log: CrdStepLog;
    /** The cluster; by default the connection the provider uses (KUBECONFIG, in-cluster, ~/.kube/config). */
    readonly api?: KubeApi;
}

/** A CRD step that could not run, with what to do about it. */
export class CrdStepError extends Error {
    constructor(message: string) {
        super(`CRD step (config key crds, docs/crds.md): ${message}`);
        this.name = "CrdStepError";
    }
}

/** Applies (or, in a preview, validates) the CRDs of every chart whose CRDs the cluster lacks at its version. */
export async function applyChartCrds(args: CrdStepArgs): Promise<void> {
    const api = args.api ?? new KubeApi(clusterConnection());
    const wanted: WantedCrds[] = args.charts.map((c) => ({ chart: c.name, version: c.source.version }));
    let live: { items: { metadata: LiveCrd }[] | null };
    try {
        live = await api.listMetadata<{ metadata: LiveCrd }>(CRDS_PATH, CRD_CHART_LABEL);
    } catch (e) {
        // A preview may run as a read-only identity (the PR workflow's `view` binding cannot list CRDs).
        if (args.dryRun && apiStatus(e) === 403) {
            args.log.warn(`this preview may not list CRDs (${apiErrorText(e)}), so it cannot say whether an update would apply any`);
            return;
        }
        throw new CrdStepError(`could not list the cluster's CRDs: ${apiErrorText(e)}`);
    }
    // An empty list comes back with `items: null`.
    const work = crdWork(wanted, (live.items ?? []).map((i) => i.metadata));
    // The charts side by side (rendering is most of the step); said, or the first failure thrown, in chart order.
    const done = await Promise.allSettled(work.map((w) => applyCrdsOf(w, api, args)));
    for (const d of done) if (d.status === "rejected") throw d.reason;
    for (const d of done) if (d.status === "fulfilled") args.log.info(d.value);
}

/** One chart's part of the step: render, apply (or validate) and wait for its CRDs; what it did, to be said. */
async function applyCrdsOf(w: CrdWork, api: KubeApi, args: CrdStepArgs): Promise<string> {
    const source = args.charts.find((c) => c.name === w.chart)!.source;
    const rendered = await render(w.chart, source, args.provider);
    const marking = markedCrds(w, rendered);
    if ("problem" in marking) throw new CrdStepError(marking.problem);
    const { crds } = marking;
    const what = `${crds.length} CRDs of ${w.chart} ${w.version}${w.from && w.from !== w.version ? ` (from ${w.from})` : ""}: ${w.reason}`;
    let validated = true;
    for (const crd of crds) {
        await api.apply(`${CRDS_PATH}/${encodeURIComponent(crd.metadata!.name!)}`, crd, CRD_FIELD_MANAGER, args.dryRun).catch((e: Error) => {
            if (args.dryRun && apiStatus(e) === 403) validated = false;
            else throw new CrdStepError(`${args.dryRun ? "a dry run of" : "applying"} CRD ${crd.metadata!.name} of ${w.chart} ${w.version} failed: ${apiErrorText(e)}`);
        });
    }
    if (args.dryRun) {
        const how = validated ? "validated by a server-side dry run" : "not validated: this preview may not patch CRDs, even in a dry run";
        return `would apply ${what} (${how}; \`pulumi destroy\` never deletes them)`;
    }
    await established(api, crds.map((c) => c.metadata!.name!));
    return `applied ${what}; \`pulumi destroy\` leaves them (docs/crds.md)`;
}

/** The connection the kubernetes provider would use, refused where the provider is pointed elsewhere by stack config. */
function clusterConnection() {
    const k8sConfig = new pulumi.Config("kubernetes");
    for (const key of ["kubeconfig", "context", "cluster"]) {
        if (k8sConfig.get(key) !== undefined) {
            throw new CrdStepError(`stack config kubernetes:${key} is set, and the step reads only the current context of KUBECONFIG (or the pod's service account). Remove kubernetes:${key} and select the cluster with KUBECONFIG, or set crds: skip and apply the charts' CRDs yourself`);
        }
    }
    try {
        return kubeConnection(process.env.KUBECONFIG?.split(":")[0] || undefined);
    } catch (e) {
        throw new CrdStepError(`${(e as Error).message}. Use a kubeconfig with a token or client certificate, or set crds: skip and apply the charts' CRDs yourself`);
    }
}

/** The chart's objects with its CRDs switched on, rendered by the provider (Helm), as objects. */
async function render(chart: ChartName, source: ChartSource, provider: k8s.Provider): Promise<ManifestObject[]> {
    const opts = {
        ...(source.path ? { path: source.path } : { chart: source.chart, version: source.version, fetch_opts: { repo: source.repo } }),
        release_name: CHART_RELEASE_NAMES[chart],
        values: CHART_CRD_VALUES[chart].on,
    };
    const out = (await pulumi.runtime.invoke("kubernetes:helm:template", { jsonOpts: JSON.stringify(opts) }, { provider }).catch((e: Error) => {
        throw new CrdStepError(`rendering chart ${chart} ${source.version} from ${source.path ?? source.repo} failed: ${e.message}`);
    })) as { result?: unknown };
    const result = out.result;
    // The provider answers with the objects; a YAML stream is accepted too.
    if (typeof result === "string") return yaml.loadAll(result) as ManifestObject[];
    if (Array.isArray(result)) return result as ManifestObject[];
    throw new CrdStepError(`rendering chart ${chart} ${source.version} gave no objects`);
}

/** Waits until every named CRD is Established (served), so the charts' custom objects can follow. */
async function established(api: KubeApi, names: readonly string[]): Promise<void> {
    const deadline = Date.now() + ESTABLISH_TIMEOUT_MS;
    for (const name of names) {
        for (;;) {
            const crd = await api.getPath<{ status?: { conditions?: { type: string; status: string }[] } }>(`${CRDS_PATH}/${encodeURIComponent(name)}`);
            if (crd.status?.conditions?.some((c) => c.type === "Established" && c.status === "True")) break;
            if (Date.now() > deadline) throw new CrdStepError(`CRD ${name} was applied but is not Established after ${ESTABLISH_TIMEOUT_MS / 1000} s (kubectl describe crd ${name})`);
            await new Promise((r) => setTimeout(r, 200));
        }
    }
}
