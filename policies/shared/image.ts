/** The "image is pinned" rule: one home, used by the policy pack and by the program's config checks. */

/** Pure: why an image reference is not pinned, or undefined when it has a tag other than latest or a digest. */
export function imageProblem(image: string): string | undefined {
    if (/@sha256:[0-9a-f]{64}$/.test(image)) return undefined;
    const last = image.slice(image.lastIndexOf("/") + 1);
    const tag = last.includes(":") ? last.slice(last.indexOf(":") + 1) : undefined;
    if (tag === undefined) return "has no tag, so every pull may bring a different image";
    if (tag === "latest") return "uses the tag latest, so every pull may bring a different image";
    return undefined;
}
