/**
 * The real Pulumi engine for the tests, the benchmark and `npm run demo`: the Pulumi CLI and the
 * kubernetes provider, built from their Go modules (tools/pulumi, tools/pulumi-kubernetes) into the
 * cache outside the repository. No language host is needed: the tests run the program inline with
 * the Automation API, and the CLI finds the provider on PATH (an "ambient" plugin).
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { ensureGoTools, haveGo, toolCacheDir } from "./go-tools";

/** The Pulumi CLI built (pkg/v3 v3.270.0, the SDK's own version, is not served by the module proxy). */
export const PULUMI_CLI_VERSION = "v3.274.1";
/**
 * The provider source the module proxy serves is the commit tagged v4.25.0; package.json pins
 * @pulumi/kubernetes to the same version, and a test keeps the two in agreement.
 */
export const KUBERNETES_PROVIDER_VERSION = "4.25.0";
const PROVIDER_MODULE = "github.com/pulumi/pulumi-kubernetes/provider/v4";

export interface EngineBinaries {
    readonly pulumi: string;
    readonly provider: string;
    /** Directories to put first on PATH so the Automation API and the CLI find both binaries. */
    readonly path: readonly string[];
}

/** The provider's main package embeds the module's generated schema; copy it beside main.go (gitignored). */
function copyProviderSchema(moduleDir: string): void {
    // `go mod download` fetches the module on a cold machine (`go list -m` would print no directory) and names its directory.
    const { Dir: dir } = JSON.parse(execFileSync("go", ["mod", "download", "-json", PROVIDER_MODULE], { cwd: moduleDir, encoding: "utf8" })) as { Dir?: string };
    if (!dir) throw new Error(`go mod download ${PROVIDER_MODULE} gave no directory; is the Go module proxy reachable?`);
    for (const f of ["schema.json", "terraform-mapping.json"]) {
        fs.copyFileSync(path.join(dir, "cmd", "pulumi-resource-kubernetes", f), path.join(moduleDir, f));
        fs.chmodSync(path.join(moduleDir, f), 0o644);
    }
}

/** Returns the cached CLI and provider, building the missing ones (about 10 and 12 minutes cold on 2 cores). */
export function ensureEngine(log?: (line: string) => void): EngineBinaries {
    const { pulumi } = ensureGoTools("pulumi", PULUMI_CLI_VERSION, { pulumi: "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi" }, {
        ldflags: `-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=${PULUMI_CLI_VERSION}`,
        log,
    });
    const { "pulumi-resource-kubernetes": provider } = ensureGoTools("pulumi-kubernetes", `v${KUBERNETES_PROVIDER_VERSION}`, { "pulumi-resource-kubernetes": "." }, {
        ldflags: `-X ${PROVIDER_MODULE}/pkg/version.Version=${KUBERNETES_PROVIDER_VERSION}`,
        log,
        prepare: copyProviderSchema,
    });
    return { pulumi: pulumi!, provider: provider!, path: [path.dirname(pulumi!), path.dirname(provider!)] };
}

/** Whether the engine is cached or can be built here. */
export function engineAvailable(): boolean {
    const cached = fs.existsSync(path.join(toolCacheDir("pulumi", PULUMI_CLI_VERSION), "pulumi")) &&
        fs.existsSync(path.join(toolCacheDir("pulumi-kubernetes", `v${KUBERNETES_PROVIDER_VERSION}`), "pulumi-resource-kubernetes"));
    return cached || haveGo();
}

// `npm run engine:build`: build the CLI and the provider into the cache (or find them there).
if (require.main === module) {
    const bins = ensureEngine((l) => console.log(l));
    console.log(`pulumi: ${bins.pulumi}\npulumi-resource-kubernetes: ${bins.provider}`);
}
