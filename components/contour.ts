import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ChartSource } from "../model/charts";
import { chartArgs, withoutCrds } from "./charts";

/** IngressClass that the gateway ingress and cert-manager's http01 solver route through. */
const INGRESS_CLASS = "contour";

/** Arguments for {@link Contour}. */
export interface ContourArgs {
    /** Namespace of Contour and Envoy. */
    readonly namespace: pulumi.Input<string>;
    /** Where the contour chart comes from. */
    readonly chart: ChartSource;
    /** Envoy Service type: LoadBalancer in clouds, NodePort on bare metal. @default "LoadBalancer" */
    readonly serviceType?: "LoadBalancer" | "NodePort";
    /** Fixed node port for HTTP (NodePort only). @default assigned by Kubernetes */
    readonly httpNodePort?: number;
    /** Fixed node port for HTTPS (NodePort only). @default assigned by Kubernetes */
    readonly httpsNodePort?: number;
}

/** @internal Pure: chart values. */
export function contourValues(args: Omit<ContourArgs, "namespace" | "chart">): Record<string, unknown> {
    const nodePorts: Record<string, string> = {};
    if (args.httpNodePort !== undefined) nodePorts.http = String(args.httpNodePort);
    if (args.httpsNodePort !== undefined) nodePorts.https = String(args.httpsNodePort);
    return {
        contour: { ingressClass: { name: INGRESS_CLASS, create: true, default: false } },
        envoy: {
            service: {
                type: args.serviceType ?? "LoadBalancer",
                ...(Object.keys(nodePorts).length > 0 ? { nodePorts } : {}),
            },
        },
    };
}

/** Contour ingress controller with its Envoy proxies. */
export class Contour extends pulumi.ComponentResource {
    /** IngressClass name to put on Ingress objects. */
    public readonly ingressClass: pulumi.Output<string>;

    constructor(name: string, args: ContourArgs, opts?: pulumi.ComponentResourceOptions) {
        super("openfaas-gitops:platform:Contour", name, args, opts);
        const chart = new k8s.helm.v4.Chart(
            `${name}-chart`,
            { ...chartArgs("contour", args.chart), namespace: args.namespace, values: withoutCrds("contour", contourValues(args)) },
            { parent: this },
        );
        // Resolved once the chart (which creates the IngressClass) is in: an Ingress naming it waits for it.
        // Components pass it on to their Ingresses but leave it out of their own recorded inputs: a
        // component registers only once those resolve, and its children wait for it, so the whole
        // chart of a component recording it would wait for Contour's (each chart's first install
        // awaits its Services, about 10 s; the first up ran them one after another).
        this.ingressClass = chart.resources.apply(() => INGRESS_CLASS);
        this.registerOutputs({ ingressClass: this.ingressClass });
    }
}
