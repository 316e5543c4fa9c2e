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
 * What each pinned release is, by `<chart>@<version>`: the digest of its files as Helm renders them,
 * and the appVersion its Chart.yaml declares (the templates default image tags to it, so a changed
 * appVersion changes what runs while every digested file stays the same). A version bumped without
 * its entry is caught rather than checked against the old one. The tests, `npm run cluster` and `npm
 * run demo` verify a chart they download (or find in OPENFAAS_GITOPS_UPSTREAM) against it
 * (tools/upstream.ts `chartTreeDigest` says what is digested, docs/testing.md how to compute it). The
 * program's own chart downloads are Helm's and are not checked against these.
 */
export const CHART_TREE_DIGESTS = {
    "openfaas@15.0.6": { digest: "sha256:8e9c0cdb1df904f281b9742002690a35a2b0ab90f380f84b586b984d21e511ae" },
    "sealed-secrets@2.18.5": { digest: "sha256:2b42405b5e74ab1fdcc4dce1473d86808354121c6b5ecec0a299dd50430938ed", appVersion: "0.36.6" },
    "contour@0.7.0": { digest: "sha256:8740b3a49e993d29b3e38615d156d7862c44a57c89fa2a351f5d162ebcb39cc3", appVersion: "1.33.6" },
    "cert-manager@v1.21.1": { digest: "sha256:32a4999b64b1f123b96ba4d903e7711d7b4cbe0cd4da0b76dc89b213d5bfa4eb", appVersion: "v1.21.1" },
    "flux2@2.18.3": { digest: "sha256:aea96f3e6f1f9dc4ae3015444c339a10e8cf1e1f6e024ebec8559386e8db132f", appVersion: "2.8.5" },
} as const satisfies Record<string, PinnedRelease>;

/** A pinned chart release (see {@link CHART_TREE_DIGESTS}). */
export interface PinnedRelease {
    readonly digest: `sha256:${string}`;
    /** Chart.yaml's appVersion; absent where the chart declares none. */
    readonly appVersion?: string;
}

export type ChartName = keyof typeof CHARTS;
export const CHART_NAMES = Object.keys(CHARTS) as ChartName[];
