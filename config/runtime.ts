/** The adapter from the running Pulumi engine to {@link RawConfig}: the only module that reads the engine's config. */
import * as pulumi from "@pulumi/pulumi";
import { projectFiles, RawConfig } from "./files";
import { PROJECT } from "./keys";

/**
 * The SDK knows which keys are secret but marks the function @internal; without it a secret
 * supplied correctly would be refused as plaintext, so fail loudly if an upgrade removes it.
 */
function isConfigSecret(fqKey: string): boolean {
    const fn = (pulumi.runtime as unknown as { isConfigSecret?: (k: string) => boolean }).isConfigSecret;
    if (typeof fn !== "function") throw new Error("@pulumi/pulumi no longer exposes runtime.isConfigSecret; pin the version in package.json");
    return fn(fqKey);
}

/** Reads this program's namespace out of the running engine's config. */
export function rawConfigFromRuntime(): RawConfig {
    const prefix = `${PROJECT}:`;
    const values: Record<string, string> = {};
    const secretKeys = new Set<string>();
    for (const [fullKey, value] of Object.entries(pulumi.runtime.allConfig())) {
        if (!fullKey.startsWith(prefix)) continue;
        const key = fullKey.slice(prefix.length);
        values[key] = value;
        if (isConfigSecret(fullKey)) secretKeys.add(key);
    }
    return { stack: pulumi.getStack(), values, secretKeys, files: projectFiles(process.cwd()) };
}
