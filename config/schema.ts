/**
 * The schema half of validation: the structured maps (`agent`, `flux`, `charts`, the `functions`
 * overrides) are described as JSON Schema and checked by ajv; the cross-field rules stay in code beside
 * them. Ajv's errors become problems in the one shape (key, value, expected). A schema names its own
 * fix: `expected` is the text for a bad value of that field (for a scalar of the wrong type, the type is said instead), `unknown` the text for a field not in
 * `properties`, `description` what a required field is.
 */
import Ajv, { ErrorObject } from "ajv";
import * as semver from "semver";
import { Problem } from "../model/problem";

/** A JSON Schema with this project's message keywords. */
export type Schema = Record<string, unknown> & { readonly expected?: string; readonly unknown?: string; readonly description?: string };

const ajv = new Ajv({ allErrors: true, strict: true, verbose: true, allowUnionTypes: true });
ajv.addVocabulary(["expected", "unknown"]);
// Exact versions only: a range would render different objects on different days.
ajv.addFormat("exact-version", (v: string) => semver.valid(v) !== null);

const TYPE_WORDS: Record<string, string> = { integer: "an integer", string: "a string", boolean: "a boolean", array: "a list", object: "a map" };

/** Pure: `.a/0/b` as the config key suffix `.a[0].b`. */
function keyOf(instancePath: string): string {
    return instancePath
        .split("/")
        .slice(1)
        .map((part) => (/^\d+$/.test(part) ? `[${part}]` : `.${part.replace(/~1/g, "/").replace(/~0/g, "~")}`))
        .join("");
}

/** Pure: a value as a problem carries it: strings as written, anything else (and any value of the wrong type) as JSON. */
function problemValue(value: unknown, asJson: boolean): string {
    return typeof value === "string" && !asJson ? value : JSON.stringify(value);
}

function problemOf(e: ErrorObject, at: string): Problem {
    const parent = (e.parentSchema ?? {}) as Schema;
    // A prefix ending in a space is a file name: the path inside it follows without a leading dot.
    const join = (suffix: string) => (at.endsWith(" ") ? at + suffix.replace(/^\./, "") : at + suffix);
    const key = join(keyOf(e.instancePath));
    switch (e.keyword) {
        case "additionalProperties": {
            const field = (e.params as { additionalProperty: string }).additionalProperty;
            const known = Object.keys((parent.properties as object | undefined) ?? {}).join(", ");
            return { key: join(`${keyOf(e.instancePath)}.${field}`), value: JSON.stringify((e.data as Record<string, unknown>)[field]), expected: parent.unknown ?? `unknown field; expected ${known}` };
        }
        case "required": {
            const field = (e.params as { missingProperty: string }).missingProperty;
            const what = ((parent.properties as Record<string, Schema> | undefined)?.[field]?.description) ?? "a value";
            return { key: join(`${keyOf(e.instancePath)}.${field}`), expected: `required: ${what}` };
        }
        case "type": {
            // A map or list says its shape (its `expected`); a scalar says its type (its `expected` is about a well-typed value).
            if (parent.expected && (parent.type === "object" || parent.type === "array")) return { key, value: problemValue(e.data, true), expected: parent.expected };
            const words = (e.params as { type: string }).type.split(",").map((t) => (t === "string" && Number(parent.minLength) > 0 ? "a non-empty string" : (TYPE_WORDS[t] ?? t)));
            return { key, value: problemValue(e.data, true), expected: `expected ${words.join(" or ")}` };
        }
        case "enum":
            return { key, value: problemValue(e.data, false), expected: parent.expected ?? `expected one of ${(e.params as { allowedValues: unknown[] }).allowedValues.join(" | ")}` };
        case "minimum":
        case "maximum":
            return { key, value: problemValue(e.data, false), expected: parent.expected ?? `expected an integer from ${parent.minimum} to ${parent.maximum}` };
        default:
            return { key, value: problemValue(e.data, false), expected: parent.expected ?? (e.message ?? "invalid") };
    }
}

const compiled = new WeakMap<Schema, ReturnType<typeof ajv.compile>>();

/** Pure: every problem of `value` against `schema`, keyed under `at` (a config key such as `openfaas-gitops:agent`, or `<file> `). */
export function schemaProblems(schema: Schema, value: unknown, at: string): Problem[] {
    let validate = compiled.get(schema);
    if (!validate) compiled.set(schema, (validate = ajv.compile(schema)));
    if (validate(value)) return [];
    // One problem per place: a value failing two keywords (say, pattern and length) is reported once.
    const seen = new Set<string>();
    return (validate.errors ?? []).map((e) => problemOf(e, at)).filter((p) => !seen.has(p.key) && !!seen.add(p.key));
}
