/**
 * Runs policies directly, the way the Pulumi engine's analyzer would call them: each resource
 * through every validateResource, the whole stack through every validateStack, with a policy
 * config file's enforcement levels and properties applied. No engine is involved: the policies are
 * plain functions, so their cases are tested without the Pulumi CLI; test/engine.test.ts runs the
 * same pack through the real CLI.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { EnforcementLevel, PolicyResource } from "@pulumi/policy";
import type { DeclaredResource } from "../../tools/mock-engine";
import { Policy } from "../all";

export interface Violation {
    readonly policy: string;
    readonly level: EnforcementLevel;
    readonly message: string;
}

export interface Res {
    readonly type: string;
    readonly name?: string;
    readonly props: Record<string, any>;
    /** The URN, whose type part chains the parents' types. @default a top-level URN of `type` and `name` */
    readonly urn?: string;
}

export type PolicyConfig = Record<string, EnforcementLevel | ({ enforcementLevel?: EnforcementLevel } & Record<string, unknown>)>;

export function loadPolicyConfig(env: string): PolicyConfig {
    return JSON.parse(fs.readFileSync(path.resolve(__dirname, "..", "config", `${env}.json`), "utf8"));
}

function settings(policy: Policy, config: PolicyConfig): { level: EnforcementLevel; props: Record<string, unknown> } {
    const entry = config[policy.name];
    const defaults = Object.fromEntries(Object.entries(policy.configSchema?.properties ?? {}).map(([k, v]) => [k, (v as { default?: unknown }).default]));
    if (typeof entry === "string") return { level: entry, props: defaults };
    const { enforcementLevel, ...props } = entry ?? {};
    return { level: enforcementLevel ?? policy.enforcementLevel ?? "advisory", props: { ...defaults, ...props } };
}

function policyResource(r: Res, i: number): PolicyResource {
    const name = r.name ?? `r${i}`;
    return {
        type: r.type,
        name,
        urn: r.urn ?? `urn:pulumi:test::openfaas-gitops::${r.type}::${name}`,
        props: r.props,
        opts: { protect: false, ignoreChanges: [], aliases: [], customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 }, additionalSecretOutputs: [] },
        dependencies: [],
        propertyDependencies: {},
        isType: () => false,
        asType: () => undefined,
    } as unknown as PolicyResource;
}

/** Every violation the policies report for the resources. */
export async function evaluate(policies: readonly Policy[], resources: readonly Res[], config: PolicyConfig = {}): Promise<Violation[]> {
    const out: Violation[] = [];
    const stackResources = resources.map(policyResource);
    for (const policy of policies) {
        const { level, props } = settings(policy, config);
        if (level === "disabled") continue;
        const report = (message: string) => out.push({ policy: policy.name, level, message });
        const getConfig = <T>() => props as T;
        if ("validateResource" in policy && policy.validateResource) {
            const validators = Array.isArray(policy.validateResource) ? policy.validateResource : [policy.validateResource];
            for (const r of stackResources) {
                for (const v of validators) await v({ ...r, getConfig, stackTags: new Map(), notApplicable: () => {} } as any, report);
            }
        }
        if ("validateStack" in policy && policy.validateStack) {
            await policy.validateStack({ resources: stackResources, getConfig, stackTags: new Map(), notApplicable: () => {} } as any, report);
        }
    }
    return out;
}

/** Declared resources of a program run, as policy input. */
export function fromDeclared(resources: readonly DeclaredResource[]): Res[] {
    return resources.map((r) => ({ type: r.type, name: r.name, props: r.inputs, urn: r.urn }));
}
