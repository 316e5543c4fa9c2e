import { FluxNotification, githubRepositoryAddress, NotificationType } from "../../model/flux";
import { FLUX_API, FLUX_LABELS } from "./shared";

/** The kinds whose events the Alerts forward: the Flux objects this component declares. */
const ALERT_EVENT_SOURCES = ["GitRepository", "ImageRepository", "ImagePolicy", "ImageUpdateAutomation"] as const;

/** @internal Pure: the Secret key a Provider reads its credential from: a token for commit statuses, else the webhook address. */
export function notificationSecretKey(type: NotificationType): "token" | "address" {
    return type === "github" ? "token" : "address";
}

/** @internal Pure: a Provider; the credential stays in the Secret named after it. */
export function providerSpec(namespace: string, n: Omit<FluxNotification, "secret">, repoUrl: string) {
    const address = n.type === "github" ? githubRepositoryAddress(repoUrl) : undefined;
    if (n.type === "github" && !address) throw new Error(`notification ${n.name}: GitHub commit status needs a github.com repository, not ${repoUrl}`);
    return {
        apiVersion: FLUX_API.notificationProvider,
        kind: "Provider" as const,
        metadata: { name: n.name, namespace, labels: FLUX_LABELS },
        spec: {
            type: n.type,
            ...(n.channel ? { channel: n.channel } : {}),
            ...(address ? { address } : {}),
            secretRef: { name: `notify-${n.name}` },
        },
    };
}

/** @internal Pure: the Alert that sends the events of every Flux object here to a Provider. */
export function alertSpec(namespace: string, n: Pick<FluxNotification, "name" | "severity">) {
    return {
        apiVersion: FLUX_API.notificationProvider,
        kind: "Alert" as const,
        metadata: { name: n.name, namespace, labels: FLUX_LABELS },
        spec: {
            providerRef: { name: n.name },
            eventSeverity: n.severity ?? "info",
            eventSources: ALERT_EVENT_SOURCES.map((kind) => ({ kind, name: "*" })),
        },
    };
}
