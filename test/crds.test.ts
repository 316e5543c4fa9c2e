/**
 * The CRD policy's decisions (model/crds.ts), and the charts' own switches for their CRDs, against
 * the pinned charts: each chart renders CRDs with `on` and none with `off` (Helm itself renders,
 * through tools/upstream.ts's charts and the helm the provider bundles is not on PATH, so the charts'
 * templates are read: every switch named here guards the chart's CRD templates).
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import * as k8s from "@pulumi/kubernetes";
import { KubeApi, kubeConnection } from "../kube/api";
import { applyChartCrds, CrdStepError } from "../components/crds";
import { ControlPlane, controlPlaneAvailable, startControlPlane } from "../tools/controlplane";
import { tempDir } from "./support/tmp";
import fc from "fast-check";
import * as yaml from "js-yaml";
import { CHART_NAMES, ChartName } from "../model/charts";
import { CHART_CRD_VALUES, CRD_CHART_LABEL, CRD_COUNT_ANNOTATION, CRD_VERSION_ANNOTATION, crdWork, LiveCrd, markedCrds, WantedCrds } from "../model/crds";
import { chartArgs, withoutCrds } from "../components/charts";
import { CHARTS } from "../model/charts";
import { chartFile, unknownValueKeys } from "./helpers";


const live = (name: string, chart: string, version: string, count?: number): LiveCrd => ({
    name,
    labels: { [CRD_CHART_LABEL]: chart },
    annotations: { [CRD_VERSION_ANNOTATION]: version, ...(count === undefined ? {} : { [CRD_COUNT_ANNOTATION]: String(count) }) },
});

describe("CRD policy (model/crds.ts)", () => {
    const want: WantedCrds[] = [{ chart: "cert-manager", version: "v1.21.1" }, { chart: "sealed-secrets", version: "2.18.5" }];

    it("applies a chart's CRDs when none is on the cluster, another version is, or one of them was deleted", () => {
        assert.deepEqual(crdWork(want, []).map((w) => [w.chart, w.reason]), [
            ["cert-manager", "none of its CRDs is on the cluster"],
            ["sealed-secrets", "none of its CRDs is on the cluster"],
        ]);
        const upgraded = crdWork(want, [live("a.cert-manager.io", "cert-manager", "v1.20.0", 1), live("s.bitnami.com", "sealed-secrets", "2.18.5", 1)]);
        assert.deepEqual(upgraded, [{ chart: "cert-manager", version: "v1.21.1", from: "v1.20.0", reason: "its CRDs are at v1.20.0" }]);
        const missing = crdWork(want, [live("a.cert-manager.io", "cert-manager", "v1.21.1", 2), live("s.bitnami.com", "sealed-secrets", "2.18.5", 1)]);
        assert.deepEqual(missing.map((w) => w.reason), ["1 of its 2 CRDs are missing"]);
    });

    it("repeats a bounded part of versions someone wrote into the annotations", () => {
        const [w] = crdWork([want[0]!], [live("a.cert-manager.io", "cert-manager", "v".repeat(300_000), 1)]);
        assert.ok(w!.reason.length < 300 && w!.from!.length < 200, w!.reason.slice(0, 300));
    });

    it("leaves alone a chart whose CRDs are all there at its version, and CRDs of anything else", () => {
        const others: LiveCrd[] = [{ name: "x.example.com" }, { name: "y.example.com", labels: { [CRD_CHART_LABEL]: "not-ours" } }];
        assert.deepEqual(crdWork(want, [...others, live("a.cert-manager.io", "cert-manager", "v1.21.1", 1), live("s.bitnami.com", "sealed-secrets", "2.18.5", 1)]), []);
    });

    it("property: a chart is in the work exactly when its marked CRDs are absent, at another version or fewer than marked", () => {
        const version = fc.constantFrom("1.0.0", "1.1.0", "2.0.0");
        fc.assert(
            fc.property(version, fc.array(fc.record({ v: version, count: fc.option(fc.integer({ min: 0, max: 5 }), { nil: undefined }) }), { maxLength: 5 }), (wanted, crds) => {
                const liveCrds = crds.map((c, i) => live(`c${i}.example.com`, "contour", c.v, c.count));
                const work = crdWork([{ chart: "contour", version: wanted }], liveCrds);
                const count = crds[0]?.count;
                const expected = crds.length === 0 || crds.some((c) => c.v !== wanted) || (count !== undefined && crds.length < count);
                assert.equal(work.length === 1, expected);
            }),
        );
    });

    it("marks each rendered CRD with its chart, version and count, sorted by name, and refuses a render without CRDs", () => {
        const objects = [
            { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c" } },
            { apiVersion: "apiextensions.k8s.io/v1", kind: "CustomResourceDefinition", metadata: { name: "b.x.io", labels: { app: "x" } } },
            null,
            { apiVersion: "apiextensions.k8s.io/v1", kind: "CustomResourceDefinition", metadata: { name: "a.x.io" } },
        ];
        const marking = markedCrds({ chart: "flux2", version: "2.18.3" }, objects);
        assert.ok("crds" in marking);
        const marked = marking.crds;
        assert.deepEqual(marked.map((c) => c.metadata?.name), ["a.x.io", "b.x.io"]);
        assert.deepEqual(marked[1]!.metadata!.labels, { app: "x", [CRD_CHART_LABEL]: "flux2" });
        assert.deepEqual(marked[0]!.metadata!.annotations, { [CRD_VERSION_ANNOTATION]: "2.18.3", [CRD_COUNT_ANNOTATION]: "2" });
        const none = markedCrds({ chart: "flux2", version: "2.18.3" }, [objects[0]]);
        assert.ok("problem" in none);
        assert.match(none.problem, /flux2 2\.18\.3 rendered no CustomResourceDefinition .*CHART_CRD_VALUES/);
    });
});

/** The chart's templates that declare a CustomResourceDefinition, and the crds/ directory's files. */
function crdSources(chart: ChartName): { templates: string[]; crdsDir: string[] } {
    const root = path.dirname(chartFile(chart, "Chart.yaml"));
    const walk = (dir: string): string[] => (fs.existsSync(dir) ? fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)])) : []);
    return {
        templates: walk(path.join(root, "templates")).filter((f) => /kind:\s*CustomResourceDefinition/.test(fs.readFileSync(f, "utf8"))),
        crdsDir: walk(path.join(root, "crds")).filter((f) => /\.ya?ml$/.test(f)),
    };
}

