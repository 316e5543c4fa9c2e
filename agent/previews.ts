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
import { MAX_COMMENT_BODY, MAX_STATUS_DESCRIPTION, PullRequest } from "./github";

/** A pull request as agent/github.ts reads it, with the head its preview label was added on, if it was. */
export type PullRequestRef = Omit<PullRequest, "draft"> & { readonly labelledHead?: string };

export interface PreviewPolicy {
    /** `owner/name` of the repository the agent follows. */
    readonly repository: string;
    /** The branch the agent applies: only pull requests into it are previewed. */
    readonly branch: string;
    /** Preview pull requests whose author may write to the repository. */
    readonly writers: boolean;
    /**
     * Preview pull requests that carry this label: a maintainer adds it after reading the change, so
     * it approves the head it was added on, never a commit pushed after it.
     */
    readonly label?: string;
}

/**
 * Pure: whether `pr` may be previewed, or why not. `authorCanWrite` is asked of GitHub only when
 * the policy allows writers and nothing else has decided.
 */
export function previewable(pr: PullRequestRef, policy: PreviewPolicy, authorCanWrite: () => boolean): { readonly ok: true } | { readonly ok: false; readonly why: string } {
    if (pr.headRepository.toLowerCase() !== policy.repository.toLowerCase()) return { ok: false, why: `its head is in ${pr.headRepository}, a fork: a fork's pull request is never previewed` };
    if (pr.baseRef !== policy.branch) return { ok: false, why: `it is against ${pr.baseRef}, not ${policy.branch}` };
    const labelled = policy.label !== undefined && pr.labels.includes(policy.label);
    if (labelled && pr.labelledHead === pr.headSha) return { ok: true };
    if (policy.writers && authorCanWrite()) return { ok: true };
    const labelWhy = labelled ? `the label ${policy.label} was added on another commit than its head; add it again after reading the new commits` : `it has no label ${policy.label}`;
    const ways = [policy.writers ? `its author (${pr.author}) has no write access` : undefined, policy.label !== undefined ? labelWhy : undefined].filter(Boolean);
    return { ok: false, why: ways.length > 0 ? ways.join(" and ") : "previews allow neither writers nor a label" };
}

