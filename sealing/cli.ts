/**
 * `npm run -s seal -- <flags>`: kubeseal's command line, offline. Seals Secrets with the public
 * sealing certificate, so function teams commit secrets without cluster access or the kubeseal
 * binary. Plaintext is read from flags, files or stdin and only ever held in memory. `-s` keeps npm's
 * banner out of stdout, which then holds only the output.
 *
 *   npm run -s seal -- --stack prod --name api -n openfaas-fn --from-literal token=... -w secrets/prod/api.yaml
 *   kubectl create secret generic api --from-file=token=./t --dry-run=client -o yaml | npm run -s seal -- --stack prod -w secrets/prod/api.yaml
 *   npm run -s seal -- --stack prod --from-file extra=./x --merge-into secrets/prod/api.yaml
 *   printf %s "$VALUE" | npm run -s seal -- --stack prod --raw --name api -n openfaas-fn
 *   npm run -s seal -- --recovery-unseal --recovery-private-key sealing-key.pem -f secrets/prod/api.yaml
 *   npm run -s seal -- --fetch-cert > secrets/prod/pub-cert.pem
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as tty from "node:tty";
import { parseArgs } from "node:util";
import * as yaml from "js-yaml";
import { activeSealingKeys, KeyError, splitPem } from "./key-cli";
import { SCOPES, Scope, scopeLabel, sealValue } from "./crypto";
import { certificateProblem } from "../model/sealing-key";
import { clip, LISTED_PROBLEMS, mergeSealed, metadataProblems, quote, requestProblems, SealedSecret, sealSecret, scopeOf, typeName, unsealSecret } from "./sealed-secret";
import { replaceFile } from "./output-file";
import { loadDocuments, YamlInputError } from "./yaml-input";

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

const OPTIONS = {
    cert: { type: "string" },
    stack: { type: "string" },
    name: { type: "string" },
    namespace: { type: "string", short: "n" },
    scope: { type: "string" },
    type: { type: "string" },
    "from-literal": { type: "string", multiple: true },
    "from-file": { type: "string", multiple: true },
    "secret-file": { type: "string", short: "f" },
    "sealed-secret-file": { type: "string", short: "w" },
    out: { type: "string" },
    format: { type: "string", short: "o" },
    "merge-into": { type: "string" },
    raw: { type: "boolean", default: false },
    "allow-empty-data": { type: "boolean", default: false },
    "recovery-unseal": { type: "boolean", default: false },
    "recovery-private-key": { type: "string", multiple: true },
    "fetch-cert": { type: "boolean", default: false },
    "controller-namespace": { type: "string", default: "sealed-secrets" },
    "controller-name": { type: "string" },
    kubeconfig: { type: "string" },
    context: { type: "string" },
    "re-encrypt": { type: "boolean", default: false },
    rotate: { type: "boolean", default: false },
    validate: { type: "boolean", default: false },
} as const;
type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>["values"];

/** kubeseal flags that need the running controller, and what to do here instead. */
const CONTROLLER_ONLY: Partial<Record<keyof Values, string>> = {
    "re-encrypt":
        "--re-encrypt asks the controller to re-seal with its newest key; this platform's key does not rotate (keyrenewperiod 0), so there is nothing to re-encrypt. To move secrets to another key: npm run -s seal -- --recovery-unseal --recovery-private-key old-key.pem -f <file> | npm run -s seal -- --stack <stack> -w <file>",
    rotate: "--rotate is kubeseal's old name of --re-encrypt, which needs the controller; see --re-encrypt in docs/sealing.md",
    validate:
        "--validate asks the controller to decrypt; offline, check a file with --recovery-unseal --recovery-private-key <key.pem> (npm run sealing-key -- export gives the key), or apply it and read the SealedSecret's status",
};

