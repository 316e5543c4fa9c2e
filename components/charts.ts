import * as k8s from "@pulumi/kubernetes";
import { ChartName, ChartSource } from "../model/charts";
import { CHART_CRD_VALUES, CHART_RELEASE_NAMES } from "../model/crds";

/**
 * Pure: where a chart comes from and its release name, as `helm.v4.ChartArgs`. Never the chart's
 * `crds/` directory: the CRD step applies the CRDs before any chart (components/crds.ts, docs/crds.md).
 */
export function chartArgs(chart: ChartName, src: ChartSource): Pick<k8s.helm.v4.ChartArgs, "name" | "chart" | "version" | "repositoryOpts" | "skipCrds"> {
    const location = src.path ? { chart: src.path } : { chart: src.chart, version: src.version, repositoryOpts: { repo: src.repo } };
    return { ...location, name: CHART_RELEASE_NAMES[chart], skipCrds: true };
}

/** Pure: a chart's values with its own switch for templated CRDs turned off (model/crds.ts). */
export function withoutCrds(chart: ChartName, values: Record<string, unknown>): Record<string, unknown> {
    return mergeValues(values, CHART_CRD_VALUES[chart].off);
}

function isMap(v: unknown): v is Record<string, unknown> {
    return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** Pure: `over` laid on `base`, maps merged key by key (Helm's rule for values). */
export function mergeValues(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
    const out = { ...base };
    for (const [k, v] of Object.entries(over)) out[k] = isMap(v) && isMap(out[k]) ? mergeValues(out[k] as Record<string, unknown>, v) : v;
    return out;
}
