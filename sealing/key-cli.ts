/**
 * `npm run sealing-key -- export|import`: moves a sealing key that predates this stack into it, so
 * SealedSecrets sealed for an existing cluster keep decrypting after `pulumi up` (the replacement for
 * the 2018 guide's `kubectl get secret ... --export`, which kubectl removed in 1.18).
 *
 *   npm run sealing-key -- export [--namespace kube-system] [--context c] [--out sealing-key.pem]
 *   npm run sealing-key -- import [--in sealing-key.pem] [--stack prod]
 */
import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import { parseArgs } from "node:util";
import { keyPairProblems, SEALING_KEY_LABEL } from "../model/sealing-key";
import { replaceFile } from "./output-file";


export class KeyError extends Error {
    constructor(message: string, public readonly exitCode = 2) {
        super(message);
    }
}

interface SecretItem {
    metadata: { name: string; creationTimestamp?: string; labels?: Record<string, string> };
    data?: Record<string, string>;
}

/**
 * Pure: the first private key and certificate blocks of a PEM bundle, each ending in one newline.
 * One pass over the BEGIN and END lines: a regex spanning from each BEGIN to its END went quadratic
 * on a file of unterminated blocks (any file can be given as --cert).
 */
export function splitPem(text: string): { privateKey?: string; certificate?: string } {
    const blocks: { type: string; text: string }[] = [];
    let open: { type: string; start: number } | undefined;
    for (const m of text.matchAll(/-----(BEGIN|END) ([A-Z0-9 ]+)-----/g)) {
        if (m[1] === "BEGIN") open = { type: m[2]!, start: m.index };
        else if (open && m[2] === open.type) {
            blocks.push({ type: open.type, text: text.slice(open.start, m.index + m[0].length) + "\n" });
            open = undefined;
        }
    }
    const block = (re: RegExp) => blocks.find((b) => re.test(b.type))?.text;
    return { privateKey: block(/PRIVATE KEY/), certificate: block(/^CERTIFICATE$/) };
}

/** Checks that a key and certificate can seal together (model/sealing-key.ts has the rule); returns the certificate's end date. */
export function checkPair(privateKey: string, certificate: string): string {
    const problems = keyPairProblems(privateKey, certificate);
    if (problems.length > 0) throw new KeyError(`the bundle cannot be a sealing key: ${problems.map((p) => p.expected).join("; ")}`);
    return new crypto.X509Certificate(certificate).validTo;
}

/** Where the controller's keys are: a namespace, and optionally a kubeconfig and context. */
export interface KeyLocation {
    readonly namespace: string;
    readonly context?: string;
    readonly kubeconfig?: string;
}

/**
 * The active sealing keys (label `sealedsecrets.bitnami.com/sealed-secrets-key=active`) of a
 * controller's namespace, read through the Kubernetes API with kubectl, oldest first: the controller
 * seals with the newest one.
 */
export function activeSealingKeys(at: KeyLocation): SecretItem[] {
    const kubectlArgs = [
        ...(at.kubeconfig ? ["--kubeconfig", at.kubeconfig] : []),
        ...(at.context ? ["--context", at.context] : []),
        "get", "secrets", "-n", at.namespace, "-l", `${SEALING_KEY_LABEL}=active`, "-o", "json",
    ];
    let listed: { items: SecretItem[] };
    try {
        listed = JSON.parse(execFileSync("kubectl", kubectlArgs, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }));
    } catch (e) {
        throw new KeyError(`kubectl could not list the sealing keys in namespace ${at.namespace}: ${((e as { stderr?: string }).stderr ?? String(e)).trim()}`, 1);
    }
    const keys = listed.items.filter((s) => s.data?.["tls.key"] && s.data["tls.crt"]);
    if (keys.length === 0) {
        throw new KeyError(`no active sealing key (label ${SEALING_KEY_LABEL}=active) in namespace ${at.namespace}; the 2018 guide's controller ran in namespace flux, kubeseal's default is kube-system: pass --namespace`);
    }
    return keys.sort((a, b) => (a.metadata.creationTimestamp ?? "").localeCompare(b.metadata.creationTimestamp ?? ""));
}

