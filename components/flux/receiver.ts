import * as crypto from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { FLUX_API, FLUX_LABELS, FLUX_SOURCE_NAME } from "./shared";

const RECEIVER_NAME = "github-push";
/** notification-controller's receiver Service in the flux2 chart (templates/notification-controller-webhook-service.yaml). */
const RECEIVER_SERVICE = "webhook-receiver";

/** @internal Pure: the Receiver that turns a GitHub push (or ping) into an immediate fetch of the GitRepository. */
export function receiverSpec(namespace: string, tokenSecret: string) {
    return {
        apiVersion: FLUX_API.notification,
        kind: "Receiver" as const,
        metadata: { name: RECEIVER_NAME, namespace, labels: FLUX_LABELS },
        spec: {
            type: "github",
            events: ["ping", "push"],
            secretRef: { name: tokenSecret },
            resources: [{ apiVersion: FLUX_API.source, kind: "GitRepository", name: FLUX_SOURCE_NAME }],
        },
    };
}

/**
 * @internal Pure: the path notification-controller serves a Receiver on (its `status.webhookPath`):
 * `/hook/` + hex sha256 of token + name + namespace, so the URL is known before the controller runs.
 */
export function receiverPath(token: string, namespace: string, name = RECEIVER_NAME): string {
    return `/hook/${crypto.createHash("sha256").update(token + name + namespace).digest("hex")}`;
}

/** @internal Pure: the Ingress that lets GitHub reach only the receiver paths, through Contour. */
export function receiverIngressSpec(namespace: string, host: string, ingressClass: pulumi.Input<string>, tlsIssuer?: pulumi.Input<string>) {
    return {
        apiVersion: "networking.k8s.io/v1" as const,
        kind: "Ingress" as const,
        metadata: { name: "flux-webhook-receiver", namespace, labels: FLUX_LABELS, ...(tlsIssuer ? { annotations: { "cert-manager.io/cluster-issuer": tlsIssuer } } : {}) },
        spec: {
            ingressClassName: ingressClass,
            rules: [{ host, http: { paths: [{ path: "/hook/", pathType: "Prefix", backend: { service: { name: RECEIVER_SERVICE, port: { name: "http" } } } }] } }],
            ...(tlsIssuer ? { tls: [{ hosts: [host], secretName: "flux-webhook-receiver-tls" }] } : {}),
        },
    };
}
