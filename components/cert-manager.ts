import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ChartSource } from "../model/charts";
import { ACME_SERVERS, AcmeIssuerName } from "../policies/shared/acme";
import { chartArgs, withoutCrds } from "./charts";

/** Arguments for {@link CertManager}. */
export interface CertManagerArgs {
    /** Namespace of cert-manager. */
    readonly namespace: pulumi.Input<string>;
    /** Where the cert-manager chart comes from. */
    readonly chart: ChartSource;
    /** ClusterIssuer to create; none when undefined (TLS off). @default undefined */
    readonly issuer?: AcmeIssuerName;
    /** ACME account e-mail; required with `issuer`. */
    readonly acmeEmail?: string;
    /** IngressClass the http01 solver answers challenges through (Contour's `ingressClass` output). */
    readonly ingressClass: pulumi.Input<string>;
}

/** @internal Pure: an ACME v2 ClusterIssuer solving http01 through the given IngressClass. */
export function clusterIssuerSpec(issuer: AcmeIssuerName, email: string, ingressClass: pulumi.Input<string>) {
    return {
        apiVersion: "cert-manager.io/v1",
        kind: "ClusterIssuer",
        metadata: { name: issuer },
        spec: {
            acme: {
                email,
                server: ACME_SERVERS[issuer],
                privateKeySecretRef: { name: `${issuer}-account-key` },
                solvers: [{ http01: { ingress: { ingressClassName: ingressClass } } }],
            },
        },
    };
}

/** cert-manager and, with TLS on, the Let's Encrypt ClusterIssuer the gateway ingress names. */
export class CertManager extends pulumi.ComponentResource {
    /** Name of the ClusterIssuer, or undefined when TLS is off; resolves once the ClusterIssuer exists. */
    public readonly issuerName: pulumi.Output<string | undefined>;

    constructor(name: string, args: CertManagerArgs, opts?: pulumi.ComponentResourceOptions) {
        // The ingress class resolves after Contour's chart (components/contour.ts): not recorded.
        super("openfaas-gitops:platform:CertManager", name, { ...args, ingressClass: undefined }, opts);
        if (args.issuer && !args.acmeEmail) {
            throw new pulumi.ResourceError(`CertManager ${name}: acmeEmail is required with issuer ${args.issuer} (Let's Encrypt needs an account e-mail)`, this);
        }
        const chart = new k8s.helm.v4.Chart(
            `${name}-chart`,
            { ...chartArgs("cert-manager", args.chart), namespace: args.namespace, values: withoutCrds("cert-manager", {}) },
            { parent: this },
        );
        if (args.issuer) {
            // After the chart: the CRD step put the ClusterIssuer kind in, and cert-manager's webhook, which the chart runs, admits it.
            const issuer = new k8s.apiextensions.CustomResource(
                `${name}-${args.issuer}`,
                clusterIssuerSpec(args.issuer, args.acmeEmail!, args.ingressClass),
                { parent: this, dependsOn: [chart] },
            );
            this.issuerName = issuer.metadata.name;
        } else {
            this.issuerName = pulumi.output(undefined);
        }
        this.registerOutputs({ issuerName: this.issuerName });
    }
}
