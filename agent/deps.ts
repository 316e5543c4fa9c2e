/** Installs the program's dependencies in a checkout, only when its lockfile changed (cache keyed by hash). */
import { execFile } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Pure-ish: the cache key of a project's dependencies. */
export function lockfileHash(projectDir: string): string {
    const lock = path.join(projectDir, "package-lock.json");
    if (!fs.existsSync(lock)) throw new Error(`${lock} is missing: the agent installs exactly what the lockfile pins (npm ci)`);
    return crypto.createHash("sha256").update(fs.readFileSync(lock)).digest("hex");
}

/**
 * Runs `npm ci` in `projectDir` unless node_modules was installed from the same lockfile. The hash
 * is kept inside node_modules, so a removed node_modules can never look installed. Returns whether
 * it installed.
 */
export async function prepareDependencies(projectDir: string, log: (line: string) => void): Promise<boolean> {
    const hash = lockfileHash(projectDir);
    const marker = path.join(projectDir, "node_modules", ".openfaas-gitops-deps.sha256");
    const current = fs.existsSync(marker) ? fs.readFileSync(marker, "utf8").trim() : "";
    if (current === hash) return false;
    log(`lockfile changed (${hash.slice(0, 12)}): npm ci`);
    try {
        await run("npm", ["ci", "--no-audit", "--no-fund"], { cwd: projectDir, maxBuffer: 64 * 1024 * 1024, timeout: 1_800_000 });
    } catch (e) {
        const err = e as { stderr?: string; message: string };
        throw new Error(`npm ci failed in ${projectDir}: ${(err.stderr || err.message).trim().split("\n").slice(-5).join(" ")}`);
    }
    fs.mkdirSync(path.dirname(marker), { recursive: true });
    fs.writeFileSync(marker, hash + "\n");
    return true;
}
