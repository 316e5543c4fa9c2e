/**
 * The cron jobs' invoke image. It lives in a file of its own, functions/invoker.yml, rather than in
 * code, so that Flux's image automation can rewrite it through a setter marker like a function's.
 */
import { ImagePolicyDef } from "../model/function";
import { Problem, Problems } from "../model/problem";
import { loadYaml } from "../model/yaml";
import { imageProblem } from "../policies/shared/image";
import { projectFiles, RawConfig, unreadableReason } from "./files";
import { Reader } from "./reader";
import { isObj, readImagePolicy } from "./stack-yml/fields";

/** The file holding the invoke image, where Flux's setters can rewrite it; its ImagePolicy's name. */
export const INVOKER_FILE = "functions/invoker.yml";
export const INVOKER_IMAGE_POLICY = "cron-invoker";

/** The image scheduled invocations run, and how Flux may update it. */
export interface Invoker {
    readonly image: string;
    readonly imagePolicy: ImagePolicyDef;
}

/** Pure: the invoker file (`image:` and `imagePolicy:`), or what is wrong with it. */
export function parseInvokerYml(text: string, file: string): { invoker?: Invoker; problems: Problem[] } {
    const p = new Problems(`${file} `);
    const loaded = loadYaml(text, { file });
    if ("error" in loaded) return { problems: [{ key: file, expected: loaded.error }] };
    const doc = loaded.docs[0];
    if (!isObj(doc)) return { problems: [{ key: file, expected: "expected a map with image and imagePolicy" }] };
    for (const k of Object.keys(doc)) if (k !== "image" && k !== "imagePolicy") p.add(k, "unknown field; expected image, imagePolicy");
    const image = typeof doc.image === "string" ? doc.image : "";
    const unpinned = image ? imageProblem(image) : "is missing";
    if (unpinned) p.add("image", `${unpinned}; pin a version tag or a digest (@sha256:...)`, image || undefined);
    const policy = doc.imagePolicy === undefined ? (p.add("imagePolicy", "required: how Flux may update the image, e.g. {semver: \">=8.11.1 <9.0.0\"}"), undefined) : readImagePolicy(p, "imagePolicy", doc.imagePolicy);
    return { invoker: policy && p.list.length === 0 ? { image, imagePolicy: policy } : undefined, problems: p.list };
}

/** Reads {@link INVOKER_FILE}; a missing or bad file is a problem of the stack like any other. */
export function readInvoker(r: Reader, raw: RawConfig): Invoker | undefined {
    let text: string;
    try {
        text = (raw.files ?? projectFiles(process.cwd())).read(INVOKER_FILE);
    } catch (e) {
        r.fileProblem(INVOKER_FILE, `cannot read it (${unreadableReason(e)}); it holds the image the schedules run (image: and imagePolicy:)`);
        return undefined;
    }
    const parsed = parseInvokerYml(text, INVOKER_FILE);
    r.addAll(parsed.problems);
    return parsed.invoker;
}
