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

/**
 * Pure: a path given in config (`functionsFile`, `sealedSecretsDir`) as a normalised project-relative
 * path, or why it is not one. The agent has the repository and nothing else, and a stack file must
 * not make the program read the machine it runs on.
 */
export function projectRelativePath(given: string): { path: string } | { problem: string } {
    const normal = path.posix.normalize(given);
    if (given.includes("\0")) return { problem: "contains a NUL character; give a path relative to the project root" };
    if (path.posix.isAbsolute(given) || /^[A-Za-z]:[\\/]/.test(given)) return { problem: "is absolute; give a path relative to the project root (the directory of Pulumi.yaml), inside it" };
    if (normal === ".." || normal.startsWith("../")) return { problem: "is outside the project; give a path relative to the project root (the directory of Pulumi.yaml), inside it" };
    if (normal === "." || normal === "./") return { problem: "is the project root itself; name a file or directory inside it" };
    return { path: normal.replace(/\/$/, "") };
}

/** A project file that is, or resolves through a symlink to, something outside the project. */
export class OutsideProjectError extends Error {
    constructor(relativePath: string, throughSymlink: boolean) {
        super(`${relativePath} ${throughSymlink ? "resolves through a symlink to a path" : "is"} outside the project; keep it (and what it links to) inside the repository`);
        this.name = "OutsideProjectError";
    }
}

/** Pure: why a project file could not be read, for a problem: the errno code, or the whole reason when it is ours. */
export function unreadableReason(e: unknown): string {
    if (e instanceof OutsideProjectError) return e.message;
    return (e as NodeJS.ErrnoException).code ?? String(e);
}

const within = (root: string, p: string) => p === root || p.startsWith(root + path.sep);

/**
 * The project files under a directory (the engine runs the program in the project root). Every path
 * must stay inside it, also after symlinks are resolved (where the file exists); otherwise reading
 * throws {@link OutsideProjectError}.
 */
export function projectFiles(dir: string): ProjectFiles {
    const inside = (rel: string): string => {
        const root = fs.realpathSync(dir);
        const target = path.resolve(root, rel);
        if (!within(root, target)) throw new OutsideProjectError(rel, false);
        let real: string;
        try {
            real = fs.realpathSync(target);
        } catch {
            return target; // missing: reading it reports that
        }
        if (!within(root, real)) throw new OutsideProjectError(rel, true);
        return real;
    };
    return {
        read: (rel) => fs.readFileSync(inside(rel), "utf8"),
        list: (rel) => {
            const p = inside(rel);
            return fs.existsSync(p) ? fs.readdirSync(p).sort() : [];
        },
    };
}
