import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { ACTIVE_KEY_LABEL } from "../model/sealing-key";
import { SealedSecret } from "../sealing/sealed-secret";
import { ChartSource } from "../model/charts";
import { chartArgs, withoutCrds } from "./charts";

/** @internal Controller name kubeseal looks for by default, so `kubeseal --controller-namespace <ns>` just works. */
export const CONTROLLER_NAME = "sealed-secrets-controller";
/** @internal Name of the Secret holding the sealing key; fixed so export/import and DR can find it. */
export const KEY_SECRET_NAME = "sealed-secrets-key";

/** Arguments for {@link SealedSecrets}. */
export interface SealedSecretsArgs {
    /** Namespace of the controller and its key. */
    readonly namespace: pulumi.Input<string>;
    /** Where the sealed-secrets chart comes from. */
    readonly chart: ChartSource;
    /**
     * Bring-your-own sealing key pair (PEM), e.g. exported from a cluster that predates this stack.
     * @default generated: RSA 4096 with a self-signed certificate, kept in Pulumi state
     */
    readonly key?: { readonly privateKeyPem: pulumi.Input<string>; readonly certPem: pulumi.Input<string> };
    /** Validity of the generated certificate. @default 3650 */
    readonly certValidityDays?: number;
    /** Committed SealedSecrets to apply once the controller (and its CRD) is installed. @default [] */
    readonly manifests?: readonly SealedSecret[];
    /**
     * Namespaces the program declares, by name, as outputs of their Namespace resources: a SealedSecret
     * targeting one of them takes its namespace from the output, so it waits for the Namespace too.
     * @default {} (SealedSecrets then depend on the controller chart only)
     */
    readonly namespaces?: Readonly<Record<string, pulumi.Input<string>>>;
}

/**
 * @internal Pure: chart values. Key renewal is off because the key in Pulumi state IS the disaster-recovery
 * backup; a controller-rotated key would exist only in the cluster and be lost with it.
 */
export function sealedSecretsValues(): Record<string, unknown> {
    return {
        fullnameOverride: CONTROLLER_NAME,
        keyrenewperiod: "0",
    };
}

/** @internal Pure: the `kubernetes.io/tls` Secret the controller adopts as its active key. */
export function sealingKeySecretSpec(
    namespace: pulumi.Input<string>,
    privateKeyPem: pulumi.Input<string>,
    certPem: pulumi.Input<string>,
): k8s.types.input.core.v1.Secret {
    return {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: KEY_SECRET_NAME, namespace, labels: { ...ACTIVE_KEY_LABEL } },
        type: "kubernetes.io/tls",
        stringData: { "tls.crt": certPem, "tls.key": privateKeyPem },
    };
}

/**
 * The sealed-secrets controller with a sealing key that lives in Pulumi state, installed before the
 * controller starts so it never generates one of its own: a cluster rebuilt from the same stack
 * decrypts every SealedSecret already committed to git.
 */
export class SealedSecrets extends pulumi.ComponentResource {
    /** The sealing certificate (public): what `npm run seal` and kubeseal encrypt with. */
    public readonly certPem: pulumi.Output<string>;

    constructor(name: string, args: SealedSecretsArgs, opts?: pulumi.ComponentResourceOptions) {
        // The private key is left out: it belongs to the key Secret below (as a secret) and nowhere else in state.
        super("openfaas-gitops:platform:SealedSecrets", name, { ...args, key: args.key && { certPem: args.key.certPem } }, opts);

        let keyPem: pulumi.Input<string>;
        let certPem: pulumi.Input<string>;
        if (args.key) {
            keyPem = pulumi.secret(args.key.privateKeyPem);
            certPem = args.key.certPem;
        } else {
            const key = new tls.PrivateKey(`${name}-key`, { algorithm: "RSA", rsaBits: 4096 }, { parent: this });
            const cert = new tls.SelfSignedCert(
                `${name}-cert`,
                {
                    privateKeyPem: key.privateKeyPem,
                    // The same subject the controller puts on keys it generates itself.
                    subject: { commonName: "sealed-secret", organization: "sealed-secret" },
                    validityPeriodHours: (args.certValidityDays ?? 3650) * 24,
                    allowedUses: ["key_encipherment", "digital_signature", "cert_signing"],
                    isCaCertificate: true,
                },
                { parent: this },
            );
            keyPem = key.privateKeyPem;
            certPem = cert.certPem;
        }

        const secret = new k8s.core.v1.Secret(`${name}-key`, sealingKeySecretSpec(args.namespace, keyPem, certPem), {
            parent: this,
        });
        const chart = new k8s.helm.v4.Chart(
            `${name}-chart`,
            { ...chartArgs("sealed-secrets", args.chart), namespace: args.namespace, values: withoutCrds("sealed-secrets", sealedSecretsValues()) },
            { parent: this, dependsOn: [secret] },
        );
        for (const m of args.manifests ?? []) {
            const namespace = (m.metadata.namespace && args.namespaces?.[m.metadata.namespace]) || m.metadata.namespace;
            new k8s.apiextensions.CustomResource(
                `${name}-${m.metadata.namespace}-${m.metadata.name}`,
                { ...m, metadata: { ...m.metadata, namespace } },
                { parent: this, dependsOn: [chart] },
            );
        }

        this.certPem = pulumi.output(certPem);
        this.registerOutputs({ certPem: this.certPem });
    }
}