function readFileOr(file: string, what: string): Buffer {
    try {
        return fs.readFileSync(file);
    } catch (e) {
        throw new SealError(`cannot read ${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
}

/** The sealing certificate file: --cert, else the stack's committed one (docs/sealing.md); `label` names it in messages. */
function certificatePath(values: Values): { file: string; label: string } {
    if (values.cert) {
        if (/^https?:\/\//.test(values.cert)) throw new SealError(`--cert ${values.cert}: this command reads certificates from files only; download it first (curl -o pub-cert.pem ${values.cert}) or use --stack`);
        return { file: values.cert, label: `--cert ${values.cert}` };
    }
    if (values.stack) {
        const file = path.join("secrets", values.stack, "pub-cert.pem");
        return { file, label: `${file} (the certificate of --stack ${values.stack})` };
    }
    throw new SealError("which stack's key? give --stack <name> (seals with secrets/<name>/pub-cert.pem) or --cert <file>");
}

/**
 * The public key to seal with, from a certificate file that passes the one rule of
 * model/sealing-key.ts. The advice never writes over the file given: it may be something else
 * (a private key, above all) that is needed.
 */
function loadCertificate(values: Values, now: Date): crypto.KeyObject {
    const { file, label } = certificatePath(values);
    const pem = readFileOr(file, "certificate");
    const stack = values.stack ?? "<stack>";
    const writeCert = `pulumi stack output sealingCertPem > secrets/${stack}/pub-cert.pem, then seal with --stack ${stack}`;
    const blocks = splitPem(pem.toString("utf8"));
    if (blocks.privateKey && blocks.certificate) {
        throw new SealError(`${label} holds a private key beside the certificate: a sealing certificate file is public and committed, its private key must never be; move that file out of the repository (it may be your only copy of the key; if it was ever pushed, treat the key as exposed and rotate the secrets sealed with it), then: ${writeCert}`);
    }
    if (blocks.privateKey) throw new SealError(`${label} holds a private key, not a certificate: leave that file as it is and keep it out of git; seal with the public certificate: ${writeCert}`);
    let cert: crypto.X509Certificate;
    try {
        cert = new crypto.X509Certificate(pem);
    } catch {
        throw new SealError(`${label} is not a PEM certificate; write the stack's certificate with: ${writeCert}`);
    }
    const problem = certificateProblem(cert, now);
    if (problem) throw new SealError(`${label} cannot be used: ${problem}`);
    return cert.publicKey;
}

/** kubectl's --from-literal: `key=value`. */
function literal(pair: string): [string, Buffer] {
    const i = pair.indexOf("=");
    // Not echoed: without its `key=`, the argument is likely the value itself.
    if (i <= 0) throw new SealError(`--from-literal expects key=value: ${i < 0 ? "an argument has no '='" : "an argument starts with '=' (no key)"}`);
    return [pair.slice(0, i), Buffer.from(pair.slice(i + 1))];
}

/** kubectl's --from-file: `key=path`, or a path whose file name is the key. */
function fromFile(spec: string): [string, Buffer] {
    const i = spec.indexOf("=");
    const [key, file] = i < 0 ? [path.basename(spec), spec] : [spec.slice(0, i), spec.slice(i + 1)];
    if (key === "" || file === "") throw new SealError(`--from-file expects path or key=path, got "${spec}"`);
    return [key, readFileOr(file, `--from-file ${key}=`)];
}

export interface SecretManifest {
    metadata: { name?: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
    type?: string;
    immutable?: boolean;
    data: Record<string, Buffer>;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);
/** Standard padded base64, as Kubernetes requires for Secret data. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** Pure: a `data` value as the apiserver reads it: Go's base64 decoder skips \r and \n (line-wrapped output, YAML block scalars) and nothing else. */
const unwrapped = (v: string): string => v.replace(/[\r\n]/g, "");

/** The single document of a YAML or JSON file; several are refused, naming the source. */
function singleDocument(text: Buffer, source: string, what: string): unknown {
    let docs: unknown[];
    try {
        docs = loadDocuments(text.toString("utf8"));
    } catch (e) {
        throw e instanceof YamlInputError ? new SealError(`${source} ${e.message}`) : e;
    }
    if (docs.length > 1) throw new SealError(`${source} holds ${docs.length} documents; give one ${what} per run (each SealedSecret gets its own file)`);
    return docs[0];
}

/** Pure: the problems of `source` as one message, the first {@link LISTED_PROBLEMS} of them and a count of the rest. */
function listed(problems: readonly string[], source: string): string {
    const more = problems.length - LISTED_PROBLEMS;
    return problems.slice(0, LISTED_PROBLEMS).map((p) => `${source} ${p}`).join("; ") + (more > 0 ? `; and ${more} more` : "");
}

/** Kubernetes' limit on a Secret's data (the apiserver's MaxSecretSize). */
const MAX_SECRET_BYTES = 1024 * 1024;

/**
 * Reads a Secret manifest and checks it as the apiserver would (metadata, data, type), naming the
 * field of anything it would refuse; never a value of data or stringData.
 */
export function parseSecretManifest(text: Buffer, source: string): SecretManifest {
    const m = singleDocument(text, source, "Secret");
    if (!isObj(m) || m.kind !== "Secret") throw new SealError(`${source} is not a Secret manifest (kind: Secret)`);
    const problems = metadataProblems(m.metadata, "metadata");
    if (problems.length > 0) throw new SealError(listed(problems, source));
    const metadata = isObj(m.metadata) ? (m.metadata as SecretManifest["metadata"]) : {};
    // No prototype: "__proto__" is a valid Secret key, and must stay a key.
    const data: Record<string, Buffer> = Object.create(null);
    for (const [field, decode] of [["data", "base64"], ["stringData", "utf8"]] as const) {
        const values = m[field];
        if (values === undefined || values === null) continue;
        if (!isObj(values)) throw new SealError(`${source} ${field}: expected a map of keys to ${decode === "base64" ? "base64 values" : "strings"}`);
        for (const [k, v] of Object.entries(values)) {
            // The type only: a value that is not a string may still be the secret (a PIN, a numeric token).
            if (typeof v !== "string") throw new SealError(`${source} ${field}.${clip(k)}: expected a string, got ${typeName(v)}; quote the value`);
            const text = decode === "base64" ? unwrapped(v) : v;
            if (decode === "base64" && !BASE64.test(text)) throw new SealError(`${source} data.${clip(k)}: not base64; put plain text under stringData instead, or encode it (base64 -w0)`);
            data[k] = Buffer.from(text, decode);
        }
    }
    if (m.type !== undefined && typeof m.type !== "string") throw new SealError(`${source} type: expected a string such as Opaque`);
    if (m.immutable !== undefined && typeof m.immutable !== "boolean") throw new SealError(`${source} immutable: expected true or false`);
    return { metadata, type: m.type as string | undefined, immutable: m.immutable as boolean | undefined, data };
}

function parseSealedSecretFile(text: Buffer, source: string): SealedSecret {
    const doc = singleDocument(text, source, "SealedSecret");
    if (!isObj(doc) || doc.kind !== "SealedSecret" || !isObj(doc.spec) || !isObj(doc.spec.encryptedData)) throw new SealError(`${source} is not a SealedSecret (kind: SealedSecret with spec.encryptedData)`);
    const template = isObj(doc.spec.template) ? doc.spec.template.metadata : undefined;
    const problems = [...metadataProblems(doc.metadata, "metadata"), ...metadataProblems(template, "spec.template.metadata")];
    if (problems.length > 0) throw new SealError(listed(problems, source));
    return doc as unknown as SealedSecret;
}

type Format = "json" | "yaml";

/** kubeseal's choice: a .yaml/.yml output file means YAML, else --format, else JSON. */
function outputFormat(values: Values, file: string | undefined, fallback: Format = "json"): Format {
    if (values.format !== undefined && values.format !== "json" && values.format !== "yaml") throw new SealError(`--format "${values.format}" is not json or yaml`);
    if (file && /\.ya?ml$/.test(file)) return "yaml";
    if (file && /\.json$/.test(file)) return "json";
    return (values.format as Format | undefined) ?? fallback;
}

function render(obj: unknown, format: Format): string {
    return format === "json" ? JSON.stringify(obj, null, 2) + "\n" : yaml.dump(obj, { lineWidth: -1, noRefs: true });
}

/** Writes the output to a file (replaced whole, only once everything succeeded; see replaceFile) or stdout; `plaintext` output (--recovery-unseal) is mode 0600, as `sealing-key export` writes its key. */
function emit(io: SealIo, text: string, file: string | undefined, plaintext = false): void {
    if (!file) return io.write(text);
    try {
        replaceFile(file, text, plaintext ? 0o600 : 0o666);
    } catch (e) {
        throw new SealError((e as Error).message);
    }
}

function parse(argv: string[]): Values {
    try {
        return parseArgs({ args: argv, options: OPTIONS, strict: true }).values;
    } catch (e) {
        // parseArgs quotes a stray argument whole ("Unexpected argument 'horse'"), and a stray argument
        // is most often the rest of a value the shell split (--from-literal password=correct horse):
        // a secret. Say what went wrong, never the argument.
        if ((e as NodeJS.ErrnoException).code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") {
            throw new SealError(`an argument belongs to no option (not shown: it may be part of a value); quote a value holding spaces (--from-literal 'key=two words'); see the usage at the top of sealing/cli.ts or docs/sealing.md`);
        }
        throw new SealError(`${(e as Error).message}; see the usage at the top of sealing/cli.ts or docs/sealing.md`);
    }
}

function scopeFlag(values: Values): Scope | undefined {
    if (values.scope === undefined) return undefined;
    if (!(SCOPES as readonly string[]).includes(values.scope)) throw new SealError(`--scope "${values.scope}" is not one of ${SCOPES.join(", ")}`);
    return values.scope as Scope;
}

/** kubeseal --recovery-unseal: a SealedSecret (from -f or stdin) back to its Secret, with the private key(s). */
function recoveryUnseal(values: Values, io: SealIo, outFile: string | undefined): void {
    const keyFiles = (values["recovery-private-key"] ?? []).flatMap((k) => k.split(",")).filter(Boolean);
    if (keyFiles.length === 0) throw new SealError("--recovery-unseal needs --recovery-private-key <key.pem> (npm run sealing-key -- export writes one)");
    const keys = keyFiles.map((f) => privateKeyOf(readFileOr(f, "--recovery-private-key"), f));
    const source = values["secret-file"] ?? "stdin";
    const input = values["secret-file"] ? readFileOr(values["secret-file"], "--secret-file") : io.readStdin();
    if (!input) throw new SealError("--recovery-unseal reads the SealedSecret from -f <file> or stdin");
    let secret;
    try {
        secret = unsealSecret(parseSealedSecretFile(input, source), keys);
    } catch (e) {
        throw e instanceof SealError ? e : new SealError(`${source}: ${(e as Error).message}`);
    }
    emit(io, render(secret, outputFormat(values, outFile)), outFile, true);
}

/** A private key from a PEM file, or from a backup of the controller's key Secret (YAML/JSON, Secret or List), as kubeseal takes them. */
function privateKeyOf(text: Buffer, file: string): crypto.KeyObject {
    let pem = splitPem(text.toString("utf8")).privateKey;
    if (!pem) {
        let doc: unknown;
        try {
            doc = loadDocuments(text.toString("utf8"))[0];
        } catch {
            doc = undefined;
        }
        const items = isObj(doc) && Array.isArray(doc.items) ? doc.items : [doc];
        const tlsKey = items.map((i) => (isObj(i) && isObj(i.data) ? i.data["tls.key"] : undefined)).find((k) => typeof k === "string") as string | undefined;
        pem = tlsKey === undefined ? undefined : Buffer.from(tlsKey, "base64").toString("utf8");
    }
    try {
        if (!pem) throw new Error("no private key");
        return crypto.createPrivateKey(pem);
    } catch {
        throw new SealError(`--recovery-private-key ${file} holds no PEM private key (nor a key Secret with data."tls.key")`);
    }
}

/** kubeseal --fetch-cert: the certificate of the controller's newest active key, through the Kubernetes API. */
function fetchCert(values: Values, io: SealIo, outFile: string | undefined): void {
    let keys;
    try {
        keys = activeSealingKeys({ namespace: values["controller-namespace"]!, context: values.context, kubeconfig: values.kubeconfig });
    } catch (e) {
        throw new SealError((e as Error).message, e instanceof KeyError ? e.exitCode : 1);
    }
    const newest = keys[keys.length - 1]!;
    const cert = Buffer.from(newest.data!["tls.crt"]!, "base64").toString("utf8");
    // The rule --cert applies (model/sealing-key.ts): a certificate nothing may seal with is not written out.
    let problem: string | undefined;
    try {
        problem = certificateProblem(new crypto.X509Certificate(cert), io.now ?? new Date());
    } catch {
        problem = "its tls.crt is not a PEM certificate";
    }
    const id = `${values["controller-namespace"]}/${newest.metadata.name}`;
    if (problem) throw new SealError(`the active sealing key ${id} cannot seal: ${problem}`);
    emit(io, cert, outFile);
}

/** Runs the command; returns normally or throws a {@link SealError}. */
export function runSeal(argv: string[], io: SealIo): void {
    const values = parse(argv);
    for (const [flag, hint] of Object.entries(CONTROLLER_ONLY)) if (values[flag as keyof Values] === true) throw new SealError(hint!);
    if (values.out !== undefined && values["sealed-secret-file"] !== undefined) throw new SealError("give -w/--sealed-secret-file or --out (the same thing), not both");
    const outFile = values["sealed-secret-file"] ?? values.out;
    if (values["recovery-unseal"]) return recoveryUnseal(values, io, outFile);
    if (values["fetch-cert"]) return fetchCert(values, io, outFile);
    if (values["controller-name"] !== undefined) throw new SealError("--controller-name only matters with --fetch-cert, which reads the active key from --controller-namespace and needs no controller name; seal offline with --stack or --cert");
    const flagScope = scopeFlag(values);
    const now = io.now ?? new Date();
    const literals = values["from-literal"] ?? [];
    const files = values["from-file"] ?? [];

    if (values.raw) {
        if (values["secret-file"] || literals.length > 0 || files.length > 1) throw new SealError("--raw seals one value: give it with one --from-file or on stdin");
        // kubeseal: the key part of --from-file is ignored with --raw.
        const value = files.length === 1 ? fromFile(files[0]!)[1] : io.readStdin();
        if (value === undefined) throw new SealError("--raw needs the value on stdin or in one --from-file");
        const scope = flagScope ?? "strict";
        const problems = requestProblems({ name: values.name, namespace: values.namespace, scope, keys: [], nameRequired: scope === "strict" });
        if (problems.length > 0) throw new SealError(problems.join("; "));
        const key = loadCertificate(values, now);
        // kubeseal prints the raw value without a newline, so it can be pasted or piped as is.
        emit(io, sealValue(key, scopeLabel(scope, values.namespace ?? "", values.name ?? ""), value), outFile);
        return;
    }

    const data: Record<string, Buffer> = Object.create(null);
    let manifest: SecretManifest | undefined;
    if (values["secret-file"]) manifest = parseSecretManifest(readFileOr(values["secret-file"], "--secret-file"), values["secret-file"]);
    else if (literals.length === 0 && files.length === 0) {
        const stdin = io.readStdin();
        if (stdin === undefined) throw new SealError("nothing to seal: give --from-literal, --from-file, -f/--secret-file, or pipe a Secret manifest on stdin");
        manifest = parseSecretManifest(stdin, "stdin");
    }
    Object.assign(data, manifest?.data);
    for (const pair of literals) {
        const [k, v] = literal(pair);
        data[k] = v;
    }
    for (const spec of files) {
        const [k, v] = fromFile(spec);
        data[k] = v;
    }

    const mergeFile = values["merge-into"];
    const mergeText = mergeFile ? readFileOr(mergeFile, "--merge-into") : undefined;
    const target = mergeFile ? parseSealedSecretFile(mergeText!, `--merge-into ${mergeFile}`) : undefined;

    const pick = (flag: "name" | "namespace"): string | undefined => {
        const fromFlag = values[flag];
        const fromManifest = manifest?.metadata[flag];
        if (fromFlag !== undefined && fromManifest !== undefined && fromFlag !== fromManifest) {
            throw new SealError(`--${flag} ${quote(fromFlag)} contradicts the manifest's metadata.${flag} ${quote(fromManifest)}`);
        }
        return fromFlag ?? fromManifest ?? target?.metadata?.[flag];
    };
    const name = pick("name");
    const namespace = pick("namespace");
    // As kubeseal: --scope, else the input Secret's scope annotations; when merging, the file's scope.
    const annotated = manifest?.metadata.annotations ? scopeOf({ metadata: { annotations: manifest.metadata.annotations } }) : undefined;
    const scope = flagScope ?? (annotated !== "strict" ? annotated : undefined) ?? (target ? scopeOf(target) : "strict");
    const problems = requestProblems({ name, namespace, scope, keys: Object.keys(data) });
    const bytes = Object.values(data).reduce((n, b) => n + b.length, 0);
    if (bytes > MAX_SECRET_BYTES) problems.push(`the Secret holds ${bytes} bytes of data; Kubernetes refuses a Secret over ${MAX_SECRET_BYTES} bytes (1 MiB)`);
    if (Object.keys(data).length === 0 && !values["allow-empty-data"]) problems.push("the Secret has no data, assuming this is an error; to seal it empty, add --allow-empty-data");
    if (problems.length > 0) throw new SealError(problems.join("; "));

    const key = loadCertificate(values, now);
    let sealed = sealSecret(key, {
        name: name!,
        namespace,
        scope,
        data,
        type: values.type ?? manifest?.type,
        labels: manifest?.metadata.labels,
        annotations: manifest?.metadata.annotations,
        immutable: manifest?.immutable,
    });
    if (target) {
        try {
            sealed = mergeSealed(target, sealed);
        } catch (e) {
            throw new SealError(`--merge-into ${mergeFile}: ${(e as Error).message}`);
        }
        // The file keeps its own format unless -o says otherwise (kubeseal would rewrite a YAML file as JSON).
        const fileFormat: Format = mergeText!.toString("utf8").trimStart().startsWith("{") ? "json" : "yaml";
        emit(io, render(sealed, outputFormat(values, outFile ?? mergeFile, fileFormat)), outFile ?? mergeFile);
        return;
    }
    emit(io, render(sealed, outputFormat(values, outFile)), outFile);
}

/**
 * All of standard input. A pipe can be non-blocking (Node makes it so when it is shared): an empty
 * pipe whose writer is still working then answers EAGAIN, which means "later", not the end.
 */
function readAllStdin(): Buffer {
    const chunks: Buffer[] = [];
    const buffer = Buffer.alloc(64 * 1024);
    const pause = new Int32Array(new SharedArrayBuffer(4));
    for (;;) {
        let n: number;
        try {
            n = fs.readSync(0, buffer, 0, buffer.length, null);
        } catch (e) {
            const code = (e as NodeJS.ErrnoException).code;
            if (code === "EAGAIN") {
                Atomics.wait(pause, 0, 0, 20);
                continue;
            }
            if (code === "EOF") break;
            throw e;
        }
        if (n === 0) break;
        chunks.push(Buffer.from(buffer.subarray(0, n)));
    }
    return Buffer.concat(chunks);
}

if (require.main === module) {
    try {
        runSeal(process.argv.slice(2), {
            readStdin: () => {
                if (tty.isatty(0)) return undefined;
                const piped = readAllStdin();
                return piped.length > 0 ? piped : undefined;
            },
            write: (t) => process.stdout.write(t),
        });
    } catch (e) {
        process.stderr.write(`seal: ${(e as Error).message}\n`);
        process.exit(e instanceof SealError ? e.exitCode : 1);
    }
}
