/** The inputs of config reading: raw stack config and read access to the project's files. */
import * as fs from "node:fs";
import * as path from "node:path";

/** Raw stack config as the engine hands it over: every value a string, plus which keys are secret. */
export interface RawConfig {
    readonly stack: string;
    /** Values by short key (without the `openfaas-gitops:` namespace). */
    readonly values: Readonly<Record<string, string>>;
    /** Short keys whose value is a Pulumi secret. */
    readonly secretKeys: ReadonlySet<string>;
    /** The project's files (functions file, sealed secrets). @default the current directory */
    readonly files?: ProjectFiles;
}

/** Read access to the project's files, by path relative to the project root. */
export interface ProjectFiles {
    read(relativePath: string): string;
    /** File names in a directory; [] when it does not exist. */
    list(relativeDir: string): string[];
}

/** The project files under a directory (the engine runs the program in the project root). */
export function projectFiles(dir: string): ProjectFiles {
    return {
        read: (rel) => fs.readFileSync(path.resolve(dir, rel), "utf8"),
        list: (rel) => (fs.existsSync(path.resolve(dir, rel)) ? fs.readdirSync(path.resolve(dir, rel)).sort() : []),
    };
}
