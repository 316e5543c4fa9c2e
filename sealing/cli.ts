/**
 * `npm run -s seal -- --stack <stack> <kubeseal flags>`: kubeseal (tools/kubeseal.ts, the pinned
 * release) sealing offline with the stack's committed certificate, `secrets/<stack>/pub-cert.pem` (or
 * `--cert <file>`), once that file passes the one rule of model/sealing-key.ts. Every other flag is
 * kubeseal's own, passed on as given (docs/sealing.md lists the commands).
 *
 * The check is what this adds, because kubeseal does not make it offline: it seals with a 1024-bit
 * RSA certificate, and with a file that holds the private key beside the certificate (what
 * `npm run sealing-key -- export` writes), so that key, copied to where the public certificate is
 * committed, would be used and pushed without a word. `-s` keeps npm's banner out of stdout.
 *
 *   kubectl create secret generic api -n openfaas-fn --from-literal=token=... --dry-run=client -o yaml \
 *     | npm run -s seal -- --stack prod -o yaml -w secrets/prod/api.yaml
 */
import { spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { splitPem } from "./key-cli";
import { certificateProblem } from "../model/sealing-key";
import { ensureKubeseal } from "../tools/kubeseal";

/** A refusal of the certificate or of this command's own flags; the command exits 2. */
export class SealError extends Error {}

/** Pure: `--stack` and `--cert` (`--flag value` or `--flag=value`) taken out of `argv`; the rest is kubeseal's, in order. */
export function ownFlags(argv: readonly string[]): { stack?: string; cert?: string; kubeseal: string[] } {
    const own: { stack?: string; cert?: string } = {};
    const kubeseal: string[] = [];
    for (let i = 0; i < argv.length; i++) {
        const m = /^--(stack|cert)(?:=(.*))?$/s.exec(argv[i]!);
        if (!m) {
            kubeseal.push(argv[i]!);
            continue;
        }
        const flag = m[1] as "stack" | "cert";
        const value = m[2] ?? argv[++i];
        // A next argument that is a flag is a forgotten value, not a stack named "--raw".
        if (value === undefined || value === "" || (m[2] === undefined && value.startsWith("--"))) throw new SealError(`--${flag} needs a value`);
        if (own[flag] !== undefined) throw new SealError(`--${flag} is given twice`);
        own[flag] = value;
    }
    return { ...own, kubeseal };
}

/**
 * The certificate file to seal with, checked: not a private key, not beside one, a PEM certificate
 * that passes model/sealing-key.ts at `now`. Returns kubeseal's arguments with `--cert <file>` first.
 * The advice never writes over the file given: it may be something else that is needed (a private key).
 */
export function checkedKubesealArgs(argv: readonly string[], now: Date = new Date()): string[] {
    const { stack, cert, kubeseal } = ownFlags(argv);
    if (stack !== undefined && cert !== undefined) throw new SealError("give --stack <name> or --cert <file>, not both");
    if (stack === undefined && cert === undefined) {
        throw new SealError("which stack's key? give --stack <name> (seals with secrets/<name>/pub-cert.pem) or --cert <file>; without either, kubeseal would ask the cluster");
    }
    if (cert !== undefined && /^https?:\/\//.test(cert)) throw new SealError(`--cert ${cert}: this command seals offline, with a certificate file; download it first (curl -o pub-cert.pem ${cert}) or use --stack`);
    const file = cert ?? path.join("secrets", stack!, "pub-cert.pem");
    const label = cert !== undefined ? `--cert ${cert}` : `${file} (the certificate of --stack ${stack})`;
    let pem: Buffer;
    try {
        pem = fs.readFileSync(file);
    } catch (e) {
        throw new SealError(`cannot read certificate ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
    const writeCert = `pulumi stack output sealingCertPem > secrets/${stack ?? "<stack>"}/pub-cert.pem, then seal with --stack ${stack ?? "<stack>"}`;
    const blocks = splitPem(pem.toString("utf8"));
    if (blocks.privateKey && blocks.certificate) {
        throw new SealError(`${label} holds a private key beside the certificate: a sealing certificate file is public and committed, its private key must never be; move that file out of the repository (it may be your only copy of the key; if it was ever pushed, treat the key as exposed and rotate the secrets sealed with it), then: ${writeCert}`);
    }
    if (blocks.privateKey) throw new SealError(`${label} holds a private key, not a certificate: leave that file as it is and keep it out of git; seal with the public certificate: ${writeCert}`);
    let x509: crypto.X509Certificate;
    try {
        x509 = new crypto.X509Certificate(pem);
    } catch {
        throw new SealError(`${label} is not a PEM certificate; write the stack's certificate with: ${writeCert}`);
    }
    const problem = certificateProblem(x509, now);
    if (problem) throw new SealError(`${label} cannot be used: ${problem}`);
    return ["--cert", file, ...kubeseal];
}

if (require.main === module) {
    let args: string[];
    try {
        args = checkedKubesealArgs(process.argv.slice(2));
    } catch (e) {
        process.stderr.write(`seal: ${(e as Error).message}\n`);
        process.exit(e instanceof SealError ? 2 : 1);
    }
    // KUBESEAL: a kubeseal of your own (a package's), so sealing needs no Go toolchain.
    const own = process.env.KUBESEAL;
    const run = spawnSync(own || ensureKubeseal(), args, { stdio: "inherit" });
    if (run.error) {
        process.stderr.write(`seal: cannot run kubeseal${own ? ` (KUBESEAL=${own}: set it to a kubeseal binary, or unset it to build the pinned one)` : ""}: ${run.error.message}\n`);
        process.exit(1);
    }
    process.exit(run.status ?? 1);
}
