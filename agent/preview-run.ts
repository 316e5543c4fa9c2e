/**
 * A pull request's preview, as its own process runs it (issue 22). The pull request's program is
 * untrusted until merged, so this never sees the stack's backend: it gets a copy of the state (an
 * export, secrets as ciphertext), imports it into a file backend of its own in a fresh temporary
 * directory, previews there and removes that directory. Whatever the program does, the real state
 * is never written: this process holds no credential of the backend, and `preview` never saves.
 *
 * The cluster is reached with whatever identity the environment gives (the preview identity's token
 * in its pod, components/preview-identity.ts), which can read and dry-run, nothing else.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { RunResult } from "./engine";
import { runEngine } from "./pulumi-engine";

export interface PreviewRunInput {
    /** The pull request's Pulumi project (Pulumi.yaml, stacks/, its own node_modules). */
    readonly projectDir: string;
    readonly stack: string;
    /** `pulumi stack export` of the stack, secrets as ciphertext. */
    readonly state: string;
    /** The stack's passphrase (the passphrase secrets provider: how the config and state secrets decrypt). */
    readonly passphrase: string;
    /** The engine's environment, without a backend (engineEnvironment in agent/pulumi-engine.ts). */
    readonly env: Readonly<Record<string, string>>;
    /** The policy pack (its analyzer) and the stack's policy config, as the pull-request workflow runs them. */
    readonly policyPacks?: readonly string[];
    readonly policyPackConfigs?: readonly string[];
    readonly signal?: AbortSignal;
    readonly log: (line: string) => void;
}

/** Variables a preview never takes from its environment: which backend it writes, and its secrets. */
const OWN = /^(PULUMI_BACKEND_URL|PULUMI_ACCESS_TOKEN|PULUMI_CONFIG_PASSPHRASE|PULUMI_CONFIG_PASSPHRASE_FILE)$/;

/**
 * Previews `input.stack` of the project against a private copy of its state; resolves with the
 * run's result or rejects with its {@link EngineRunError} (a mandatory policy, a failed program).
 */
export async function runPreview(input: PreviewRunInput): Promise<RunResult> {
    const backend = fs.mkdtempSync(path.join(os.tmpdir(), "ofg-preview-state-"));
    try {
        const env: Record<string, string> = Object.fromEntries(Object.entries(input.env).filter(([k]) => !OWN.test(k)));
        Object.assign(env, { PULUMI_BACKEND_URL: `file://${backend}`, PULUMI_CONFIG_PASSPHRASE: input.passphrase });
        return await runEngine(
            {
                op: "preview",
                stack: input.stack,
                configFile: path.join(input.projectDir, "stacks", `Pulumi.${input.stack}.yaml`),
                secretsProvider: "passphrase",
                importState: input.state,
                policyPacks: input.policyPacks,
                policyPackConfigs: input.policyPackConfigs,
            },
            { cwd: input.projectDir, env, signal: input.signal, log: input.log },
        );
    } finally {
        fs.rmSync(backend, { recursive: true, force: true });
    }
}
