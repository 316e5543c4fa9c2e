/**
 * The decisions of pull-request previews (issue 22), pure so the tests assert them without GitHub or
 * an engine: which pull requests may be previewed, which previews start or stop now, the commit
 * status a preview's result gives, and the comment it posts.
 *
 * A preview runs the pull request's program, which is untrusted until merged, and the comment is
 * written from what that program and the engine printed. So:
 * - a pull request from a fork is never previewed, whoever opened it;
 * - a secret value never reaches the comment, in any of the forms it may be printed in;
 * - the program's text cannot end the code block it is quoted in, so it cannot mention people, link
 *   images or post markup under the agent's name.
 */
import type { PolicyViolation } from "./engine";

/** A pull request as the agent sees it (agent/github.ts reads them). */
export interface PullRequestRef {
    readonly number: number;
    readonly headSha: string;
    /** `owner/name` of the head's repository: another one is a fork. */
    readonly headRepository: string;
    readonly baseRef: string;
    readonly author: string;
    readonly labels: readonly string[];
}

export interface PreviewPolicy {
    /** `owner/name` of the repository the agent follows. */
    readonly repository: string;
    /** The branch the agent applies: only pull requests into it are previewed. */
    readonly branch: string;
    /** Preview pull requests whose author may write to the repository. */
    readonly writers: boolean;
    /** Preview pull requests that carry this label (a maintainer adds it after reading the change). */
    readonly label?: string;
}

/**
 * Pure: whether `pr` may be previewed, or why not. `authorCanWrite` is asked of GitHub only when
 * the policy allows writers and nothing else has decided.
 */
export function previewable(pr: PullRequestRef, policy: PreviewPolicy, authorCanWrite: () => boolean): { readonly ok: true } | { readonly ok: false; readonly why: string } {
    if (pr.headRepository.toLowerCase() !== policy.repository.toLowerCase()) return { ok: false, why: `its head is in ${pr.headRepository}, a fork: a fork's pull request is never previewed` };
    if (pr.baseRef !== policy.branch) return { ok: false, why: `it is against ${pr.baseRef}, not ${policy.branch}` };
    if (policy.label !== undefined && pr.labels.includes(policy.label)) return { ok: true };
    if (policy.writers && authorCanWrite()) return { ok: true };
    const ways = [policy.writers ? `its author (${pr.author}) has no write access` : undefined, policy.label !== undefined ? `it has no label ${policy.label}` : undefined].filter(Boolean);
    return { ok: false, why: ways.length > 0 ? ways.join(" and ") : "previews allow neither writers nor a label" };
}

/** What runs now and what was previewed: the head of each pull request. */
export interface PreviewState {
    readonly running: ReadonlyMap<number, string>;
    readonly previewed: ReadonlyMap<number, string>;
}

/** What to do now: previews to start (the newest heads) and running ones to stop. */
export interface PreviewPlan {
    readonly start: readonly PullRequestRef[];
    /** Pull requests whose running preview is of an old head, or that are closed or no longer previewable. */
    readonly cancel: readonly number[];
}

/**
 * Pure: the previews to start and stop, given the previewable pull requests now. A head is
 * previewed once; a newer head stops the preview of the old one; at most `parallel` run; none
 * starts while an apply runs or waits (an apply waits at most for the previews already running).
 * Pull requests are taken oldest first, so a busy repository cannot starve one.
 */
export function planPreviews(open: readonly PullRequestRef[], state: PreviewState, applyPending: boolean, parallel: number): PreviewPlan {
    const byNumber = new Map(open.map((pr) => [pr.number, pr]));
    const cancel = [...state.running].filter(([n, head]) => byNumber.get(n)?.headSha !== head).map(([n]) => n);
    if (applyPending) return { start: [], cancel };
    const stillRunning = state.running.size - cancel.length;
    const due = [...open]
        .sort((a, b) => a.number - b.number)
        .filter((pr) => state.previewed.get(pr.number) !== pr.headSha && state.running.get(pr.number) !== pr.headSha);
    return { start: due.slice(0, Math.max(0, parallel - stillRunning)), cancel };
}

export type PreviewResult =
    | { readonly ok: true; readonly changes: Readonly<Record<string, number>>; readonly changed: readonly string[]; readonly violations: readonly PolicyViolation[] }
    | { readonly ok: false; readonly error: string; readonly violations: readonly PolicyViolation[] };

/** Pure: the commit status of a preview: green only when it ran and no mandatory policy failed. */
export function previewStatus(result: PreviewResult): { readonly state: "success" | "failure"; readonly description: string } {
    const mandatory = result.violations.filter((v) => v.level === "mandatory");
    if (!result.ok) return { state: "failure", description: "the preview failed; the comment has the error" };
    if (mandatory.length > 0) return { state: "failure", description: `${mandatory.length} mandatory policy violation(s): ${[...new Set(mandatory.map((v) => v.policy))].join(", ")}`.slice(0, 140) };
    const n = Object.entries(result.changes).filter(([op]) => op !== "same").reduce((sum, [, k]) => sum + k, 0);
    return { state: "success", description: n === 0 ? "no changes" : `${n} change(s), policies pass` };
}

/** The marker that finds the comment of `stack` again, to edit it in place. */
export function commentMarker(stack: string): string {
    return `<!-- openfaas-gitops-preview:${stack} -->`;
}

