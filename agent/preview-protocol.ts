/**
 * What passes between the agent and a preview's pod (issue 22): the job the agent serves it and the
 * result it sends back. The pod runs a pull request's program, so its result is read as hostile:
 * checked against a schema with every list and text bounded, before anything of it is posted.
 */
import Ajv from "ajv";
import type { PolicyViolation } from "./engine";

/** The pod's mounted Secret: the bearer token of its three requests and the stack's passphrase. */
export const PREVIEW_SECRET_KEYS = { token: "token", passphrase: "passphrase" } as const;
/** Where the pod mounts that Secret, and the variable naming its requests' base URL. */
export const PREVIEW_SECRET_DIR = "/var/run/openfaas-gitops-preview";
export const PREVIEW_URL_ENV = "PREVIEW_URL";
/**
 * The requests under the base URL: GET the job, GET the source, GET the agent's installed
 * dependencies (when the job offers them), POST the result.
 */
export const PREVIEW_PATHS = { job: "job", source: "source", dependencies: "dependencies", result: "result" } as const;

/** What the agent serves the pod at `job`. */
export interface PreviewJob {
    readonly stack: string;
    /** The policy pack's config, `policies/config/<name>.json` in the source (default: the stack's name, as the pull-request workflow picks it). */
    readonly policyConfig?: string;
    /** The Pulumi project's directory inside the source. */
    readonly projectPath: string;
    /** The pull request's head, previewed. */
    readonly revision: string;
    /** `pulumi stack export` of the stack: secrets as ciphertext. */
    readonly state: string;
    /** Largest source archive, and what it may unpack to (the agent's artifact limits). */
    readonly sourceMaxBytes: number;
    readonly sourceMaxExtractedBytes: number;
    /**
     * The lockfile hash (agent/deps.ts) of the dependencies the agent has installed for the branch,
     * which it serves as a tar of `node_modules` at `dependencies`: a pull request with the same
     * lockfile takes them instead of running `npm ci` (the program's packages are hundreds of MB).
     */
    readonly dependencies?: string;
}

/** What the pod sends back at `result`. */
export type PreviewPodResult =
    | { readonly ok: true; readonly changes: Readonly<Record<string, number>>; readonly changed: readonly string[]; readonly violations: readonly PolicyViolation[] }
    | { readonly ok: false; readonly message: string; readonly violations: readonly PolicyViolation[] };

/** Bounds of a result: a platform has hundreds of resources, never this many. */
export const RESULT_LIMITS = { bytes: 4 * 1024 * 1024, changed: 10_000, violations: 1_000, text: 64 * 1024 } as const;

const TEXT = { type: "string", maxLength: RESULT_LIMITS.text };
const VIOLATIONS = {
    type: "array",
    maxItems: RESULT_LIMITS.violations,
    items: {
        type: "object",
        required: ["policy", "level", "message"],
        additionalProperties: false,
        properties: { policy: { type: "string", maxLength: 256 }, level: { enum: ["mandatory", "advisory"] }, message: TEXT, resource: { type: "string", maxLength: 1024 } },
    },
};
const RESULT_SCHEMA = {
    oneOf: [
        {
            type: "object",
            required: ["ok", "changes", "changed", "violations"],
            additionalProperties: false,
            properties: {
                ok: { const: true },
                changes: { type: "object", maxProperties: 32, propertyNames: { pattern: "^[a-z-]{1,32}$" }, additionalProperties: { type: "integer", minimum: 0, maximum: 1_000_000 } },
                changed: { type: "array", maxItems: RESULT_LIMITS.changed, items: { type: "string", maxLength: 1024 } },
                violations: VIOLATIONS,
            },
        },
        { type: "object", required: ["ok", "message", "violations"], additionalProperties: false, properties: { ok: { const: false }, message: TEXT, violations: VIOLATIONS } },
    ],
};

const validate = new Ajv({ allErrors: false, strict: true }).compile<PreviewPodResult>(RESULT_SCHEMA);

/** Pure: the pod's result from its body, or why it is refused (never quoting the body). */
export function parsePodResult(body: Buffer): { readonly result: PreviewPodResult } | { readonly error: string } {
    if (body.length > RESULT_LIMITS.bytes) return { error: `the result is ${body.length} bytes, over ${RESULT_LIMITS.bytes}` };
    let parsed: unknown;
    try {
        parsed = JSON.parse(body.toString("utf8"));
    } catch {
        return { error: "the result is not JSON" };
    }
    if (!validate(parsed)) return { error: `the result does not fit its schema (${validate.errors?.[0]?.instancePath || "/"} ${validate.errors?.[0]?.message ?? ""})` };
    return { result: parsed };
}
