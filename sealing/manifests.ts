/** Reads the committed SealedSecret manifests (`secrets/*.yaml`). Pure: text in, objects or problems out. */
import { clip, LISTED_PROBLEMS, metadataProblems, quote, SealedSecret, scopeOf } from "./sealed-secret";
import { loadDocuments, YamlInputError } from "./yaml-input";
import { DNS_LABEL, DNS_SUBDOMAIN, SECRET_KEY } from "../model/names";
import { DEFAULT_NAMESPACES } from "../model/platform";
import { Problem, Problems } from "../model/problem";

/** Where a cluster-wide SealedSecret without a namespace is applied: the function namespace, where function secrets are mounted from. */
export const CLUSTER_WIDE_DEFAULT_NAMESPACE = DEFAULT_NAMESPACES.functions;

export interface SealedSecretFile {
    /** Project-relative path, for messages and resource names. */
    readonly file: string;
    readonly object: SealedSecret;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** Files of the secrets directory that hold manifests; the certificate and docs are not manifests. */
export function isManifestFile(name: string): boolean {
    return /\.(ya?ml|json)$/.test(name);
}

/** Pure: the SealedSecrets of one file (YAML, possibly several documents, or JSON), and what is wrong with it. */
export function parseSealedSecretFile(text: string, file: string): { objects: SealedSecretFile[]; problems: Problem[] } {
    let docs: unknown[];
    try {
        docs = loadDocuments(text);
    } catch (e) {
        if (!(e instanceof YamlInputError)) throw e;
        return { objects: [], problems: [{ key: file, expected: e.message }] };
    }
    const objects: SealedSecretFile[] = [];
    const problems = new Problems();
    docs.forEach((doc, i) => {
        const at = docs.length > 1 ? `${file} (document ${i + 1})` : file;
        const d = doc as Omit<Partial<SealedSecret>, "kind" | "apiVersion"> & { kind?: string; apiVersion?: string };
        if (d?.kind === "Secret") {
            problems.add(at, `a plaintext Secret must never be committed; seal it (npm run -s seal -- --stack <stack> -f ${file} -w ${file}) and rotate the values it exposed`);
            return;
        }
        if (d?.apiVersion !== "bitnami.com/v1alpha1" || d?.kind !== "SealedSecret") {
            problems.add(at, `expected apiVersion bitnami.com/v1alpha1 and kind SealedSecret`);
            return;
        }
        const shapeProblems = [...metadataProblems(d.metadata, "metadata"), ...metadataProblems(d.spec?.template?.metadata, "spec.template.metadata")];
        for (const p of shapeProblems.slice(0, LISTED_PROBLEMS)) problems.add(at, p);
        if (shapeProblems.length > LISTED_PROBLEMS) problems.add(at, `and ${shapeProblems.length - LISTED_PROBLEMS} more problems of metadata, labels and annotations`);
        if (shapeProblems.length > 0) return;
        const name = d.metadata?.name;
        const namespace = d.metadata?.namespace;
        if (name === undefined) problems.add(at, "metadata.name is missing (the Secret's name, a DNS-1123 subdomain)");
        else if (!DNS_SUBDOMAIN.test(name)) problems.add(at, `metadata.name ${quote(name)} is not a DNS-1123 subdomain`);
        const sealedScope = scopeOf(d as SealedSecret);
        let object = d as SealedSecret;
        if (sealedScope === "cluster-wide" && (namespace === undefined || namespace === "")) {
            // kubeseal and npm run seal write cluster-wide secrets without a namespace (they decrypt in
            // any); applied from here, one goes where functions read their secrets.
            object = { ...object, metadata: { ...object.metadata, namespace: CLUSTER_WIDE_DEFAULT_NAMESPACE } };
        } else if (namespace === undefined || namespace === "") {
            problems.add(at, `metadata.namespace is required (the namespace the Secret is created in; only a cluster-wide SealedSecret may leave it out)`);
        } else if (!DNS_LABEL.test(namespace)) {
            problems.add(at, `metadata.namespace ${quote(namespace)} is not a DNS-1123 label`);
        }
        const data = d.spec?.encryptedData;
        // Empty is allowed: kubeseal and npm run seal write it with --allow-empty-data.
        if (!data || typeof data !== "object" || Array.isArray(data)) {
            problems.add(at, `spec.encryptedData is missing (a map of keys to sealed values)`);
        } else {
            for (const [k, v] of Object.entries(data)) {
                if (!SECRET_KEY.test(k)) problems.add(at, `spec.encryptedData: key ${quote(k)} is not a valid Secret key (letters, digits, '-', '_' and '.')`);
                else if (typeof v !== "string" || !BASE64.test(v)) problems.add(at, `spec.encryptedData.${clip(k)} is not base64 sealed data`);
            }
        }
        const templateName = d.spec?.template?.metadata?.name;
        if (sealedScope === "strict" && templateName !== undefined && templateName !== name) {
            problems.add(at, `spec.template.metadata.name ${quote(templateName)} differs from metadata.name ${quote(name ?? "")}; a strict SealedSecret only decrypts under its own name`);
        }
        objects.push({ file: at, object });
    });
    return { objects, problems: problems.list };
}
