/**
 * Flux facts that the stack config (config/flux.ts) checks and the Flux component (components/flux/)
 * builds from: notification kinds, git URL forms, the image-automation setter marker.
 */
import type * as pulumi from "@pulumi/pulumi";

export const NOTIFICATION_TYPES = ["slack", "msteams", "discord", "generic", "github"] as const;
export type NotificationType = (typeof NOTIFICATION_TYPES)[number];

/** One Provider + Alert pair. */
export interface FluxNotification {
    /** Name of the Provider and the Alert (DNS-1123 label). */
    readonly name: string;
    readonly type: NotificationType;
    /** Slack channel, e.g. "#ops". @default the webhook's own channel */
    readonly channel?: string;
    /** "error" sends failures only. @default "info" (everything) */
    readonly severity?: "info" | "error";
    /** The webhook URL, or for `github` a token that may set commit statuses. */
    readonly secret: pulumi.Input<string>;
}

/**
 * Pure: the https address of a GitHub repository from its git URL (what a `github` Provider wants),
 * or undefined when the URL is not on github.com.
 */
export function githubRepositoryAddress(url: string): string | undefined {
    const m = /^(?:ssh:\/\/)?(?:[\w.-]+@)?github\.com[:/]([\w.-]+)\/([\w.-]+?)(?:\.git)?\/?$/.exec(url.replace(/^https:\/\//, ""));
    return m ? `https://github.com/${m[1]}/${m[2]}` : undefined;
}

/**
 * Pure: the setter marker Flux's image-automation-controller looks for at the end of a YAML line,
 * `image: <ref> # {"$imagepolicy": "<namespace>:<policy>"}` (fluxcd.io image-update guide); it rewrites
 * the whole reference on that line to the policy's latest image.
 */
export function setterMarker(namespace: string, policy: string): string {
    return `# {"$imagepolicy": "${namespace}:${policy}"}`;
}
