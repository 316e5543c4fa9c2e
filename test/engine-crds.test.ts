/**
 * The CRD policy (docs/crds.md) through the REAL engine on a REAL control plane that starts without
 * any CRD: the program's CRD step applies the charts' CRDs before the charts, marked with their
 * chart version and kept out of Pulumi state; a preview applies nothing; a chart version bump
 * applies that chart's CRDs again; a step that fails declares nothing; `pulumi destroy` leaves them.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { localChartsConfig } from "../tools/local-stack";
import { CRD_CHART_LABEL, CRD_FIELD_MANAGER, CRD_VERSION_ANNOTATION } from "../model/crds";
import { CHARTS } from "../model/charts";
import { DEFAULT_NAMESPACES } from "../model/platform";
import { BASE, SKIP_REASON } from "./support/engine-lifecycle";
import { EngineHarness, startEngineHarness, TestStack } from "./support/engine";
import { tempDir } from "./support/tmp";
import { KubeApi, kubeConnection } from "../kube/api";

interface Crd {
    metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string>; managedFields?: { manager: string; time?: string }[] };
}

const SEALED = "sealedsecrets.bitnami.com";

describe("real engine: the CRD step (crds: apply)", { skip: SKIP_REASON }, () => {
    let h: EngineHarness;
    let s: TestStack;
    let dir: string;
    // Metadata only: the CRDs in full are megabytes.
    const crds = async (): Promise<Crd[]> => (await new KubeApi(kubeConnection(h.cp.kubeconfig)).listMetadata<Crd>("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", "")).items ?? [];
    const crd = (name: string): Crd => JSON.parse(h.cp.kubectl(["get", "crd", name, "--show-managed-fields", "-o", "json"]));
    /** A copy of the pinned sealed-secrets chart at `version`, its CRD changed by `edit`. */
    const sealedChart = (version: string, edit: (crdYaml: string) => string): string => {
        const copy = path.join(dir, `sealed-secrets-${version}`);
        fs.cpSync(localChartsConfig()["sealed-secrets"]!.path, copy, { recursive: true });
        const chartYaml = path.join(copy, "Chart.yaml");
        fs.writeFileSync(chartYaml, fs.readFileSync(chartYaml, "utf8").replace(/^version: .*$/m, `version: ${version}`));
        const crdFile = path.join(copy, "crds", "bitnami.com_sealedsecrets.yaml");
        fs.writeFileSync(crdFile, edit(fs.readFileSync(crdFile, "utf8")));
        return copy;
    };
    const withSealedChart = (p: string, version: string) => h.stack("crds", "dev", { secrets: BASE, extra: { charts: { ...localChartsConfig(), "sealed-secrets": { path: p, version } } } });

    before(async () => {
        h = await startEngineHarness({ log: (l) => console.log(`# ${l}`), checkpoints: false, crds: false });
        s = await h.stack("crds", "dev", { secrets: BASE });
        dir = tempDir("ofg-crds-");
    });
    after(async () => {
        await h?.stop();
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it("a preview on a cluster without CRDs applies none, validates them and says which it would apply", async () => {
        const r = await s.run("preview");
        const log = r.log.join("\n");
        for (const chart of ["openfaas", "sealed-secrets", "contour", "cert-manager"]) {
            assert.match(log, new RegExp(`would apply \\d+ CRDs of ${chart} ${CHARTS[chart as keyof typeof CHARTS].version}: none of its CRDs is on the cluster`), log);
        }
        // The dev stack has no flux map: Flux's chart, and so its CRDs, are not installed.
        assert.doesNotMatch(log, /CRDs of flux2/);
        assert.deepEqual(await crds(), []);
    });

    it("up applies them before the charts, marked with their chart and version, and keeps them out of Pulumi state", async () => {
        const r = await s.run("up");
        assert.match(r.log.join("\n"), /applied 1 CRDs of sealed-secrets 2\.18\.5: none of its CRDs is on the cluster; `pulumi destroy` leaves them/);
        const all = await crds();
        assert.ok(all.length >= 17, `expected the charts' CRDs, got ${all.map((c) => c.metadata.name).join(", ")}`);
        for (const c of all) {
            const chart = c.metadata.labels?.[CRD_CHART_LABEL] as keyof typeof CHARTS | undefined;
            assert.ok(chart && CHARTS[chart], `${c.metadata.name} is not marked with its chart`);
            assert.equal(c.metadata.annotations?.[CRD_VERSION_ANNOTATION], CHARTS[chart].version, c.metadata.name);
            assert.ok(c.metadata.managedFields?.some((m) => m.manager === CRD_FIELD_MANAGER), `${c.metadata.name} was not applied by ${CRD_FIELD_MANAGER}`);
        }
        const state = (await s.stack.exportStack()).deployment.resources as { type: string }[];
        assert.deepEqual(state.filter((res) => res.type.includes("CustomResourceDefinition")), []);
        // The charts' own objects are there: the CRD step did not stand in for them.
        assert.match(h.cp.kubectl(["get", "deployment", "-n", DEFAULT_NAMESPACES.sealedSecrets, "-o", "name"]), /sealed-secrets/);
        const again = await s.run("preview");
        assert.deepEqual(again.changed, [], again.log.join("\n"));
        assert.doesNotMatch(again.log.join("\n"), /would apply/);
    });

    it("a chart version bump applies that chart's CRDs in the up, not in the preview, before the chart's objects", async () => {
        const bumped = sealedChart("2.18.6", (y) => y.replace("controller-gen.kubebuilder.io/version: v0.15.0", "controller-gen.kubebuilder.io/version: v0.15.0\n    test.openfaas-gitops.dev/bumped: \"yes\""));
        s = await withSealedChart(bumped, "2.18.6");
        const preview = await s.run("preview");
        assert.match(preview.log.join("\n"), /would apply 1 CRDs of sealed-secrets 2\.18\.6 \(from 2\.18\.5\): its CRDs are at 2\.18\.5/);
        assert.equal(crd(SEALED).metadata.annotations?.[CRD_VERSION_ANNOTATION], "2.18.5", "the preview applied the CRD");
        const up = await s.run("up");
        assert.match(up.log.join("\n"), /applied 1 CRDs of sealed-secrets 2\.18\.6 \(from 2\.18\.5\)/);
        const after = crd(SEALED);
        assert.equal(after.metadata.annotations?.[CRD_VERSION_ANNOTATION], "2.18.6");
        assert.equal(after.metadata.annotations?.["test.openfaas-gitops.dev/bumped"], "yes");
        // The chart's objects moved to the new version (its helm.sh/chart label) no earlier than the CRD.
        const deployment = JSON.parse(h.cp.kubectl(["get", "deployment", "-n", DEFAULT_NAMESPACES.sealedSecrets, "-l", "app.kubernetes.io/name=sealed-secrets", "--show-managed-fields", "-o", "json"])).items[0];
        assert.equal(deployment.metadata.labels["helm.sh/chart"], "sealed-secrets-2.18.6");
        const crdTime = Date.parse(after.metadata.managedFields!.find((m) => m.manager === CRD_FIELD_MANAGER)!.time!);
        const objectTime = Math.max(...(deployment.metadata.managedFields as { time: string }[]).map((m) => Date.parse(m.time)));
        assert.ok(crdTime <= objectTime, `the CRD was applied at ${new Date(crdTime).toISOString()}, after its chart's Deployment (${new Date(objectTime).toISOString()})`);
    });

    it("a CRD step that fails declares nothing: the error names the CRD, the chart and the apiserver's reason", async () => {
        // A CRD whose group changes: the apiserver refuses it (the group is immutable, and must match the name).
        const broken = sealedChart("2.18.7", (y) => y.replace("  group: bitnami.com", "  group: bitnami.example.com"));
        s = await withSealedChart(broken, "2.18.7");
        await s.stack.setConfig("openfaas-gitops:gatewayReplicas", { value: "2" });
        await assert.rejects(s.run("up"), (e: Error) => {
            assert.match(e.message, /CRD step \(config key crds, docs\/crds\.md\): applying CRD sealedsecrets\.bitnami\.com of sealed-secrets 2\.18\.7 failed: HTTP 422: CustomResourceDefinition\.apiextensions\.k8s\.io "sealedsecrets\.bitnami\.com" is invalid: spec\.group: Invalid value: "bitnami\.example\.com"/);
            return true;
        });
        const gw = JSON.parse(h.cp.kubectl(["get", "deployment", "gateway", "-n", "openfaas", "-o", "json"]));
        assert.equal(gw.spec.replicas, 1, "the gateway was scaled although the CRD step failed");
        assert.equal(crd(SEALED).metadata.annotations?.[CRD_VERSION_ANNOTATION], "2.18.6");
        await s.stack.setConfig("openfaas-gitops:gatewayReplicas", { value: "1" });
    });

    it("a chart the step cannot render fails the run naming the chart, its version and where it was looked for", async () => {
        s = await withSealedChart(path.join(dir, "no-such-chart"), "2.18.9");
        await assert.rejects(s.run("preview"), /CRD step \(config key crds, docs\/crds\.md\): rendering chart sealed-secrets 2\.18\.9 from \S*no-such-chart failed: /);
    });

    it("destroy leaves every CRD (deleting one would delete every object of its kind in the cluster)", async () => {
        const before = (await crds()).map((c) => c.metadata.name).sort();
        await s.run("destroy");
        assert.deepEqual((await crds()).map((c) => c.metadata.name).sort(), before);
        assert.deepEqual((await s.stack.exportStack()).deployment.resources ?? [], []);
    });
});
