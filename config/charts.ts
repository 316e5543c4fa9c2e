/** The `charts` map: per-stack overrides of the pinned chart sources (model/charts.ts). */
import { CHARTS, CHART_NAMES, ChartName, ChartSource } from "../model/charts";
import { hasUrlCredentials, redactUrl } from "../model/git";
import { Reader } from "./reader";
import { schemaProblems, Schema } from "./schema";

const NON_EMPTY = { type: "string", minLength: 1, expected: "expected a non-empty string" } as const;

/** One chart's override: where it comes from instead of the pin. */
const SOURCE_SCHEMA: Schema = {
    type: "object",
    expected: "expected a map with repo, version and/or path",
    unknown: "unknown field; expected repo, version or path",
    additionalProperties: false,
    properties: {
        repo: { ...NON_EMPTY, pattern: "^(https|oci)://\\S+$", expected: "expected an https:// or oci:// chart repository URL" },
        // semver, not a regex: an exact version (a leading v allowed, as cert-manager tags its charts); never a range.
        version: { ...NON_EMPTY, format: "exact-version", expected: "expected an exact chart version such as 1.2.3 (ranges are not allowed: every apply must render the same objects)" },
        path: NON_EMPTY,
    },
};

/** The `charts` map: `{ <chart>: { repo?, version?, path? } }`. */
export const CHARTS_SCHEMA: Schema = {
    type: "object",
    unknown: `unknown chart; expected one of ${CHART_NAMES.join(", ")}`,
    additionalProperties: false,
    properties: Object.fromEntries(CHART_NAMES.map((name) => [name, SOURCE_SCHEMA])),
};

/** Reads the `charts` override map over the pins; a field with a problem keeps the pinned value. */
export function readCharts(r: Reader): Record<ChartName, ChartSource> {
    const charts: Record<ChartName, ChartSource> = { ...CHARTS };
    const given = r.object("charts");
    if (!given) return charts;
    // A repository URL is echoed redacted: one with a user and password is a credential in plain text.
    const schema = schemaProblems(CHARTS_SCHEMA, given, r.fullKey("charts")).map((p) => (p.value === undefined ? p : { ...p, value: redactUrl(p.value) }));
    const invalid = new Set(r.addAll(schema).map((p) => p.key));
    for (const name of CHART_NAMES) {
        const override = given[name];
        if (override === null || typeof override !== "object" || Array.isArray(override)) continue;
        const repo = (override as Record<string, unknown>).repo;
        if (typeof repo === "string" && !invalid.has(r.fullKey(`charts.${name}.repo`)) && hasUrlCredentials(repo)) {
            // Plain config, then the Chart's inputs and the state: no place for a password. No chart repository this program pins needs one.
            r.problem(`charts.${name}.repo`, "carries credentials, which would be stored in plain text in the stack file and the state; give a repository that needs none, or a path to the chart (a .tgz or directory in the repository)", redactUrl(repo));
            invalid.add(r.fullKey(`charts.${name}.repo`));
        }
        const fields = Object.entries(override as Record<string, unknown>).filter(
            ([field, value]) => typeof value === "string" && !invalid.has(r.fullKey(`charts.${name}.${field}`)),
        );
        charts[name] = { ...charts[name], ...Object.fromEntries(fields) };
    }
    return charts;
}
