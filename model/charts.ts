/**
 * The Helm charts the platform installs, pinned in one place. Config reads overrides against these;
 * components locate the charts from the resolved sources.
 */

/** Where a Helm chart comes from: a repository and a pinned version, or a local path (air-gapped clusters). */
export interface ChartSource {
    /** Chart name inside the repository. */
    readonly chart: string;
    /** Helm repository URL (https:// or oci://). Ignored when `path` is set. */
    readonly repo: string;
    /** Exact chart version; never a range, so every environment renders the same objects. */
    readonly version: string;
    /** Local chart directory or .tgz; when set, the chart is not fetched from `repo`. */
    readonly path?: string;
}

/**
 * The one place chart versions are pinned. Bump a version here (and refresh the copies under
 * ../shared/upstream) and every stack moves together; a stack can still override one via the
 * `charts` config key.
 */
export const CHARTS = {
    openfaas: { chart: "openfaas", repo: "https://openfaas.github.io/faas-netes/", version: "15.0.6" },
    "sealed-secrets": { chart: "sealed-secrets", repo: "https://bitnami-labs.github.io/sealed-secrets", version: "2.18.5" },
    contour: { chart: "contour", repo: "https://projectcontour.github.io/helm-charts/", version: "0.7.0" },
    "cert-manager": { chart: "cert-manager", repo: "https://charts.jetstack.io", version: "v1.21.1" },
    flux2: { chart: "flux2", repo: "https://fluxcd-community.github.io/helm-charts", version: "2.18.3" },
} as const satisfies Record<string, ChartSource>;

export type ChartName = keyof typeof CHARTS;
export const CHART_NAMES = Object.keys(CHARTS) as ChartName[];
