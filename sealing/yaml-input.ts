/**
 * YAML (and JSON) input of the sealing tools, read with bounds: a document may not expand past
 * {@link MAX_EXPANDED_CHARS} through aliases (a few hundred bytes of `&a [*b, *b, ...]` expand to
 * gigabytes once written out or walked; measured by model/yaml.ts's expandedSize, as for the
 * functions file, with a larger cap because a Secret's data may reach 1 MiB), and a syntax error is
 * reported by position without the input text (js-yaml quotes tags and alias names, and
 * `password: *x` or `!x` is a secret written unquoted).
 */
import * as yaml from "js-yaml";
import { expandedSize } from "../model/yaml";

/**
 * Most characters a document may expand to. Kubernetes stores no object over about 1.5 MiB (etcd's
 * request limit), so a document without aliases that could ever be applied stays far below it.
 */
export const MAX_EXPANDED_CHARS = 4 * 1024 * 1024;

/** A refusal of YAML input; the message starts with what is wrong and shows no input. */
export class YamlInputError extends Error {}

/** Pure: a js-yaml reason without the input text it may quote (tag names, alias names, prefixes). */
function reasonWithoutInput(reason: string): string {
    return reason.replace(/\s*(?:[:"]|!<).*$/s, "");
}

/** The documents of a YAML stream (empty ones dropped); throws a {@link YamlInputError} for a syntax error or a document that expands too far. */
export function loadDocuments(text: string): unknown[] {
    if (text.length > MAX_EXPANDED_CHARS) throw new YamlInputError(`is ${text.length} characters, more than the ${MAX_EXPANDED_CHARS} read; Kubernetes stores no object that large`);
    let docs: unknown[];
    try {
        docs = yaml.loadAll(text).filter((d) => d !== null && d !== undefined);
    } catch (e) {
        if (e instanceof yaml.YAMLException) {
            const at = e.mark ? ` at line ${e.mark.line + 1}, column ${e.mark.column + 1}` : "";
            throw new YamlInputError(`is not YAML or JSON${at}: ${reasonWithoutInput(e.reason)} (a value starting with * & ! or containing ": " needs quotes)`);
        }
        if (e instanceof RangeError) throw new YamlInputError("is not YAML or JSON this tool reads: nested too deeply");
        throw e;
    }
    docs.forEach((doc, i) => {
        const size = expandedSize(doc, MAX_EXPANDED_CHARS);
        if (size === "cycle" || size > MAX_EXPANDED_CHARS) {
            const which = docs.length > 1 ? ` (document ${i + 1})` : "";
            throw new YamlInputError(`expands${which} past ${MAX_EXPANDED_CHARS} characters through YAML aliases (*name); Kubernetes stores no object that large: write the values out instead of repeating aliases`);
        }
    });
    return docs;
}