/** What runs now and what was previewed: the head of each pull request. */
export interface PreviewState {
    readonly running: ReadonlyMap<number, string>;
    readonly previewed: ReadonlyMap<number, string>;
    /** When each pull request's current head was first seen waiting (ms): the queue's order. */
    readonly waitingSince?: ReadonlyMap<number, number>;
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
 * Heads are taken in the order they started waiting, so a pull request pushed to again and again
 * goes behind the others rather than keeping the slot; a pull request listed twice (GitHub's pages
 * shift while they are read) counts once.
 */
export function planPreviews(open: readonly PullRequestRef[], state: PreviewState, applyPending: boolean, parallel: number): PreviewPlan {
    const byNumber = new Map<number, PullRequestRef>();
    for (const pr of open) if (!byNumber.has(pr.number)) byNumber.set(pr.number, pr);
    const cancel = [...state.running].filter(([n, head]) => byNumber.get(n)?.headSha !== head).map(([n]) => n);
    if (applyPending) return { start: [], cancel };
    const stillRunning = state.running.size - cancel.length;
    const since = (pr: PullRequestRef) => state.waitingSince?.get(pr.number) ?? Number.MAX_SAFE_INTEGER;
    const due = [...byNumber.values()]
        .sort((a, b) => since(a) - since(b) || a.number - b.number)
        .filter((pr) => state.previewed.get(pr.number) !== pr.headSha && state.running.get(pr.number) !== pr.headSha);
    return { start: due.slice(0, Math.max(0, parallel - stillRunning)), cancel };
}

export type PreviewResult =
    | { readonly ok: true; readonly changes: Readonly<Record<string, number>>; readonly changed: readonly string[]; readonly violations: readonly PolicyViolation[] }
    | { readonly ok: false; readonly error: string; readonly violations: readonly PolicyViolation[] };

/** Pure: the commit status of a preview: green only when it ran and no mandatory policy failed. Policy names come from the program: scrubbed. */
export function previewStatus(result: PreviewResult, secrets: readonly string[] = []): { readonly state: "success" | "failure"; readonly description: string } {
    const mandatory = result.violations.filter((v) => v.level === "mandatory");
    // A mandatory violation fails the engine's run too: the policy is what the status names then.
    if (mandatory.length > 0) {
        const names = [...new Set(mandatory.map((v) => v.policy))];
        // The names come from the pull request's pack: a secret split across two of them is found joined.
        const joined = names.join("");
        const named = scrub(joined, secrets) === joined ? `: ${names.join(", ")}` : "; the comment names them";
        return { state: "failure", description: scrub(`${mandatory.length} mandatory policy violation(s)${named}`, secrets).slice(0, MAX_STATUS_DESCRIPTION) };
    }
    if (!result.ok) return { state: "failure", description: "the preview failed; the comment has the error" };
    const n = Object.entries(result.changes).filter(([op]) => op !== "same").reduce((sum, [, k]) => sum + k, 0);
    return { state: "success", description: n === 0 ? "no changes" : `${n} change(s), policies pass` };
}

/** The marker that finds the comment of `stack` again, to edit it in place. */
export function commentMarker(stack: string): string {
    return `<!-- openfaas-gitops-preview:${stack} -->`;
}

/** Changed resources listed by name in a comment; the rest are counted. */
export const MAX_LISTED = 50;
/** The most characters of one resource name listed (names come from the program). */
const MAX_NAME = 300;
/** The most characters of one quoted section (an error, the policy results), after scrubbing. */
export const MAX_QUOTED = 20_000;
/** The most characters of a comment: GitHub's limit, less room for the note that says it was cut. */
export const MAX_COMMENT = MAX_COMMENT_BODY - 536;

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

/** JSON's string escaping of `text` (without the quotes). */
const jsonEscaped = (text: string) => JSON.stringify(text).slice(1, -1);

/** Every character outside ASCII as `\uXXXX` (Python's json.dumps, and Go's for some), in `hex`'s case. */
const asciiEscaped = (text: string, upper: boolean) =>
    text.replace(/[^\x00-\x7f]/g, (ch) => {
        const hex = ch.charCodeAt(0).toString(16).padStart(4, "0");
        return `\\u${upper ? hex.toUpperCase() : hex}`;
    });

/**
 * The forms a secret value may be printed in: as it is; JSON-escaped, once, twice (JSON in JSON: the
 * last-applied annotation) and three times, Go's way (`<`, `>`, `&` escaped) and ASCII-only; YAML
 * single-quoted; URL- and form-encoded; hex; base64 and base64url at any alignment.
 */
export function printedForms(secret: string): string[] {
    const json = jsonEscaped(secret);
    const twice = jsonEscaped(json);
    const goJson = json.replace(/[<>&\u2028\u2029]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`);
    const form = new URLSearchParams({ v: secret }).toString().slice(2);
    const hex = Buffer.from(secret).toString("hex");
    return [
        ...new Set([
            secret,
            json,
            twice,
            jsonEscaped(twice),
            goJson,
            asciiEscaped(json, false),
            asciiEscaped(json, true),
            secret.replace(/'/g, "''"),
            encodeURIComponent(secret),
            form,
            form.replace(/%[0-9A-F]{2}/g, (e) => e.toLowerCase()),
            hex,
            hex.toUpperCase(),
            ...base64Forms(secret),
            ...base64Forms(secret).map((f) => f.replace(/\+/g, "-").replace(/\//g, "_")),
        ]),
    ];
}

/** Values shorter than this are not scrubbed: "1" or "true" would blank half the comment, and are no secret. */
export const MIN_SECRET_LENGTH = 4;

/** The forms of each list of secrets, made once: one comment scrubs a dozen texts with the same list. */
const formsMade = new WeakMap<readonly string[], readonly string[]>();

/** Every printed form of every secret long enough to be one (the lists are read-only: a list's forms never change). */
function formsOf(secrets: readonly string[]): readonly string[] {
    let forms = formsMade.get(secrets);
    if (!forms) formsMade.set(secrets, (forms = [...new Set(secrets.filter((s) => s.length >= MIN_SECRET_LENGTH).flatMap(printedForms))]));
    return forms;
}

/**
 * Pure: whether `text` holds a secret split across lines (a printer that wraps long lines): a form
 * found more often in the text with every line break and the indentation after it taken out than in
 * the text itself.
 */
export function holdsWrappedSecret(text: string, secrets: readonly string[]): boolean {
    const joined = unwrapped(text);
    if (joined === text) return false;
    // Only a form the joining made: one printed whole on a line is there before too, and scrubbed. A
    // secret of several lines (a PEM key) is looked for joined too: printed indented, or with CRLF.
    const count = (t: string, f: string) => t.split(f).length - 1;
    return formsOf(secrets).some((f) => {
        const joinedForm = unwrapped(f);
        return joinedForm.length >= MIN_SECRET_LENGTH && count(joined, joinedForm) > count(text, f);
    });
}

/** Pure: `text` with every line break, and the indentation after it, taken out. */
const unwrapped = (text: string) => text.replace(/\r?\n[ \t]*/g, "");

/**
 * Pure: at most `max` characters of `text`, scrubbed. Only the start that can be shown is scrubbed
 * (with room for the longest form, so a secret across the cut is still found): a result's text may
 * be megabytes, and scrubbing it whole would hold the agent's event loop for as long.
 */
export function scrubbedExcerpt(text: string, secrets: readonly string[], max: number): { readonly text: string; readonly cut: boolean } {
    const room = max + Math.max(0, ...formsOf(secrets).map((f) => f.length));
    const clean = scrub(text.length > room ? text.slice(0, room) : text, secrets);
    return clean.length > max || text.length > room ? { text: clean.slice(0, max), cut: true } : { text: clean, cut: false };
}

/**
 * Pure: `text` with every printed form of every secret replaced by `[secret]`. Pulumi masks the
 * secrets it knows; this also catches one the program printed itself, or re-encoded. Matches are
 * found in the text as given and overlapping ones merged, so no part of one survives beside another.
 */
export function scrub(text: string, secrets: readonly string[]): string {
    const forms = formsOf(secrets);
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
    const status = previewStatus(c.result, c.secrets);
    // Scrubbed first, then cut: a cut through a secret would leave its first part unmatched.
    const quote = (text: string) => {
        const shown = text.length > 2 * MAX_QUOTED ? text.slice(0, 2 * MAX_QUOTED) : text;
        if (holdsWrappedSecret(shown, c.secrets)) return fenced("[withheld: this text holds a secret value split across lines; the agent's log has it masked]");
        const excerpt = scrubbedExcerpt(shown, c.secrets, MAX_QUOTED);
        return fenced(excerpt.cut || shown !== text ? `${excerpt.text}\n[... cut; the agent's log has the whole text ...]` : excerpt.text);
    };
    const lines = [
        commentMarker(c.stack),
        `### Preview of stack \`${c.stack.replace(/`/g, "")}\` at \`${c.revision.slice(0, 12).replace(/[^0-9a-f]/gi, "")}\`: ${status.state === "success" ? "passes" : "fails"}`,
    ];
    if (c.outdated) lines.push("", "_Outdated: a newer commit has been pushed; its preview replaces this one._");
    if (c.result.ok) {
        const counts = Object.entries(c.result.changes).filter(([op, n]) => op !== "same" && n > 0).map(([op, n]) => `${n} to ${op}`);
        lines.push("", counts.length > 0 ? `Changes: ${counts.join(", ")}.` : "No changes.");
        if (c.result.changed.length > 0) {
            const listed = c.result.changed.slice(0, MAX_LISTED).map((n) => (n.length > MAX_NAME ? `${n.slice(0, MAX_NAME)}...` : n)).join("\n");
            const more = c.result.changed.length - MAX_LISTED;
            lines.push("", quote(more > 0 ? `${listed}\n... and ${more} more` : listed));
        }
    } else {
        lines.push("", "The preview failed:", "", quote(c.result.error));
    }
    if (c.result.violations.length > 0) {
        const text = c.result.violations.map((v) => `[${v.level}] ${v.policy}${v.resource ? ` (${v.resource})` : ""}: ${v.message}`).join("\n");
        lines.push("", "Policy results:", "", quote(text));
    } else if (c.result.ok) {
        lines.push("", "Every policy passes.");
    }
    // The URL is the agent's own setting; encoded, so it stays one link whatever it holds.
    if (c.statusUrl) lines.push("", `[The agent's status](${encodeURI(c.statusUrl).replace(/[()]/g, (ch) => `%${ch.charCodeAt(0).toString(16)}`)})`);
    const body = lines.join("\n");
    return body.length > MAX_COMMENT ? `${body.slice(0, MAX_COMMENT)}\n\n[... cut: over GitHub's limit; the agent's log has the whole result ...]` : body;
}