describe("each chart's CRD switches (CHART_CRD_VALUES) against the pinned chart", () => {
    for (const chart of CHART_NAMES) {
        it(`${chart}: the switches are the chart's own values, and guard every CRD template`, () => {
            const values = yaml.load(fs.readFileSync(chartFile(chart, "values.yaml"), "utf8")) as Record<string, unknown>;
            const { on, off } = CHART_CRD_VALUES[chart];
            assert.deepEqual(unknownValueKeys(on, values), [], "on");
            assert.deepEqual(unknownValueKeys(off, values), [], "off");
            const { templates, crdsDir } = crdSources(chart);
            assert.ok(templates.length + crdsDir.length > 0, `${chart} has no CRDs: drop it from CHART_CRD_VALUES`);
            // A templated CRD is switched by a value: every template that declares one names a key of `off`.
            const leaves = (o: Record<string, unknown>, at = ""): string[] =>
                Object.entries(o).flatMap(([k, v]) => (v !== null && typeof v === "object" ? leaves(v as Record<string, unknown>, `${at}${k}.`) : [`${at}${k}`]));
            for (const t of templates) {
                const text = fs.readFileSync(t, "utf8");
                assert.ok(leaves(off).some((key) => text.includes(`.Values.${key}`)), `${path.basename(t)} declares a CRD that none of ${JSON.stringify(off)} switches off`);
            }
        });
    }

    it("every chart is installed without its crds/ directory and with its CRD switches off", () => {
        for (const chart of CHART_NAMES) {
            assert.equal(chartArgs(chart, CHARTS[chart]).skipCrds, true, chart);
            assert.deepEqual(withoutCrds(chart, {}), CHART_CRD_VALUES[chart].off, chart);
        }
        // Values merge key by key: the chart's other values under the same map stay.
        assert.deepEqual(withoutCrds("contour", { contour: { ingressClass: { name: "x" } } }), { contour: { ingressClass: { name: "x" }, manageCRDs: false }, gatewayAPI: { manageCRDs: false } });
    });
});

describe("the CRD step as a read-only identity (the PR workflow's `view` binding), on a real kube-apiserver", { skip: !controlPlaneAvailable() && "no control plane binaries" }, () => {
    let cp: ControlPlane;
    let api: KubeApi;
    before(async () => {
        cp = await startControlPlane();
        cp.kubectl(["create", "serviceaccount", "previewer", "-n", "default"]);
        cp.kubectl(["create", "clusterrolebinding", "previewer-view", "--clusterrole=view", "--serviceaccount=default:previewer"]);
        const kubeconfig = JSON.parse(cp.kubectl(["config", "view", "--raw", "--minify", "-o", "json"]));
        kubeconfig.users[0].user = { token: cp.kubectl(["create", "token", "previewer", "-n", "default"]).trim() };
        const file = path.join(tempDir("ofg-crds-view-"), "kubeconfig");
        fs.writeFileSync(file, JSON.stringify(kubeconfig), { mode: 0o600 });
        api = new KubeApi(kubeConnection(file));
    });
    after(async () => {
        await cp?.stop();
    });
    const charts = [{ name: "sealed-secrets" as const, source: CHARTS["sealed-secrets"] }];
    // Never reached: the step stops at the list, before it renders anything. A placeholder, not a provider.
    const noProvider = undefined as unknown as k8s.Provider;

    it("a preview says it cannot tell, and goes on", async () => {
        const said: string[] = [];
        await applyChartCrds({ charts, provider: noProvider, dryRun: true, api, log: { info: (m) => said.push(`info: ${m}`), warn: (m) => said.push(`warn: ${m}`) } });
        assert.equal(said.length, 1, said.join("\n"));
        assert.match(said[0]!, /^warn: this preview may not list CRDs \(.*forbidden.*\), so it cannot say whether an update would apply any$/);
    });

    it("an update fails before declaring anything, with the apiserver's reason", async () => {
        await assert.rejects(applyChartCrds({ charts, provider: noProvider, dryRun: false, api, log: { info: () => undefined, warn: () => undefined } }), (e: Error) => {
            assert.ok(e instanceof CrdStepError);
            assert.match(e.message, /^CRD step \(config key crds, docs\/crds\.md\): could not list the cluster's CRDs: .*system:serviceaccount:default:previewer.* cannot list resource "customresourcedefinitions"/);
            return true;
        });
    });
});
