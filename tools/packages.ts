/**
 * The Debian packages a tool needs, in one list per tool (tools/packages/<list>.txt: a package and a
 * file it installs, per line), read here, by .ci/run and by the release workflow.
 */
import * as fs from "node:fs";
import * as path from "node:path";

export type PackageList = "podman" | "real-node";

/** Pure: the lines `<package> <file>` of a list; `#` starts a comment. */
export function parsePackageList(text: string): ReadonlyMap<string, string> {
    const out = new Map<string, string>();
    for (const raw of text.split("\n")) {
        const line = raw.replace(/#.*/, "").trim();
        if (!line) continue;
        const [pkg, file, ...rest] = line.split(/\s+/);
        if (!file || rest.length > 0 || !file.startsWith("/")) throw new Error(`a package list line is "<package> <absolute file>": ${JSON.stringify(raw)}`);
        out.set(pkg!, file);
    }
    return out;
}

/** The packages of a list, each with a file that shows it is installed. */
export function debianPackages(list: PackageList): ReadonlyMap<string, string> {
    return parsePackageList(fs.readFileSync(path.join(__dirname, "packages", `${list}.txt`), "utf8"));
}

/** Why a list is not installed here (one line with the command that installs it), or undefined. */
export function missingPackages(list: PackageList): string | undefined {
    const packages = debianPackages(list);
    const missing = [...packages].filter(([, file]) => !fs.existsSync(file)).map(([pkg]) => pkg);
    return missing.length === 0 ? undefined : `${missing.join(", ")} ${missing.length === 1 ? "is" : "are"} not installed: apt-get install ${[...packages.keys()].join(" ")}`;
}