/** Changed resources listed by name in a comment; the rest are counted. */
export const MAX_LISTED = 50;
/** The most characters of an error quoted in a comment (GitHub takes 65536 in all). */
export const MAX_ERROR = 20_000;

/**
 * Pure: the base64 text of `secret` wherever it sits in a longer base64 text (a Secret's data, a
 * kubeconfig): for each of the three alignments, the characters that depend on the secret's bytes
 * alone.
 */
export function base64Forms(secret: string): string[] {
    const bytes = Buffer.from(secret);
    const forms: string[] = [];
    for (let k = 0; k < 3; k++) {
        const text = Buffer.concat([Buffer.alloc(k), bytes, Buffer.alloc(2)]).toString("base64");
        const form = text.slice(Math.ceil((8 * k) / 6), Math.floor((8 * (k + bytes.length)) / 6));
        if (form.length >= MIN_SECRET_LENGTH) forms.push(form);
    }
    return forms;
}

/** The forms a secret value may be printed in: as it is, JSON-escaped, URL-encoded, and in base64. */
function printedForms(secret: string): string[] {
    return [...new Set([secret, JSON.stringify(secret).slice(1, -1), encodeURIComponent(secret), ...base64Forms(secret)])];
}

/** Values shorter than this are not scrubbed: "1" or "true" would blank half the comment, and are no secret. */
export const MIN_SECRET_LENGTH = 4;

/**
 * Pure: `text` with every printed form of every secret replaced by `[secret]`. Pulumi masks the
 * secrets it knows; this also catches one the program printed itself, or re-encoded. Matches are
 * found in the text as given and overlapping ones merged, so no part of one survives beside another.
 */
export function scrub(text: string, secrets: readonly string[]): string {
    const forms = [...new Set(secrets.filter((s) => s.length >= MIN_SECRET_LENGTH).flatMap(printedForms))];
    const spans: [number, number][] = [];
    for (const form of forms) {
        for (let i = text.indexOf(form); i !== -1; i = text.indexOf(form, i + 1)) spans.push([i, i + form.length]);
    }
    if (spans.length === 0) return text;
    spans.sort((a, b) => a[0] - b[0]);
    let out = "";
    let at = 0;
    let [start, end] = spans[0]!;
    for (const [s, e] of spans.slice(1)) {
        if (s <= end) end = Math.max(end, e);
        else {
            out += `${text.slice(at, start)}[secret]`;
            at = end;
            [start, end] = [s, e];
        }
    }
    return `${out}${text.slice(at, start)}[secret]${text.slice(end)}`;
}

/** Pure: `text` in a fenced code block whose fence is longer than any run of backticks in it, so it cannot close it. */
export function fenced(text: string): string {
    const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
    const fence = "`".repeat(Math.max(3, longest + 1));
    return `${fence}text\n${text}\n${fence}`;
}

export interface PreviewComment {
    readonly stack: string;
    /** The head commit previewed. */
    readonly revision: string;
    readonly result: PreviewResult;
    /** The agent's status page, linked from the comment. */
    readonly statusUrl?: string;
    /** A newer head has been pushed since: this preview is kept, marked as outdated, until the new one is posted. */
    readonly outdated?: boolean;
    /** The stack's secret values (decrypted config): never posted. */
    readonly secrets: readonly string[];
}

/**
 * Pure: the comment's body. Everything the program or the engine wrote (resource names, policy
 * messages, an error) is scrubbed and quoted in code blocks; only the agent's own words are markup.
 */
export function previewCommentBody(c: PreviewComment): string {
    const status = previewStatus(c.result);
    const quote = (text: string) => fenced(scrub(text, c.secrets));
    const lines = [
        commentMarker(c.stack),
        `### Preview of stack \`${c.stack.replace(/`/g, "")}\` at \`${c.revision.slice(0, 12).replace(/[^0-9a-f]/gi, "")}\`: ${status.state === "success" ? "passes" : "fails"}`,
    ];
    if (c.outdated) lines.push("", "_Outdated: a newer commit has been pushed; its preview replaces this one._");
    if (c.result.ok) {
        const counts = Object.entries(c.result.changes).filter(([op, n]) => op !== "same" && n > 0).map(([op, n]) => `${n} to ${op}`);
        lines.push("", counts.length > 0 ? `Changes: ${counts.join(", ")}.` : "No changes.");
        if (c.result.changed.length > 0) {
            const listed = c.result.changed.slice(0, MAX_LISTED).join("\n");
            const more = c.result.changed.length - MAX_LISTED;
            lines.push("", quote(more > 0 ? `${listed}\n... and ${more} more` : listed));
        }
    } else {
        const error = c.result.error.length > MAX_ERROR ? `${c.result.error.slice(0, MAX_ERROR)}\n[... cut; the agent's log has the whole text ...]` : c.result.error;
        lines.push("", "The preview failed:", "", quote(error));
    }
    if (c.result.violations.length > 0) {
        const text = c.result.violations.map((v) => `[${v.level}] ${v.policy}${v.resource ? ` (${v.resource})` : ""}: ${v.message}`).join("\n");
        lines.push("", "Policy results:", "", quote(text));
    } else if (c.result.ok) {
        lines.push("", "Every policy passes.");
    }
    // The URL is the agent's own setting; encoded, so it stays one link whatever it holds.
    if (c.statusUrl) lines.push("", `[The agent's status](${encodeURI(c.statusUrl).replace(/[()]/g, (ch) => `%${ch.charCodeAt(0).toString(16)}`)})`);
    return lines.join("\n");
}
