/** The platform's fixed names: written once here, imported by config, components and the sealing tools. */

/** Names of the platform's namespaces. */
export interface NamespaceNames {
    /** Gateway and core services. @default "openfaas" */
    readonly core: string;
    /** Where functions run. @default "openfaas-fn" */
    readonly functions: string;
    /** Contour and Envoy. @default "contour" */
    readonly contour: string;
    /** cert-manager. @default "cert-manager" */
    readonly certManager: string;
    /** The sealed-secrets controller and its sealing key. @default "sealed-secrets" */
    readonly sealedSecrets: string;
}

export const DEFAULT_NAMESPACES: NamespaceNames = {
    core: "openfaas",
    functions: "openfaas-fn",
    contour: "contour",
    certManager: "cert-manager",
    sealedSecrets: "sealed-secrets",
};

/** Namespaces a function may not use: the platform's own and Kubernetes'. */
export const RESERVED_NAMESPACES: ReadonlySet<string> = new Set([
    DEFAULT_NAMESPACES.core, DEFAULT_NAMESPACES.contour, DEFAULT_NAMESPACES.certManager, DEFAULT_NAMESPACES.sealedSecrets,
    "kube-system", "kube-public", "kube-node-lease",
]);

/** Secret the openfaas chart mounts into every core component, in the core namespace. */
export const BASIC_AUTH_SECRET = "basic-auth";
/** Keys of {@link BASIC_AUTH_SECRET}, as the gateway and faas-cli read them. */
export const BASIC_AUTH_KEYS = { user: "basic-auth-user", password: "basic-auth-password" } as const;
