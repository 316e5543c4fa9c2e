/** The sealing key (bring-your-own or generated) and the committed SealedSecrets of `sealedSecretsDir`. */
import { keyPairProblems } from "../model/sealing-key";
import { isManifestFile, parseSealedSecretFile, SealedSecretFile } from "../sealing/manifests";
import { projectFiles, projectRelativePath, RawConfig, unreadableReason } from "./files";
import { Reader } from "./reader";
import { PlatformConfig } from "./types";

/** Checks a bring-your-own sealing key pair (model/sealing-key.ts has the rule). */
function checkSealingKey(r: Reader, keyPem: string, certPem: string, now: Date): void {
    for (const p of keyPairProblems(keyPem, certPem, now)) {
        if (p.part === "key") r.problem("sealingKeyPem", p.expected, keyPem);
        else r.problem("sealingCertPem", p.expected, certPem.slice(0, 40) + "...");
    }
}

/** Reads every SealedSecret manifest under `sealedSecretsDir`; a malformed file is a problem naming its path. */
function readSealedSecrets(r: Reader, raw: RawConfig): SealedSecretFile[] {
    // Per stack by default: each stack has its own sealing key, so its secrets are sealed for it alone.
    const given = r.string("sealedSecretsDir", `secrets/${raw.stack}`);
    const rel = projectRelativePath(given);
    if ("problem" in rel) {
        r.problem("sealedSecretsDir", rel.problem, given);
        return [];
    }
    const dir = rel.path;
    const files = raw.files ?? projectFiles(process.cwd());
    const out: SealedSecretFile[] = [];
    const seen = new Map<string, string>();
    let names: string[];
    try {
        names = files.list(dir);
    } catch (e) {
        r.problem("sealedSecretsDir", `cannot list it (${unreadableReason(e)})`, given);
        return [];
    }
    for (const name of names.filter(isManifestFile)) {
        const file = `${dir}/${name}`;
        let text: string;
        try {
            text = files.read(file);
        } catch (e) {
            r.fileProblem(file, `cannot read it (${unreadableReason(e)})`);
            continue;
        }
        const parsed = parseSealedSecretFile(text, file);
        r.addAll(parsed.problems);
        for (const o of parsed.objects) {
            const id = `${o.object.metadata.namespace}/${o.object.metadata.name}`;
            if (seen.has(id)) r.fileProblem(o.file, `SealedSecret ${id} is also defined in ${seen.get(id)}; keep one (npm run -s seal -- --stack <stack> -o yaml --merge-into <file> merges keys: docs/sealing.md)`);
            seen.set(id, o.file);
            out.push(o);
        }
    }
    return out;
}

/** Reads the sealing key (both halves or neither), its certificate's validity and the committed SealedSecrets. */
export function readSealing(r: Reader, raw: RawConfig, now: Date): PlatformConfig["sealedSecrets"] {
    const keyPemRaw = r.get("sealingKeyPem");
    const certPem = r.optString("sealingCertPem");
    const keyPem = r.secret("sealingKeyPem");
    if ((keyPemRaw === undefined) !== (certPem === undefined)) {
        r.problem(keyPemRaw === undefined ? "sealingKeyPem" : "sealingCertPem", "sealingKeyPem and sealingCertPem go together: set both (bring your own key) or neither (generate one)");
    } else if (keyPemRaw !== undefined && certPem !== undefined && keyPem) {
        checkSealingKey(r, keyPemRaw, certPem, now);
    }
    const certValidityDays = r.int("sealingCertValidityDays", 3650, 30, 36500);
    const manifests = readSealedSecrets(r, raw);
    return { key: keyPem && certPem ? { privateKeyPem: keyPem, certPem } : undefined, certValidityDays, manifests };
}
