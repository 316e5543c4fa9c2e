/**
 * kubeseal v0.36.6 built from its Go module (tools/kubeseal/go.mod) into the cache outside the
 * repository: `npm run seal` seals with it (sealing/cli.ts), `npm run kubeseal -- <args>` runs it for
 * people without a kubeseal binary, and the tests use it as the real peer of this repository's own
 * sealing format code.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { ensureGoTools, haveGo, toolCacheDir } from "./go-tools";

/** The kubeseal release built; the sealed-secrets controller of the pinned chart is the same version. */
export const KUBESEAL_VERSION = "v0.36.6";

/** Path of the kubeseal binary, built on first use. */
export function ensureKubeseal(log?: (line: string) => void): string {
    // kubeseal reports this version (its main package reads it from a linker flag, "UNKNOWN" otherwise).
    const { kubeseal } = ensureGoTools("kubeseal", KUBESEAL_VERSION, { kubeseal: "github.com/bitnami-labs/sealed-secrets/cmd/kubeseal" }, { ldflags: `-X main.VERSION=${KUBESEAL_VERSION}`, log });
    return kubeseal!;
}

/** Whether kubeseal is cached or can be built here. */
export function kubesealAvailable(): boolean {
    return haveGo() || fs.existsSync(path.join(toolCacheDir("kubeseal", KUBESEAL_VERSION), "kubeseal"));
}

if (require.main === module) {
    try {
        execFileSync(ensureKubeseal(), process.argv.slice(2), { stdio: "inherit" });
    } catch (e) {
        process.exit((e as { status?: number }).status ?? 1);
    }
}
