import { isSshUrl } from "../../model/git";
import type { FluxArgs } from "./flux";
import { FLUX_API, FLUX_LABELS, FLUX_SOURCE_NAME } from "./shared";

/**
 * @internal Pure: the URL as source-controller wants it. It takes only `ssh://` for ssh, so the scp-like
 * `git@github.com:org/repo.git` that git (and the agent) accept becomes `ssh://git@github.com/org/repo.git`.
 */
export function fluxGitUrl(url: string): string {
    const scp = /^([\w.-]+@[\w.-]+):(?!\/\/)(.+)$/.exec(url);
    return scp && !url.startsWith("ssh://") ? `ssh://${scp[1]}/${scp[2]!.replace(/^\//, "")}` : url;
}

/** @internal Pure: the GitRepository that follows this program's repository. */
export function gitRepositorySpec(namespace: string, a: Pick<FluxArgs, "repoUrl" | "branch" | "interval">) {
    return {
        apiVersion: FLUX_API.source,
        kind: "GitRepository" as const,
        metadata: { name: FLUX_SOURCE_NAME, namespace, labels: FLUX_LABELS },
        spec: {
            url: fluxGitUrl(a.repoUrl),
            ref: { branch: a.branch ?? "main" },
            interval: a.interval ?? "1m",
            ...(isSshUrl(a.repoUrl) ? { secretRef: { name: FLUX_SOURCE_NAME } } : {}),
        },
    };
}
