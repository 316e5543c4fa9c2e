/**
 * Versions written in more than one place agree: the engine the tests and the image build
 * (tools/engine.ts) with package.json and the Go tool modules, the pinned charts (model/charts.ts)
 * with the configuration reference, and the docs that name them. A bump
 * of one without the others fails here (a provider older than the SDK makes every run download one).
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { CHART_NAMES, CHARTS } from "../model/charts";
import { KUBERNETES_PROVIDER_VERSION, PULUMI_CLI_VERSION } from "../tools/engine";
import { ROOT } from "./helpers";

const read = (f: string) => fs.readFileSync(path.join(ROOT, f), "utf8");

describe("versions written in more than one place", () => {
    it("the kubernetes provider is the version package.json pins for @pulumi/kubernetes", () => {
        assert.equal(KUBERNETES_PROVIDER_VERSION, JSON.parse(read("package.json")).dependencies["@pulumi/kubernetes"]);
    });

    it("the Pulumi CLI is the version tools/pulumi/go.mod builds", () => {
        const required = /^require github\.com\/pulumi\/pulumi\/pkg\/v3 (v\S+)$/m.exec(read("tools/pulumi/go.mod"))?.[1];
        assert.equal(PULUMI_CLI_VERSION, required);
    });

    it("docs/configuration.md lists the charts model/charts.ts pins, at those versions", () => {
        const sentence = /Pinned charts \(`model\/charts\.ts`[^)]*\): ([^(]+)\(/.exec(read("docs/configuration.md"))?.[1];
        assert.ok(sentence, "docs/configuration.md no longer has the sentence this test reads");
        const listed = Object.fromEntries([...sentence.matchAll(/([a-z0-9-]+) (v?\d+\.\d+\.\d+)/g)].map((m) => [m[1], m[2]]));
        assert.deepEqual(listed, Object.fromEntries(CHART_NAMES.map((c) => [c, CHARTS[c].version])));
    });

    it("the docs name those versions and no others", () => {
        const cli = PULUMI_CLI_VERSION.replace(/^v/, "");
        for (const doc of ["docs/agent.md", "docs/testing.md"]) {
            const text = read(doc);
            const clis = [...text.matchAll(/Pulumi CLI v(\d+\.\d+\.\d+)|pkg\/v3` v(\d+\.\d+\.\d+)/g)].map((m) => m[1] ?? m[2]);
            const providers = [...text.matchAll(/kubernetes provider v(\d+\.\d+\.\d+)|@pulumi\/kubernetes` (\d+\.\d+\.\d+)|provider (\d+\.\d+\.\d+) built/g)].map((m) => m[1] ?? m[2] ?? m[3]);
            assert.ok(clis.length > 0 && providers.length > 0, `${doc} no longer names the versions this test reads`);
            assert.deepEqual([...new Set(clis)], [cli], doc);
            assert.deepEqual([...new Set(providers)], [KUBERNETES_PROVIDER_VERSION], doc);
        }
    });
});