function exportKey(args: string[]): string {
    const { values } = parseArgs({
        args,
        options: { namespace: { type: "string", default: "sealed-secrets" }, context: { type: "string" }, kubeconfig: { type: "string" }, out: { type: "string", default: "sealing-key.pem" } },
    });
    const keys = activeSealingKeys({ namespace: values.namespace!, context: values.context, kubeconfig: values.kubeconfig });
    // The controller seals with the newest key; older ones only matter for secrets nobody re-sealed.
    const newest = keys[keys.length - 1]!;
    const keyPem = Buffer.from(newest.data!["tls.key"]!, "base64").toString("utf8");
    const certPem = Buffer.from(newest.data!["tls.crt"]!, "base64").toString("utf8");
    const validTo = checkPair(keyPem, certPem);
    try {
        replaceFile(values.out!, keyPem.trimEnd() + "\n" + certPem.trimEnd() + "\n", 0o600);
    } catch (e) {
        throw new KeyError(`--out: ${(e as Error).message}`);
    }
    const older = keys.length > 1 ? `\n${keys.length - 1} older active key(s) were not exported: re-seal what was sealed with them (npm run seal) before retiring that cluster.` : "";
    return (
        `exported ${values.namespace}/${newest.metadata.name} (certificate valid until ${validTo}) to ${values.out} (mode 0600).\n` +
        `It is the PRIVATE sealing key: never commit it; run \`npm run sealing-key -- import --in ${values.out}\`, then delete it.${older}\n`
    );
}

function importKey(args: string[]): string {
    const { values } = parseArgs({ args, options: { in: { type: "string", default: "sealing-key.pem" }, stack: { type: "string" } } });
    let text: string;
    try {
        text = fs.readFileSync(values.in!, "utf8");
    } catch (e) {
        throw new KeyError(`cannot read --in ${values.in}: ${(e as NodeJS.ErrnoException).code ?? String(e)}; create it with: npm run sealing-key -- export`);
    }
    const { privateKey, certificate } = splitPem(text);
    if (!privateKey || !certificate) throw new KeyError(`--in ${values.in} must hold a PEM private key and its certificate (what export writes)`);
    const validTo = checkPair(privateKey, certificate);
    const stack = values.stack ? ["--stack", values.stack] : [];
    const pulumi = (cfgArgs: string[], input: string) => {
        try {
            // Values go through stdin: never on a command line, where ps and shell history would see them.
            execFileSync("pulumi", ["config", "set", ...stack, ...cfgArgs], { input, stdio: ["pipe", "pipe", "pipe"] });
        } catch (e) {
            const err = e as NodeJS.ErrnoException & { stderr?: Buffer };
            if (err.code === "ENOENT") throw new KeyError("the Pulumi CLI is not on PATH; install it, then run this again", 1);
            throw new KeyError(`pulumi config set ${cfgArgs.join(" ")} failed: ${err.stderr?.toString().trim() ?? String(e)}`, 1);
        }
    };
    pulumi(["--secret", "sealingKeyPem"], privateKey);
    pulumi(["sealingCertPem"], certificate);
    return `imported the sealing key (certificate valid until ${validTo}) as sealingKeyPem (secret) and sealingCertPem${values.stack ? ` of stack ${values.stack}` : ""}.\nRun pulumi up, then delete ${values.in}.\n`;
}

export function runSealingKey(argv: string[]): string {
    const [command, ...rest] = argv;
    if (command === "export") return exportKey(rest);
    if (command === "import") return importKey(rest);
    throw new KeyError(`expected export or import, got ${command === undefined ? "nothing" : `"${command}"`}; see docs/sealing.md, "Disaster recovery"`);
}

if (require.main === module) {
    try {
        process.stdout.write(runSealingKey(process.argv.slice(2)));
    } catch (e) {
        process.stderr.write(`sealing-key: ${(e as Error).message}\n`);
        process.exit(e instanceof KeyError ? e.exitCode : 1);
    }
}
