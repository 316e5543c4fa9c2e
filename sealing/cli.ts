/**
 * `npm run seal -- <flags>`: seals Secrets offline with the public sealing certificate, so function
 * teams commit secrets without cluster access or the kubeseal binary. Plaintext is read from flags,
 * files or stdin and only ever held in memory.
 *
 *   npm run seal -- --name api --namespace openfaas-fn --from-literal token=... --out secrets/api.yaml
 *   kubectl create secret generic api --from-file=token=./t --dry-run=client -o yaml | npm run seal -- --out secrets/api.yaml
 *   npm run seal -- --name api --namespace openfaas-fn --from-file extra=./x --merge-into secrets/api.yaml
 *   printf %s "$VALUE" | npm run seal -- --raw --name api --namespace openfaas-fn
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import { parseArgs } from "node:util";
import * as yaml from "js-yaml";
import { certificateProblem, SCOPES, Scope, scopeLabel, sealValue } from "./crypto";
import { mergeSealed, requestProblems, SealedSecret, sealSecret } from "./sealed-secret";

/** A refusal with the exit code it ends the command with; its message names the flag or file. */
export class SealError extends Error {
    constructor(message: string, public readonly exitCode = 2) {
        super(message);
    }
}

export interface SealIo {
    /** Standard input, or undefined when it is a terminal (nothing piped). */
    readStdin(): Buffer | undefined;
    write(text: string): void;
    now?: Date;
}

