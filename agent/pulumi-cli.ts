/**
 * The Pulumi CLI run directly, for what the Automation API does in a way the agent must not: its
 * exportStack asks for the secrets decrypted (`--show-secrets`), and its importStack writes the
 * state to a file in TMPDIR that any user can read and that a killed process leaves behind.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** A state with the charts' CRDs is a few MB; a large platform's, tens. */
const MAX_OUTPUT = 256 * 1024 * 1024;

/** The CLI's own deadline: an export reads one file or object from the backend. */
const CLI_TIMEOUT_MS = 2 * 60_000;

export interface CliContext {
    /** A Pulumi project directory (for what the agent reads to withhold: its own checkout of the branch, never a pull request's). */
    readonly cwd: string;
    /** The engine's environment, with the backend and the passphrase. */
    readonly env: Readonly<Record<string, string>>;
}

export async function pulumi(args: readonly string[], ctx: CliContext): Promise<string> {
    try {
        return (await run("pulumi", [...args, "--non-interactive"], { cwd: ctx.cwd, env: { ...ctx.env }, maxBuffer: MAX_OUTPUT, timeout: CLI_TIMEOUT_MS })).stdout;
    } catch (e) {
        // The CLI's own words name what failed; its output (a state, decrypted values) is never quoted.
        const err = e as { stderr?: string; message: string };
        const said = (err.stderr ?? "").trim().split("\n").filter(Boolean).slice(-3).join("; ");
        throw new Error(`pulumi ${args.slice(0, 2).join(" ")} failed${said ? `: ${said}` : ` (${err.message.split("\n")[0]})`}`);
    }
}

/** `pulumi stack export` of `stack`: its state with every secret as ciphertext, for the preview to import. */
export function exportState(stack: string, ctx: CliContext): Promise<string> {
    return pulumi(["stack", "export", "--stack", stack], ctx);
}

/**
 * `pulumi stack import` of `state` (an export, its secrets ciphertext) into `stack`, from a file only
 * this user can read, in a directory of its own removed afterwards.
 */
export async function importState(stack: string, state: string, ctx: CliContext): Promise<void> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ofg-state-"));
    try {
        const file = path.join(dir, "state.json");
        fs.writeFileSync(file, state, { mode: 0o600 });
        await pulumi(["stack", "import", "--file", file, "--stack", stack], ctx);
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}
