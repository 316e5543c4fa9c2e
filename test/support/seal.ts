/**
 * The sealing command as users run it (`npm run -s seal`: sealing/cli.ts checks the certificate, then
 * the real kubeseal built by tools/kubeseal.ts seals), for the tests that seal or commit SealedSecrets.
 */
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { cacheBase } from "../../tools/go-tools";
import { ROOT } from "../helpers";
import { tempDir } from "./tmp";

export interface CommandResult {
    readonly code: number | null;
    readonly stdout: string;
    readonly stderr: string;
}

/**
 * Runs sealing/cli.ts with `args` and `stdin` in `cwd` (and `env` besides), as a user would. kubeseal reads a kubeconfig
 * only for a Secret without a namespace; an empty HOME keeps the user's out of it (the tools cache stays).
 */
export function sealCommand(args: readonly string[], stdin: string, cwd: string, env: Record<string, string> = {}): CommandResult {
    // The loader by absolute URL: the command runs in a scratch directory, as a user's would.
    const tsx = pathToFileURL(path.join(ROOT, "node_modules", "tsx", "dist", "loader.mjs")).href;
    const r = spawnSync(process.execPath, ["--import", tsx, path.join(ROOT, "sealing", "cli.ts"), ...args], {
        input: stdin,
        encoding: "utf8",
        cwd,
        env: { PATH: process.env.PATH, HOME: tempDir("ofg-seal-home-"), OPENFAAS_GITOPS_CACHE: cacheBase(), ...env },
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Seals a Secret of `stringData` for `namespace`/`name` (strict scope) with `certFile` into the YAML file `file`; throws with kubeseal's message. */
export function sealToFile(certFile: string, secret: { name: string; namespace: string; stringData: Record<string, string> }, file: string): void {
    const manifest = JSON.stringify({ apiVersion: "v1", kind: "Secret", metadata: { name: secret.name, namespace: secret.namespace }, stringData: secret.stringData });
    const r = sealCommand(["--cert", certFile, "-o", "yaml", "-w", file], manifest, path.dirname(file));
    if (r.code !== 0) throw new Error(`seal --cert ${certFile} -w ${file} exited ${r.code}: ${r.stderr}`);
}