function readFileOr(path: string, what: string): Buffer {
    try {
        return fs.readFileSync(path);
    } catch (e) {
        throw new SealError(`cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
}

function loadCertificate(path: string, now: Date): crypto.KeyObject {
    const pem = readFileOr(path, "certificate");
    let cert: crypto.X509Certificate;
    try {
        cert = new crypto.X509Certificate(pem);
    } catch {
        throw new SealError(`--cert ${path} is not a PEM certificate; write the current one with: pulumi stack output sealingCertPem > secrets/pub-cert.pem`);
    }
    const problem = certificateProblem(cert, now);
    if (problem) throw new SealError(`--cert ${path} cannot be used: ${problem}`);
    return cert.publicKey;
}

function splitPair(flag: string, pair: string): [string, string] {
    const i = pair.indexOf("=");
    if (i <= 0) throw new SealError(`--${flag} expects key=value, got "${pair.split("=")[0]}..."`);
    return [pair.slice(0, i), pair.slice(i + 1)];
}

interface SecretManifest {
    kind?: string;
    metadata?: { name?: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
    type?: string;
    data?: Record<string, string>;
    stringData?: Record<string, string>;
}

function parseSecretManifest(text: Buffer, source: string): SecretManifest {
    let doc: unknown;
    try {
        doc = yaml.load(text.toString("utf8"));
    } catch (e) {
        throw new SealError(`${source} is not YAML or JSON: ${(e as Error).message.split("\n")[0]}`);
    }
    const m = doc as SecretManifest;
    if (!m || typeof m !== "object" || m.kind !== "Secret") throw new SealError(`${source} is not a Secret manifest (kind: Secret)`);
    return m;
}

/** Runs the command; returns normally or throws a {@link SealError}. */
export function runSeal(argv: string[], io: SealIo): void {
    let values;
    try {
        ({ values } = parseArgs({
            args: argv,
            options: {
                cert: { type: "string", default: "secrets/pub-cert.pem" },
                name: { type: "string" },
                namespace: { type: "string" },
                scope: { type: "string", default: "strict" },
                type: { type: "string" },
                "from-literal": { type: "string", multiple: true },
                "from-file": { type: "string", multiple: true },
                "secret-file": { type: "string" },
                out: { type: "string" },
                "merge-into": { type: "string" },
                raw: { type: "boolean", default: false },
            },
            strict: true,
        }));
    } catch (e) {
        throw new SealError(`${(e as Error).message}; see the usage at the top of sealing/cli.ts or the README`);
    }
    if (!(SCOPES as readonly string[]).includes(values.scope!)) throw new SealError(`--scope "${values.scope}" is not one of ${SCOPES.join(", ")}`);
    const scope = values.scope as Scope;
    const now = io.now ?? new Date();

    const literals = values["from-literal"] ?? [];
    const files = values["from-file"] ?? [];
    const data: Record<string, Buffer> = {};
    let manifest: SecretManifest | undefined;
    if (values["secret-file"]) manifest = parseSecretManifest(readFileOr(values["secret-file"], "--secret-file"), values["secret-file"]);
    for (const pair of literals) {
        const [k, v] = splitPair("from-literal", pair);
        data[k] = Buffer.from(v);
    }
    for (const pair of files) {
        const [k, p] = splitPair("from-file", pair);
        data[k] = readFileOr(p, `--from-file ${k}=`);
    }

    if (values.raw) {
        if (manifest || literals.length > 0 || files.length > 1) throw new SealError("--raw seals one value: give it with one --from-file or on stdin");
        const value = files.length === 1 ? Object.values(data)[0]! : io.readStdin();
        if (value === undefined) throw new SealError("--raw needs the value on stdin or in one --from-file");
        const problems = requestProblems({ name: values.name, namespace: values.namespace, scope, keys: [] });
        if (problems.length > 0) throw new SealError(problems.join("; "));
        const key = loadCertificate(values.cert!, now);
        io.write(sealValue(key, scopeLabel(scope, values.namespace ?? "", values.name!), value) + "\n");
        return;
    }

    if (!manifest && literals.length === 0 && files.length === 0) {
        const stdin = io.readStdin();
        if (stdin === undefined) throw new SealError("nothing to seal: give --from-literal, --from-file, --secret-file, or pipe a Secret manifest on stdin");
        manifest = parseSecretManifest(stdin, "stdin");
    }
    if (manifest) {
        for (const [k, v] of Object.entries(manifest.data ?? {})) data[k] = Buffer.from(v, "base64");
        for (const [k, v] of Object.entries(manifest.stringData ?? {})) data[k] = Buffer.from(v);
    }
    const mergeTarget = values["merge-into"] ? (yaml.load(readFileOr(values["merge-into"], "--merge-into").toString("utf8")) as SealedSecret) : undefined;
    if (mergeTarget && mergeTarget.kind !== "SealedSecret") throw new SealError(`--merge-into ${values["merge-into"]} is not a SealedSecret`);

    const pick = (flag: "name" | "namespace"): string | undefined => {
        const fromFlag = values[flag];
        const fromManifest = manifest?.metadata?.[flag];
        if (fromFlag !== undefined && fromManifest !== undefined && fromFlag !== fromManifest) {
            throw new SealError(`--${flag} "${fromFlag}" contradicts the manifest's metadata.${flag} "${fromManifest}"`);
        }
        return fromFlag ?? fromManifest ?? mergeTarget?.metadata?.[flag];
    };
    const name = pick("name");
    const namespace = pick("namespace");
    const problems = requestProblems({ name, namespace, scope, keys: Object.keys(data) });
    if (Object.keys(data).length === 0) problems.push("no values to seal: the Secret has no data");
    if (problems.length > 0) throw new SealError(problems.join("; "));

    const key = loadCertificate(values.cert!, now);
    let sealed = sealSecret(key, {
        name: name!,
        namespace,
        scope,
        data,
        type: values.type ?? manifest?.type,
        labels: manifest?.metadata?.labels,
        annotations: manifest?.metadata?.annotations,
    });
    if (mergeTarget) {
        try {
            sealed = mergeSealed(mergeTarget, sealed);
        } catch (e) {
            throw new SealError(`--merge-into ${values["merge-into"]}: ${(e as Error).message}`);
        }
    }
    const text = yaml.dump(sealed, { lineWidth: -1, noRefs: true });
    const out = values.out ?? values["merge-into"];
    if (out) fs.writeFileSync(out, text);
    else io.write(text);
}

if (require.main === module) {
    try {
        runSeal(process.argv.slice(2), {
            readStdin: () => {
                if (process.stdin.isTTY) return undefined;
                const piped = fs.readFileSync(0);
                return piped.length > 0 ? piped : undefined;
            },
            write: (t) => process.stdout.write(t),
        });
    } catch (e) {
        process.stderr.write(`seal: ${(e as Error).message}\n`);
        process.exit(e instanceof SealError ? e.exitCode : 1);
    }
}
