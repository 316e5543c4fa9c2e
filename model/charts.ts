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
 * The one place chart versions are pinned. Bump a version here (with its digest in
 * {@link CHART_TREE_DIGESTS}, and the copies under ../shared/upstream) and every stack moves together;
 * a stack can still override one via the `charts` config key.
 */
export const CHARTS = {
    openfaas: { chart: "openfaas", repo: "https://openfaas.github.io/faas-netes/", version: "15.0.6" },
    "sealed-secrets": { chart: "sealed-secrets", repo: "https://bitnami-labs.github.io/sealed-secrets", version: "2.18.5" },
    contour: { chart: "contour", repo: "https://projectcontour.github.io/helm-charts/", version: "0.7.0" },
    "cert-manager": { chart: "cert-manager", repo: "https://charts.jetstack.io", version: "v1.21.1" },
    flux2: { chart: "flux2", repo: "https://fluxcd-community.github.io/helm-charts", version: "2.18.3" },
} as const satisfies Record<string, ChartSource>;

/**
 * The digest of each pinned chart's files as Helm renders them, by `<chart>@<version>`, so a version
 * bumped without its digest is caught rather than checked against the old one. The tests, `npm run
 * cluster` and `npm run demo` verify a chart they download (or find in OPENFAAS_GITOPS_UPSTREAM)
 * against it (tools/upstream.ts `chartTreeDigest` says what is digested, docs/testing.md how to
 * compute it). The program's own chart downloads are Helm's and are not checked against these.
 */
export const CHART_TREE_DIGESTS = {
    "openfaas@15.0.6": "sha256:8e9c0cdb1df904f281b9742002690a35a2b0ab90f380f84b586b984d21e511ae",
    "sealed-secrets@2.18.5": "sha256:2b42405b5e74ab1fdcc4dce1473d86808354121c6b5ecec0a299dd50430938ed",
    "contour@0.7.0": "sha256:8740b3a49e993d29b3e38615d156d7862c44a57c89fa2a351f5d162ebcb39cc3",
    "cert-manager@v1.21.1": "sha256:32a4999b64b1f123b96ba4d903e7711d7b4cbe0cd4da0b76dc89b213d5bfa4eb",
    "flux2@2.18.3": "sha256:aea96f3e6f1f9dc4ae3015444c339a10e8cf1e1f6e024ebec8559386e8db132f",
} as const satisfies Record<string, `sha256:${string}`>;

export type ChartName = keyof typeof CHARTS;
export const CHART_NAMES = Object.keys(CHARTS) as ChartName[];
