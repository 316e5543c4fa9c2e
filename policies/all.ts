/**
 * The policy definitions, importable without starting a pack (constructing a PolicyPack starts its
 * gRPC server). index.ts wires them into the pack; the tests call them directly. One file per policy
 * (or close group) under rules/; every message names the resource and the fix.
 *
 * Self-contained: nothing here imports from outside policies/, so `pulumi policy publish` (which packs
 * this directory alone with npm pack) works. The rules the program shares with the pack live in
 * ./shared and the program imports them from there.
 */
import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { projectLiterals } from "./literal-scan";
import { acmeV2 } from "./rules/acme";
import { cronJobs } from "./rules/cronjobs";
import { deployKeyReadOnly } from "./rules/deploy-key";
import { gatewayBasicAuth, gatewayIngressTls } from "./rules/gateway";
import { hpaSanity } from "./rules/hpa";
import { networkPolicies } from "./rules/network-policies";
import { noSecretLiterals } from "./rules/secret-literals";
import { functionResources, pinnedImages } from "./rules/workloads";

export type Policy = ResourceValidationPolicy | StackValidationPolicy;

/** Every policy of the pack; `projectDir` (tests) overrides the policy config of the literal scan. */
export function allPolicies(projectDir?: string): Policy[] {
    const cache = new Map<string, Set<string>>();
    const literals = (configured: string) => {
        const dir = projectDir ?? configured;
        if (!cache.has(dir)) cache.set(dir, projectLiterals(dir));
        return cache.get(dir)!;
    };
    return [
        functionResources,
        pinnedImages,
        gatewayBasicAuth,
        gatewayIngressTls,
        networkPolicies,
        hpaSanity,
        cronJobs,
        acmeV2,
        noSecretLiterals(literals),
        deployKeyReadOnly,
    ];
}
