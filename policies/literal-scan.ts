/**
 * The source scanner behind no-secret-literals: the string literals of the program's TypeScript and
 * the plaintext values of its stack files.
 */
import * as fs from "node:fs";
import * as path from "node:path";

/**
 * String literals of the program's TypeScript sources and plaintext values of its stack files:
 * what a Secret value must never be equal to. Values shorter than 8 characters (user names, flags)
 * carry no credential and are left out.
 */
export function plaintextLiterals(projectDir: string): Set<string> {
    const out = new Set<string>();
    const add = (v: unknown) => {
        if (typeof v === "string" && v.length >= 8) out.add(v);
    };
    const walk = (dir: string) => {
        for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
            if (["node_modules", "test", "bench", ".git", "rendered"].includes(entry.name)) continue;
            const p = path.join(dir, entry.name);
            if (entry.isDirectory()) walk(p);
            else if (entry.name.endsWith(".ts")) {
                for (const m of fs.readFileSync(p, "utf8").matchAll(/(["'`])((?:\\.|(?!\1)[^\\\n])*)\1/g)) add(m[2]);
            }
        }
    };
    walk(projectDir);
    const stacks = path.join(projectDir, "stacks");
    for (const f of fs.existsSync(stacks) ? fs.readdirSync(stacks) : []) {
        for (const line of fs.readFileSync(path.join(stacks, f), "utf8").split("\n")) {
            const m = /^\s*[\w-]+:[\w.-]+:\s*["']?([^"'#]+?)["']?\s*$/.exec(line);
            if (m) add(m[1]);
        }
    }
    return out;
}


/**
 * The literals of the program the pack guards. A published pack runs away from the program, so the
 * directory comes from policy config (`no-secret-literals.projectDir`); one without Pulumi.yaml is an
 * error naming the fix rather than a scan of the wrong tree.
 */
export function projectLiterals(projectDir: string): Set<string> {
    const dir = path.resolve(__dirname, projectDir);
    if (!fs.existsSync(path.join(dir, "Pulumi.yaml"))) {
        throw new Error(`no-secret-literals: ${dir} holds no Pulumi.yaml; set the policy config no-secret-literals.projectDir to the program's directory`);
    }
    return plaintextLiterals(dir);
}
