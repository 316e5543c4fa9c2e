/**
 * The SealedSecret object: its shape and metadata rules (manifests.ts reads the committed files with
 * them), its scope, and sealSecret, which builds one in process. Users seal with kubeseal
 * (`npm run seal`); the tests seal with sealSecret, and test/sealing.test.ts checks that kubeseal and
 * the controller's own decryption open what it writes, and that it opens what kubeseal writes.
 */
import * as crypto from "node:crypto";
import { SCOPE_ANNOTATIONS, Scope, scopeLabel, sealValue } from "./crypto";
import { LABEL_KEY, LABEL_VALUE } from "../model/names";

export interface SealedSecret {
    apiVersion: "bitnami.com/v1alpha1";
    kind: "SealedSecret";
    metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
    spec: {
        encryptedData: Record<string, string>;
        template: { metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }; type: string; immutable?: boolean };
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
    /** The Secret is immutable once created. @default unset */
    readonly immutable?: boolean;
}

/** Annotations kubectl and kubecfg keep a full copy of the object in: sealing them would leak the plaintext (kubeseal strips them too). */
const LAST_APPLIED = ["kubectl.kubernetes.io/last-applied-configuration", "kubecfg.ksonnet.io/last-applied-configuration"];

/** Pure: the template's annotations as kubeseal writes them: the input's, without last-applied copies, with the scope's annotation and no other scope's. */
function templateAnnotations(input: Readonly<Record<string, string>> | undefined, scope: Scope): Record<string, string> {
    const scopeKeys = Object.keys({ ...SCOPE_ANNOTATIONS["namespace-wide"], ...SCOPE_ANNOTATIONS["cluster-wide"] });
    const kept = Object.entries(input ?? {}).filter(([k]) => !LAST_APPLIED.includes(k) && !scopeKeys.includes(k));
    return { ...Object.fromEntries(kept), ...SCOPE_ANNOTATIONS[scope] };
}

/** Longest part of a name or key a message shows: input can be any size, a message stays a line. */
const SHOWN_CHARS = 64;

/** Pure: a name or key (never a value) as a message shows it, cut to {@link SHOWN_CHARS}. */
export function clip(text: string): string {
    return text.length > SHOWN_CHARS ? `${text.slice(0, SHOWN_CHARS)}...` : text;
}

/** Pure: {@link clip}, JSON-quoted (a name may hold quotes or line breaks). */
export function quote(text: string): string {
    return JSON.stringify(clip(text));
}

/** Most metadata problems of one object a message lists: an input can hold thousands of bad labels, a message stays readable. */
export const LISTED_PROBLEMS = 5;

/** Pure: what a YAML value is, for messages that must not show it. */
function typeName(v: unknown): string {
    return v === null ? "null" : Array.isArray(v) ? "a list" : typeof v === "object" ? "a map" : `a ${typeof v}`;
}

/** Kubernetes' limit on the annotations of one object, keys and values together (apimachinery's TotalAnnotationSizeLimitB). */
const MAX_ANNOTATION_BYTES = 256 * 1024;

/** Pure: a label or annotation key as Kubernetes takes it: a qualified name whose prefix is a DNS subdomain of at most 253 characters. */
function isQualifiedName(key: string): boolean {
    const slash = key.lastIndexOf("/");
    return LABEL_KEY.test(key) && slash <= 253;
}

/**
 * Pure: what is wrong with an object's metadata as Kubernetes validates it, at `at` (`metadata`,
 * `spec.template.metadata`): name and namespace are strings, labels and annotations maps of strings
 * to strings with qualified-name keys, label values as Kubernetes allows, annotations within 256 KiB.
 * Annotation values are never shown: kubectl's last-applied copy holds the whole Secret.
 */
export function metadataProblems(metadata: unknown, at: string): string[] {
    if (metadata === undefined || metadata === null) return [];
    if (typeof metadata !== "object" || Array.isArray(metadata)) return [`${at}: expected a map`];
    const m = metadata as Record<string, unknown>;
    const problems: string[] = [];
    for (const field of ["name", "namespace"]) {
        if (m[field] !== undefined && typeof m[field] !== "string") problems.push(`${at}.${field}: expected a string, not ${typeName(m[field])}; quote it`);
    }
    for (const field of ["labels", "annotations"] as const) {
        const map = m[field];
        if (map === undefined || map === null) continue;
        if (typeof map !== "object" || Array.isArray(map)) {
            problems.push(`${at}.${field}: expected a map of strings to strings`);
            continue;
        }
        let bytes = 0;
        for (const [k, v] of Object.entries(map)) {
            // Kubernetes checks annotation keys in lower case, label keys as written.
            if (!isQualifiedName(field === "annotations" ? k.toLowerCase() : k)) problems.push(`${at}.${field}: key ${quote(k)} is not a qualified name (an optional DNS-subdomain prefix and '/', then at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit)`);
            if (typeof v !== "string") problems.push(`${at}.${field}.${clip(k)}: expected a string${field === "labels" ? "; quote numbers and booleans" : ""}`);
            else if (field === "labels" && !LABEL_VALUE.test(v)) problems.push(`${at}.labels.${clip(k)}: value ${quote(v)} is not a label value (at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit)`);
            else bytes += Buffer.byteLength(k) + Buffer.byteLength(v);
        }
        if (field === "annotations" && bytes > MAX_ANNOTATION_BYTES) problems.push(`${at}.annotations: ${bytes} bytes in all, more than the ${MAX_ANNOTATION_BYTES} Kubernetes allows`);
    }
    return problems;
}

/** Seals every value of a request into a SealedSecret the controller turns back into the Secret. */
export function sealSecret(publicKey: crypto.KeyObject, request: SealRequest): SealedSecret {
    const label = scopeLabel(request.scope, request.namespace ?? "", request.name);
    const encryptedData = Object.fromEntries(
        Object.keys(request.data)
            .sort()
            .map((k) => [k, sealValue(publicKey, label, request.data[k]!)]),
    );
    const annotations = SCOPE_ANNOTATIONS[request.scope];
    const template = templateAnnotations(request.annotations, request.scope);
    const ns = request.namespace !== undefined ? { namespace: request.namespace } : {};
    return {
        apiVersion: "bitnami.com/v1alpha1",
        kind: "SealedSecret",
        metadata: { name: request.name, ...ns, ...(Object.keys(annotations).length > 0 ? { annotations: { ...annotations } } : {}) },
        spec: {
            encryptedData,
            template: {
                metadata: {
                    name: request.name,
                    ...ns,
                    ...(request.labels && Object.keys(request.labels).length > 0 ? { labels: { ...request.labels } } : {}),
                    ...(Object.keys(template).length > 0 ? { annotations: template } : {}),
                },
                type: request.type ?? "Opaque",
                ...(request.immutable !== undefined ? { immutable: request.immutable } : {}),
            },
        },
    };
}

/** The scope a SealedSecret was sealed with, read from its annotations as the controller does. */
export function scopeOf(sealed: { metadata?: { annotations?: Record<string, string> } }): Scope {
    const annotations = sealed.metadata?.annotations ?? {};
    if (annotations["sealedsecrets.bitnami.com/cluster-wide"] === "true") return "cluster-wide";
    if (annotations["sealedsecrets.bitnami.com/namespace-wide"] === "true") return "namespace-wide";
    return "strict";
}
