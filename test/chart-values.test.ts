import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import Ajv from "ajv";
import * as yaml from "js-yaml";
import { ChartName, CHART_NAMES, CHARTS } from "../model/charts";
import { upstream } from "../tools/upstream";
import { mergeValues } from "../components/charts";
import { chartFile, runProgram, raw, runStack, STACKS, unknownValueKeys } from "./helpers";

function upstreamValues(chart: ChartName): Record<string, unknown> {
    return yaml.load(fs.readFileSync(chartFile(chart, "values.yaml"), "utf8")) as Record<string, unknown>;
}

describe("chart values", () => {
    // The charts fetched by tools/upstream.ts are checked by name, version and digest when they are
    // fetched; this compares the pins with what ../shared/upstream/README.md says its copies are.
    const shared = upstream().shared;
    it("the pinned charts are the ones whose values and CRDs are in shared/upstream", { skip: !shared && `no ../shared/upstream/README.md to compare with (${upstream().source})` }, () => {
        // The upstream README lists "- <name>: <repo> (chart `<chart>`, <version>)" per chart; some
        // copied Chart.yaml files are source templates (cert-manager says v0.0.0), so it is the reference.
        const readme = fs.readFileSync(path.join(shared!, "README.md"), "utf8");
        for (const name of CHART_NAMES) {
            const m = new RegExp(`^- ${name}: (\\S+) \\(chart \`([^\`]+)\`, ([^)]+)\\)`, "m").exec(readme);
            assert.ok(m, `${name} is not listed in shared/upstream/README.md`);
            assert.deepEqual({ repo: CHARTS[name].repo, chart: CHARTS[name].chart, version: CHARTS[name].version }, { repo: m[1], chart: m[2], version: m[3] }, name);
        }
    });

    it("the key check catches a typo", () => {
        assert.deepEqual(unknownValueKeys({ gateway: { replicaz: 2 }, exposeServices: false }, upstreamValues("openfaas")), ["gateway.replicaz"]);
        assert.deepEqual(unknownValueKeys({ envoy: { service: { annotations: { any: "x" } } } }, upstreamValues("contour")), []);
    });

    const variants: [string, () => ReturnType<typeof runStack>][] = [
        ...STACKS.map((s): [string, () => ReturnType<typeof runStack>] => [s, () => runStack(s)]),
        ["pro", () => runProgram(raw({ proLicense: "x", gatewayReplicas: "2" }, ["proLicense"]))],
        ["flux with kustomize and helm controllers", () => runProgram(raw({
            agent: JSON.stringify({ image: "ghcr.io/acme/agent:1.0.0", repoUrl: "git@github.com:acme/platform.git" }),
            flux: JSON.stringify({ kustomizeController: true, helmController: true }),
        }))],
    ];
    // Flux is the one optional chart: a stack without the flux map declares no flux2 release.
    const optional = new Set<string>(["flux2"]);
    const checked = new Set<string>();
    for (const [label, run] of variants) {
        it(`${label}: every values key exists in the chart's values.yaml and passes its schema`, async () => {
            const { resources } = await run();
            for (const name of CHART_NAMES) {
                // Found by release name, which is the chart's key in CHARTS (the component's own name may differ).
                const chart = resources.filter((r) => r.type === "kubernetes:helm.sh/v4:Chart" && r.inputs.name === name);
                if (chart.length === 0 && optional.has(name)) continue;
                assert.equal(chart.length, 1, `${label}: one ${name} release`);
                checked.add(name);
                const values = chart[0]!.inputs.values as Record<string, unknown>;
                assert.deepEqual(unknownValueKeys(values, upstreamValues(name)), [], `${name} values`);
                const schemaFile = chartFile(name, "values.schema.json");
                if (fs.existsSync(schemaFile)) {
                    // Helm validates the merged values, so check the defaults with our values on top.
                    const ajv = new Ajv({ strict: false, allErrors: true });
                    const validate = ajv.compile(JSON.parse(fs.readFileSync(schemaFile, "utf8")));
                    const merged = mergeValues(upstreamValues(name), values);
                    assert.ok(validate(merged), `${name}: ${ajv.errorsText(validate.errors)}`);
                }
            }
        });
    }
    it("every pinned chart's values were checked by some variant", () => {
        assert.deepEqual([...checked].sort(), [...CHART_NAMES].sort());
    });
});
