/**
 * Image references and the "image is pinned" rule: one home, used by the policy pack and by the
 * program's config checks.
 *
 * The grammar is distribution/reference's, the one containerd and the kubelet parse `image:` with.
 * No npm package of it is well kept (the few there are have had a handful of releases and no
 * maintenance in years), so it is written here, one function per rule of the grammar:
 *
 *     reference  := name [ ":" tag ] [ "@" digest ]
 *     name       := [ domain "/" ] path-component ( "/" path-component )*     (at most 255 characters)
 *     domain     := ( domain-component ( "." domain-component )* | "[" ipv6 "]" ) [ ":" port ]
 *     path-component := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
 *     tag        := [\w][\w.-]{0,127}
 *     digest     := "sha256:" 64 hex | "sha384:" 96 hex | "sha512:" 128 hex        (lower case)
 *
 * The first component is a domain when it has a "." or ":", is "localhost", or has an upper-case
 * letter (as docker's normalisation decides); otherwise the image is on Docker Hub.
 */

/** An image reference taken apart. */
export interface ImageReference {
    /** Registry host[:port], undefined for Docker Hub. */
    readonly domain?: string;
    /** Repository path within the registry. */
    readonly path: string;
    readonly tag?: string;
    /** `algorithm:hex`. */
    readonly digest?: string;
}

const NAME_MAX = 255;
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const DOMAIN_COMPONENT = /^[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?$/;
const IPV6 = /^\[[a-fA-F0-9:]+\]$/;
const PORT = /^[0-9]+$/;
const TAG = /^\w[\w.-]{0,127}$/;
/** The digests go-digest can verify, by algorithm: the hex length. */
const DIGEST_HEX = { sha256: 64, sha384: 96, sha512: 128 } as const;

/** Pure: a quoted part of the reference for a message, short whatever the input. */
const q = (s: string) => JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s);

function digestProblem(digest: string): string | undefined {
    const colon = digest.indexOf(":");
    const algorithm = digest.slice(0, colon) as keyof typeof DIGEST_HEX;
    const hex = digest.slice(colon + 1);
    const length = Object.prototype.hasOwnProperty.call(DIGEST_HEX, algorithm) ? DIGEST_HEX[algorithm] : undefined;
    if (colon < 0 || length === undefined) return `digest ${q(digest)} is not sha256:, sha384: or sha512: followed by its hex digits`;
    if (hex.length !== length || !/^[a-f0-9]+$/.test(hex)) return `digest ${q(digest)}: ${algorithm} takes exactly ${length} lower-case hex digits`;
    return undefined;
}

function domainProblem(domain: string): string | undefined {
    const m = /^(\[[^\]]*\]|[^:]*)(?::(.*))?$/.exec(domain)!;
    const [, host, port] = m;
    if (port !== undefined && !PORT.test(port)) return `registry ${q(domain)}: the port ${q(port)} is not a number`;
    if (IPV6.test(host!)) return undefined;
    if (host!.split(".").every((c) => DOMAIN_COMPONENT.test(c))) return undefined;
    return `registry ${q(domain)} is not a host name (letters, digits and - between dots), [IPv6] address, optionally with :port`;
}

/** Pure: the parts of an image reference, or why it is not one (without echoing the whole reference: the caller names it). */
export function parseImageReference(ref: string): { reference: ImageReference } | { problem: string } {
    const at = ref.indexOf("@");
    const named = at < 0 ? ref : ref.slice(0, at);
    const digest = at < 0 ? undefined : ref.slice(at + 1);
    if (digest !== undefined) {
        const bad = digestProblem(digest);
        if (bad) return { problem: bad };
    }
    const lastSlash = named.lastIndexOf("/");
    const colon = named.indexOf(":", lastSlash + 1);
    const name = colon < 0 ? named : named.slice(0, colon);
    const tag = colon < 0 ? undefined : named.slice(colon + 1);
    if (tag !== undefined && !TAG.test(tag)) return { problem: `tag ${q(tag)} is not 1 to 128 letters, digits, _ . and - (not starting with . or -)` };
    if (name === "") return { problem: "has no repository name" };
    if (name.length > NAME_MAX) return { problem: `the repository name is ${name.length} characters long; at most ${NAME_MAX}` };

    const parts = name.split("/");
    const first = parts[0]!;
    const hasDomain = parts.length > 1 && (/[.:]/.test(first) || first === "localhost" || first !== first.toLowerCase());
    if (hasDomain) {
        const bad = domainProblem(first);
        if (bad) return { problem: bad };
    }
    const path = hasDomain ? parts.slice(1) : parts;
    const badComponent = path.find((c) => !PATH_COMPONENT.test(c));
    if (badComponent !== undefined) {
        return { problem: `${q(badComponent)} is not a repository path component: lower-case letters and digits, separated by ., _, __ or -` };
    }
    return { reference: { ...(hasDomain ? { domain: first } : {}), path: path.join("/"), ...(tag === undefined ? {} : { tag }), ...(digest === undefined ? {} : { digest }) } };
}

/** Pure: why `image` is not an image reference the kubelet can pull, or undefined. */
export function imageReferenceProblem(image: string): string | undefined {
    const parsed = parseImageReference(image);
    return "problem" in parsed ? `is not a valid image reference: ${parsed.problem}` : undefined;
}

/** Pure: why an image reference is not pinned (or not a reference at all), or undefined when it has a digest or a tag other than latest. */
export function imageProblem(image: string): string | undefined {
    const parsed = parseImageReference(image);
    if ("problem" in parsed) return `is not a valid image reference: ${parsed.problem}`;
    const { tag, digest } = parsed.reference;
    if (digest !== undefined) return undefined;
    if (tag === undefined) return "has no tag, so every pull may bring a different image";
    if (tag === "latest") return "uses the tag latest, so every pull may bring a different image";
    return undefined;
}
