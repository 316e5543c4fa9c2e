import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { DEFAULT_NAMESPACES, NamespaceNames } from "../model/platform";

/** @internal Label the 2018 network policies key on: namespaces whose pods may call functions. */
export const ROLE_LABEL = { role: "openfaas-system" } as const;
/** @internal Label the 2018 network policies key on: namespaces whose pods may call the gateway. */
export const ACCESS_LABEL = { access: "openfaas-system" } as const;

/** Arguments for {@link PlatformNamespaces}. */
export interface PlatformNamespacesArgs {
    /** Namespace names. @default {@link DEFAULT_NAMESPACES} */
    readonly names?: Partial<NamespaceNames>;
    /** Namespaces functions name for themselves (faas-cli `namespace`, OpenFaaS Pro), beside the platform's `functions`. @default [] */
    readonly ownFunctionNamespaces?: readonly string[];
}

/** Annotation by which OpenFaaS Pro's gateway and operator recognise a function namespace (faas-netes ListNamespaces). */
const OPENFAAS_NAMESPACE_ANNOTATION = { openfaas: "1" } as const;

/**
 * @internal Pure: a namespace for functions besides the platform's: annotated so OpenFaaS Pro serves it, and
 * labelled like the platform's function namespace (neither label: nothing in it reaches the gateway).
 */
export function functionNamespaceSpec(name: string): k8s.types.input.core.v1.Namespace {
    return { apiVersion: "v1", kind: "Namespace", metadata: { name, annotations: { ...OPENFAAS_NAMESPACE_ANNOTATION } } };
}

/** Pure: the resolved namespace names. */
function namespaceNames(args: PlatformNamespacesArgs = {}): NamespaceNames {
    return { ...DEFAULT_NAMESPACES, ...args.names };
}

/**
 * Labels as the 2018 manifests set them: the core namespace may reach functions (`role`) and the
 * gateway (`access`); the ingress, certificate and secrets controllers may reach the gateway
 * (`access`); the function namespace gets neither.
 */
const NAMESPACE_LABELS: { readonly [K in keyof NamespaceNames]: Readonly<Record<string, string>> } = {
    core: { ...ROLE_LABEL, ...ACCESS_LABEL },
    functions: {},
    contour: ACCESS_LABEL,
    certManager: ACCESS_LABEL,
    sealedSecrets: ACCESS_LABEL,
};

/** @internal The Namespace objects, by role, as {@link namespaceSpecs} builds them. */
export type NamespaceSpecs = { readonly [K in keyof NamespaceNames]: k8s.types.input.core.v1.Namespace };

/** @internal Pure: the Namespace objects, by role. */
export function namespaceSpecs(args: PlatformNamespacesArgs = {}): NamespaceSpecs {
    const names = namespaceNames(args);
    const spec = (key: keyof NamespaceNames): k8s.types.input.core.v1.Namespace => ({
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name: names[key], ...(Object.keys(NAMESPACE_LABELS[key]).length > 0 ? { labels: { ...NAMESPACE_LABELS[key] } } : {}) },
    });
    return { core: spec("core"), functions: spec("functions"), contour: spec("contour"), certManager: spec("certManager"), sealedSecrets: spec("sealedSecrets") };
}

/** The platform's namespaces. Other components take their names from here, which orders them after creation. */
export class PlatformNamespaces extends pulumi.ComponentResource {
    /** Each namespace name, resolved once the Namespace exists. */
    public readonly names: { readonly [K in keyof NamespaceNames]: pulumi.Output<string> };
    /** The namespaces functions name for themselves, by name, resolved once each exists. */
    public readonly ownFunctionNamespaces: Readonly<Record<string, pulumi.Output<string>>>;
    /** Every namespace declared here, by its name: for objects that name a namespace as written (SealedSecret manifests). */
    public readonly byName: Readonly<Record<string, pulumi.Output<string>>>;

    constructor(name: string, args: PlatformNamespacesArgs = {}, opts?: pulumi.ComponentResourceOptions) {
        super("openfaas-gitops:platform:Namespaces", name, args, opts);
        const names = namespaceNames(args);
        const specs = namespaceSpecs(args);
        const create = (key: keyof NamespaceNames) =>
            new k8s.core.v1.Namespace(`${name}-${names[key]}`, specs[key], { parent: this }).metadata.name;
        this.names = {
            core: create("core"),
            functions: create("functions"),
            contour: create("contour"),
            certManager: create("certManager"),
            sealedSecrets: create("sealedSecrets"),
        };
        this.ownFunctionNamespaces = Object.fromEntries(
            (args.ownFunctionNamespaces ?? []).map((ns) => [ns, new k8s.core.v1.Namespace(`${name}-${ns}`, functionNamespaceSpec(ns), { parent: this }).metadata.name]),
        );
        this.byName = {
            ...Object.fromEntries((Object.keys(names) as (keyof NamespaceNames)[]).map((key) => [names[key], this.names[key]])),
            ...this.ownFunctionNamespaces,
        };
        this.registerOutputs({ names: this.names, ownFunctionNamespaces: this.ownFunctionNamespaces });
    }
}
