import type { AutomatedImage } from "./flux";
import { FLUX_API, FLUX_LABELS, FLUX_SOURCE_NAME } from "./shared";

/** How often the image objects scan registries and the automation looks for new tags to commit. */
const IMAGE_SCAN_INTERVAL = "5m";
/** Author of the tag commits (Flux's documented bot identity). */
const IMAGE_COMMIT_AUTHOR = { name: "fluxcdbot", email: "fluxcdbot@users.noreply.github.com" };

/** @internal Pure: the repository part of an image reference (tag and digest dropped), what an ImageRepository scans. */
export function imageRepository(image: string): string {
    const noDigest = image.split("@")[0]!;
    const slash = noDigest.lastIndexOf("/");
    const colon = noDigest.lastIndexOf(":");
    return colon > slash ? noDigest.slice(0, colon) : noDigest;
}

/** @internal Pure: the ImageRepository that lists an image's tags. */
export function imageRepositorySpec(namespace: string, img: Pick<AutomatedImage, "name" | "image">) {
    return {
        apiVersion: FLUX_API.image,
        kind: "ImageRepository" as const,
        metadata: { name: img.name, namespace, labels: FLUX_LABELS },
        spec: { image: imageRepository(img.image), interval: IMAGE_SCAN_INTERVAL },
    };
}

/** @internal Pure: the ImagePolicy that picks the latest allowed tag. */
export function imagePolicySpec(namespace: string, img: Pick<AutomatedImage, "name" | "policy">) {
    const p = img.policy;
    return {
        apiVersion: FLUX_API.image,
        kind: "ImagePolicy" as const,
        metadata: { name: img.name, namespace, labels: FLUX_LABELS },
        spec: {
            imageRepositoryRef: { name: img.name },
            ...("semver" in p
                ? { policy: { semver: { range: p.semver } } }
                : {
                      filterTags: { pattern: p.pattern, ...(p.extract ? { extract: p.extract } : {}) },
                      policy: { [p.order]: { order: "asc" } },
                  }),
        },
    };
}

/** @internal Pure: the one ImageUpdateAutomation: checks out the branch, rewrites the marked lines under `path`, pushes to the same branch. */
export function imageUpdateAutomationSpec(namespace: string, a: { branch?: string; path: string }) {
    const branch = a.branch ?? "main";
    return {
        apiVersion: FLUX_API.image,
        kind: "ImageUpdateAutomation" as const,
        metadata: { name: FLUX_SOURCE_NAME, namespace, labels: FLUX_LABELS },
        spec: {
            interval: IMAGE_SCAN_INTERVAL,
            sourceRef: { kind: "GitRepository", name: FLUX_SOURCE_NAME },
            git: {
                checkout: { ref: { branch } },
                commit: { author: IMAGE_COMMIT_AUTHOR },
                push: { branch },
            },
            update: { path: a.path, strategy: "Setters" },
        },
    };
}
