/** The `charts` map: per-stack overrides of the pinned chart sources (model/charts.ts). */
import { CHARTS, CHART_NAMES, ChartName, ChartSource } from "../model/charts";
import { Reader } from "./reader";

const EXACT_VERSION = /^v?\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$/;

/** Reads the `charts` override map: `{ <chart>: { repo?, version?, path? } }`. */
export function readCharts(r: Reader): Record<ChartName, ChartSource> {
    const charts: Record<ChartName, ChartSource> = { ...CHARTS };
    const given = r.object("charts");
    if (!given) return charts;
    for (const [name, override] of Object.entries(given)) {
        const key = `charts.${name}`;
        if (!(CHART_NAMES as string[]).includes(name)) {
            r.problem(key, `unknown chart; expected one of ${CHART_NAMES.join(", ")}`, JSON.stringify(override));
            continue;
        }
        if (override === null || typeof override !== "object" || Array.isArray(override)) {
            r.problem(key, "expected a map with repo, version and/or path", JSON.stringify(override));
            continue;
        }
        const src: { -readonly [K in keyof ChartSource]: ChartSource[K] } = { ...charts[name as ChartName] };
        for (const [field, value] of Object.entries(override as Record<string, unknown>)) {
            const fkey = `${key}.${field}`;
            if (typeof value !== "string" || value === "") {
                r.problem(fkey, "expected a non-empty string", JSON.stringify(value));
                continue;
            }
            if (field === "repo") {
                if (!/^(https|oci):\/\/\S+$/.test(value)) r.problem(fkey, "expected an https:// or oci:// chart repository URL", value);
                src.repo = value;
            } else if (field === "version") {
                if (!EXACT_VERSION.test(value)) r.problem(fkey, "expected an exact chart version such as 1.2.3 (ranges are not allowed: every apply must render the same objects)", value);
                src.version = value;
            } else if (field === "path") {
                src.path = value;
            } else {
                r.problem(fkey, "unknown field; expected repo, version or path", value);
            }
        }
        charts[name as ChartName] = src;
    }
    return charts;
}
