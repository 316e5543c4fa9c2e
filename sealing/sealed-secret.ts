/** Pure construction of SealedSecret objects from plaintext values (which never leave memory). */
import * as crypto from "node:crypto";
import { SCOPE_ANNOTATIONS, Scope, scopeLabel, sealValue } from "./crypto";
import { DNS_LABEL, DNS_SUBDOMAIN, SECRET_KEY } from "../names";

export interface SealedSecret {
    apiVersion: "bitnami.com/v1alpha1";
    kind: "SealedSecret";
    metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
    spec: {
        encryptedData: Record<string, string>;
        template: { metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }; type: string };
    };
}

export interface SealRequest {
    readonly name: string;
    /** Required except for cluster-wide scope. */
    readonly namespace?: string;
    readonly scope: Scope;
    readonly data: Readonly<Record<string, Buffer>>;
    /** Secret type of the template. @default "Opaque" */
    readonly type?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
}


/** Everything wrong with a request's names and keys, for one error listing all of it. */
export function requestProblems(r: { name?: string; namespace?: string; scope: Scope; keys: readonly string[] }): string[] {
    const problems: string[] = [];
    if (!r.name) problems.push("--name is required (the Secret's name)");
    else if (!DNS_SUBDOMAIN.test(r.name)) problems.push(`name "${r.name}" is not a DNS-1123 subdomain (lower case letters, digits, '-' and '.')`);
    if (r.namespace === undefined) {
        if (r.scope !== "cluster-wide") problems.push(`--namespace is required with scope ${r.scope}`);
    } else if (!DNS_LABEL.test(r.namespace)) problems.push(`namespace "${r.namespace}" is not a DNS-1123 label (lower case letters, digits and '-', at most 63)`);
    for (const k of r.keys) if (!SECRET_KEY.test(k)) problems.push(`key "${k}" is not a valid Secret key (letters, digits, '-', '_' and '.')`);
    return problems;
}

/** Seals every value of a request into a SealedSecret the controller turns back into the Secret. */
export function sealSecret(publicKey: crypto.KeyObject, r: SealRequest): SealedSecret {
    const label = scopeLabel(r.scope, r.namespace ?? "", r.name);
    const encryptedData = Object.fromEntries(
        Object.keys(r.data)
            .sort()
            .map((k) => [k, sealValue(publicKey, label, r.data[k]!)]),
    );
    const annotations = SCOPE_ANNOTATIONS[r.scope];
    const ns = r.namespace !== undefined ? { namespace: r.namespace } : {};
    return {
        apiVersion: "bitnami.com/v1alpha1",
        kind: "SealedSecret",
        metadata: { name: r.name, ...ns, ...(Object.keys(annotations).length > 0 ? { annotations: { ...annotations } } : {}) },
        spec: {
            encryptedData,
            template: {
                metadata: {
                    name: r.name,
                    ...ns,
                    ...(r.labels && Object.keys(r.labels).length > 0 ? { labels: { ...r.labels } } : {}),
                    ...(r.annotations && Object.keys(r.annotations).length > 0 ? { annotations: { ...r.annotations } } : {}),
                },
                type: r.type ?? "Opaque",
            },
        },
    };
}

/** The scope a SealedSecret was sealed with, read from its annotations as the controller does. */
export function scopeOf(s: { metadata?: { annotations?: Record<string, string> } }): Scope {
    const a = s.metadata?.annotations ?? {};
    if (a["sealedsecrets.bitnami.com/cluster-wide"] === "true") return "cluster-wide";
    if (a["sealedsecrets.bitnami.com/namespace-wide"] === "true") return "namespace-wide";
    return "strict";
}

/** Adds or replaces the keys of `update` in `existing`; both must be sealed for the same name, namespace and scope. */
export function mergeSealed(existing: SealedSecret, update: SealedSecret): SealedSecret {
    const mismatch = (["name", "namespace"] as const).filter((k) => existing.metadata[k] !== update.metadata[k]);
    if (mismatch.length > 0 || scopeOf(existing) !== scopeOf(update)) {
        throw new Error(
            `cannot merge: the file is sealed for ${existing.metadata.namespace ?? "*"}/${existing.metadata.name} (${scopeOf(existing)}), ` +
                `the new values for ${update.metadata.namespace ?? "*"}/${update.metadata.name} (${scopeOf(update)}); values only decrypt under the name, namespace and scope they were sealed for`,
        );
    }
    const merged = { ...existing.spec.encryptedData, ...update.spec.encryptedData };
    return {
        ...existing,
        spec: { ...existing.spec, encryptedData: Object.fromEntries(Object.keys(merged).sort().map((k) => [k, merged[k]!])) },
    };
}
