/**
 * What the agent hands a pull request's preview and what it keeps (issue 22). The agent holds the
 * backend's credentials, the preview never does: the agent exports the stack's state for it (secrets
 * stay ciphertext, which the passphrase the preview gets decrypts, as CI had it), and reads the
 * secret values itself, to withhold them from everything it posts. Both stay in memory: a plaintext
 * secret is never written to a file.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as yaml from "js-yaml";
import { loadYaml } from "../model/yaml";
import { DEPS_MARKER } from "./deps";
import type { PreviewInputs } from "./preview-loop";
import { CliContext, exportState, pulumi } from "./pulumi-cli";

/** Pulumi's marker of a secret value in a state or a config (sdk/go/common/resource/sig). */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const SECRET_SIG_VALUE = "1b47061264138c4ac30d75fd1eb44270";

/** Pure: every string inside a value (a secret may be an object: each of its strings is withheld too). */
function strings(v: unknown, out: string[]): void {
    if (typeof v === "string") out.push(v);
    else if (Array.isArray(v)) for (const x of v) strings(x, out);
    else if (v !== null && typeof v === "object") for (const x of Object.values(v)) strings(x, out);
}

/**
 * Pure: the plaintext of every secret in a state exported with `--show-secrets`: each secret value
 * whole (as the program may print it) and each string in it.
 */
export function stateSecretValues(exported: unknown): string[] {
    const out: string[] = [];
    const visit = (v: unknown): void => {
        if (Array.isArray(v)) for (const x of v) visit(x);
        else if (v !== null && typeof v === "object") {
            const o = v as Record<string, unknown>;
            if (o[SECRET_SIG] === SECRET_SIG_VALUE && typeof o.plaintext === "string") {
                out.push(o.plaintext);
                try {
                    strings(JSON.parse(o.plaintext), out);
                } catch {
                    // not JSON: the plaintext itself is the value
                }
            } else for (const x of Object.values(o)) visit(x);
        }
    };
    visit(exported);
    return out;
}

/** Pure: the values of `pulumi config --json --show-secrets` that are secret. */
export function configSecretValues(config: unknown): string[] {
    const out: string[] = [];
    if (config === null || typeof config !== "object") return out;
    for (const entry of Object.values(config as Record<string, unknown>)) {
        const e = entry as { secret?: unknown; value?: unknown; objectValue?: unknown } | null;
        if (!e || e.secret !== true) continue;
        strings(e.value, out);
        strings(e.objectValue, out);
    }
    return out;
}

/** The most encrypted values a pull request's stack config may hold for the agent to decrypt. */
export const MAX_PR_SECRETS = 200;

/**
 * Pure: what of a pull request's stack config the agent decrypts, as a config file: each `secure:`
 * value of its `config` (at any depth) under a key of its own, and the branch's encryption settings.
 * Nothing else of the file is taken: its `secretsprovider` would have the agent's CLI call a KMS or
 * Vault of the pull request's choosing with the agent's credentials, and the plain strings of an
 * object that holds one secure value would all count as secrets (a pull request could make the
 * agent scrub every comment against thousands of its own strings).
 */
export function prSecretsConfig(prYaml: string, branchYaml: string): { readonly text: string; readonly count: number } | { readonly problem: string } {
    const pr = loadYaml(prYaml, { file: "the pull request's stack config" });
    const branch = loadYaml(branchYaml, { file: "the branch's stack config" });
    if ("error" in pr) return { problem: pr.error };
    if ("error" in branch) return { problem: branch.error };
    const config = (pr.docs[0] as { config?: unknown } | null)?.config;
    const secure: string[] = [];
    const visit = (v: unknown): void => {
        if (secure.length > MAX_PR_SECRETS) return;
        if (Array.isArray(v)) for (const x of v) visit(x);
        else if (v !== null && typeof v === "object") {
            const o = v as Record<string, unknown>;
            if (Object.keys(o).length === 1 && typeof o.secure === "string") secure.push(o.secure);
            else for (const x of Object.values(o)) visit(x);
        }
    };
    visit(config);
    if (secure.length > MAX_PR_SECRETS) return { problem: `it holds more than ${MAX_PR_SECRETS} encrypted values` };
    const { config: _branchConfig, ...encryption } = (branch.docs[0] ?? {}) as Record<string, unknown>;
    const keys = Object.fromEntries(secure.map((ciphertext, i) => [`preview:secret${i}`, { secure: ciphertext }]));
    return { text: yaml.dump({ ...encryption, config: keys }), count: secure.length };
}

/**
 * Every secret value the preview of `stack` can see, to withhold from what is posted: those of the
 * state and of each config file (the tracked branch's and the pull request's, which may add its
 * own, encrypted with the same passphrase).
 */
export async function secretValues(stack: string, configFiles: readonly string[], ctx: CliContext): Promise<string[]> {
    const state: unknown = JSON.parse(await pulumi(["stack", "export", "--show-secrets", "--stack", stack], ctx));
    const values = stateSecretValues(state);
    for (const file of configFiles) values.push(...configSecretValues(JSON.parse(await pulumi(["config", "--show-secrets", "--json", "--stack", stack, "--config-file", file], ctx))));
    return [...new Set(values)];
}

/**
 * What a preview of `stack` gets from the trusted side: the state and the secret values (from the
 * tracked branch's checkout, `ctx.cwd`, by the agent's own CLI), the passphrase, and the
 * dependencies installed there, offered to a pull request with the same lockfile.
 */
export async function previewInputs(stack: string, prConfigFile: string | undefined, ctx: CliContext, limits: { readonly maxBytes: number; readonly maxExtractedBytes: number }): Promise<PreviewInputs> {
    const passphraseFile = ctx.env.PULUMI_CONFIG_PASSPHRASE_FILE;
    const passphrase = ctx.env.PULUMI_CONFIG_PASSPHRASE ?? (passphraseFile ? fs.readFileSync(passphraseFile, "utf8") : undefined);
    if (passphrase === undefined) throw new Error("previews need the stack's passphrase (PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE in the agent's engine environment): the preview pod decrypts the config with it");
    const baseConfig = path.join(ctx.cwd, "stacks", `Pulumi.${stack}.yaml`);
    const configs = [baseConfig].filter((f) => fs.existsSync(f));
    if (prConfigFile !== undefined && configs.length > 0) {
        const safe = prSecretsConfig(fs.readFileSync(prConfigFile, "utf8"), fs.readFileSync(baseConfig, "utf8"));
        if ("problem" in safe) throw new Error(`the pull request's stacks/Pulumi.${stack}.yaml cannot be read for its secret values: ${safe.problem}`);
        fs.writeFileSync(prConfigFile, safe.text, { mode: 0o600 });
        if (safe.count > 0) configs.push(prConfigFile);
    }
    const [state, secrets] = await Promise.all([exportState(stack, ctx), secretValues(stack, configs, ctx)]);
    const marker = path.join(ctx.cwd, DEPS_MARKER);
    const hash = fs.existsSync(marker) ? fs.readFileSync(marker, "utf8").trim() : "";
    return { state, secrets, passphrase, dependencies: hash ? { hash, dir: ctx.cwd } : undefined, sourceMaxBytes: limits.maxBytes, sourceMaxExtractedBytes: limits.maxExtractedBytes };
}
