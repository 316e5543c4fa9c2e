/**
 * The CRD policy: the charts' CustomResourceDefinitions are applied by the program's CRD step
 * (components/crds.ts) before any chart, when a chart's version changes, and are kept out of Pulumi
 * state. Why, and what `pulumi destroy` leaves: docs/crds.md. Pure: what each chart needs to render
 * with or without its CRDs, how applied CRDs are marked, and which charts' CRDs a run must apply.
 */
import { ChartName } from "./charts";
import { capText } from "./problem";

/** How a stack's CRDs are handled (`crds` config key). */
export const CRD_MODES = ["apply", "skip"] as const;
export type CrdMode = (typeof CRD_MODES)[number];

/**
 * How each chart is told to leave its CRDs out (`off`, merged into the component's values, with
 * `skipCrds` for the `crds/` directory) or to render them (`on`, for the CRD step alone). `on` renders
 * every CRD of the chart's own, whichever of its controllers a stack runs: the step applies a chart
 * version's CRDs once, so a controller switched on later finds its kinds.
 */
export const CHART_CRD_VALUES: Readonly<Record<ChartName, { readonly on: Record<string, unknown>; readonly off: Record<string, unknown> }>> = {
    // templates/crds.yaml, behind crds.enabled.
    "cert-manager": { on: { crds: { enabled: true } }, off: { crds: { enabled: false } } },
    // templates/crds/, behind contour.manageCRDs; the Gateway API's CRDs (gatewayAPI.manageCRDs, off by default) never.
    contour: { on: { contour: { manageCRDs: true }, gatewayAPI: { manageCRDs: false } }, off: { contour: { manageCRDs: false }, gatewayAPI: { manageCRDs: false } } },
    // templates/*.crds.yaml, behind installCRDs and each controller's create (source-watcher's is off by default).
    flux2: { on: { installCRDs: true, sourceWatcher: { create: true } }, off: { installCRDs: false } },
    // Function and Profile behind createCRDs, FunctionIngress also behind ingressOperator.create; the iam.openfaas.com ones in crds/.
    openfaas: { on: { createCRDs: true, ingressOperator: { create: true } }, off: { createCRDs: false } },
    // crds/ only.
    "sealed-secrets": { on: {}, off: {} },
};

/** The release name each component installs its chart under (the CRDs' labels carry it). */
export const CHART_RELEASE_NAMES: Readonly<Record<ChartName, string>> = {
    "cert-manager": "cert-manager",
    contour: "contour",
    flux2: "flux2",
    openfaas: "openfaas",
    "sealed-secrets": "sealed-secrets",
};

/** Label on every CRD the step applied: the chart it came from (what the step lists). */
export const CRD_CHART_LABEL = "openfaas-gitops.dev/crds-of";
/** Annotation: the chart version the CRD was applied from. */
export const CRD_VERSION_ANNOTATION = "openfaas-gitops.dev/chart-version";
/** Annotation: how many CRDs that chart version has (a CRD deleted by hand is noticed). */
export const CRD_COUNT_ANNOTATION = "openfaas-gitops.dev/chart-crds";
/** The field manager of the step's server-side applies. */
export const CRD_FIELD_MANAGER = "openfaas-gitops-crds";

/** How much of the versions found on the cluster a run's log repeats. */
const VERSIONS_TEXT_CAP = 100;

/** A chart whose CRDs the stack needs, at the version it is configured with. */
export interface WantedCrds {
    readonly chart: ChartName;
    readonly version: string;
}

/** What the cluster says about one CRD (its metadata only). */
export interface LiveCrd {
    readonly name: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
}

/** Why a chart's CRDs are applied in this run, for the run's log. */
export interface CrdWork extends WantedCrds {
    /** The version on the cluster, or undefined when none of its CRDs is there. */
    readonly from?: string;
    readonly reason: string;
}

/**
 * Pure: the charts whose CRDs this run applies: those with no CRD on the cluster marked as theirs,
 * marked with another version, or fewer than that version has (one deleted by hand). Nothing else is
 * compared: a chart version's CRDs never change, so the version says what is there (Helm's rule).
 */
export function crdWork(wanted: readonly WantedCrds[], live: readonly LiveCrd[]): CrdWork[] {
    return wanted.flatMap((w): CrdWork[] => {
        const mine = live.filter((c) => c.labels?.[CRD_CHART_LABEL] === w.chart);
        if (mine.length === 0) return [{ ...w, reason: "none of its CRDs is on the cluster" }];
        const versions = [...new Set(mine.map((c) => c.annotations?.[CRD_VERSION_ANNOTATION] ?? "(unmarked)"))].sort();
        const other = versions.filter((v) => v !== w.version);
        // Annotations are anyone's to edit: what the log repeats of them is bounded.
        const others = capText(other.join(", "), VERSIONS_TEXT_CAP);
        if (other.length > 0) return [{ ...w, from: others, reason: `its CRDs are at ${others}` }];
        const count = Number(mine[0]!.annotations?.[CRD_COUNT_ANNOTATION]);
        if (Number.isInteger(count) && mine.length < count) return [{ ...w, from: w.version, reason: `${count - mine.length} of its ${count} CRDs are missing` }];
        return [];
    });
}

/** A rendered manifest object (only what the step reads). */
export interface ManifestObject {
    readonly apiVersion?: string;
    readonly kind?: string;
    readonly metadata?: { readonly name?: string; readonly labels?: Record<string, string>; readonly annotations?: Record<string, string> };
    readonly [k: string]: unknown;
}

/**
 * Pure: the CRDs of a chart's rendered objects, sorted by name, each marked with the chart, its
 * version and how many there are; or the problem when the chart renders none: a chart listed here
 * has CRDs, so none means its values no longer switch them on (a renamed value after an upgrade).
 */
export function markedCrds(w: WantedCrds, objects: readonly (ManifestObject | null | undefined)[]): { crds: ManifestObject[] } | { problem: string } {
    const crds = objects
        .filter((o): o is ManifestObject => o?.kind === "CustomResourceDefinition" && typeof o.metadata?.name === "string")
        .sort((a, b) => a.metadata!.name!.localeCompare(b.metadata!.name!));
    if (crds.length === 0) {
        return { problem: `chart ${w.chart} ${w.version} rendered no CustomResourceDefinition with ${JSON.stringify(CHART_CRD_VALUES[w.chart].on)}: model/crds.ts CHART_CRD_VALUES must name the values that switch its CRDs on` };
    }
    const marked = crds.map((c) => ({
        ...c,
        metadata: {
            ...c.metadata,
            labels: { ...c.metadata!.labels, [CRD_CHART_LABEL]: w.chart },
            annotations: { ...c.metadata!.annotations, [CRD_VERSION_ANNOTATION]: w.version, [CRD_COUNT_ANNOTATION]: String(crds.length) },
        },
    }));
    return { crds: marked };
}
