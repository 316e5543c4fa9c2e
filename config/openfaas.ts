/** OpenFaaS settings: replicas, basic auth (supplied, generated or from a SealedSecret), the Pro licence. */
import { BASIC_AUTH_KEYS, BASIC_AUTH_SECRET, DEFAULT_NAMESPACES } from "../model/platform";
import { SealedSecretFile } from "../sealing/manifests";
import { checkAdminUser, checkPassword } from "./checks";
import { RawConfig } from "./files";
import { Reader } from "./reader";
import { PlatformConfig } from "./types";

/** Reads the `openfaas` section; `manifests` are the committed SealedSecrets (for `basicAuthFromSealedSecret`). */
export function readOpenFaaS(r: Reader, raw: RawConfig, manifests: readonly SealedSecretFile[]): PlatformConfig["openfaas"] {
    const gatewayReplicas = r.int("gatewayReplicas", 1, 1, 20);
    const queueWorkerReplicas = r.int("queueWorkerReplicas", 1, 1, 20);
    const adminUser = r.string("adminUser", "admin", checkAdminUser);
    const adminPassword = r.secret("adminPassword", checkPassword);
    const proLicense = r.secret("proLicense");
    const basicAuthFromSealedSecret = r.bool("basicAuthFromSealedSecret", false);
    if (basicAuthFromSealedSecret) {
        const pw = r.get("adminPassword");
        if (pw !== undefined) r.problem("adminPassword", "conflicts with basicAuthFromSealedSecret: the password is in the SealedSecret; unset one of them", pw);
        const ns = DEFAULT_NAMESPACES.core;
        const found = manifests.some((m) => m.object.metadata.name === BASIC_AUTH_SECRET && m.object.metadata.namespace === ns);
        if (!found) {
            r.problem("basicAuthFromSealedSecret", `no SealedSecret ${BASIC_AUTH_SECRET} in namespace ${ns} under sealedSecretsDir; create it with: kubectl create secret generic ${BASIC_AUTH_SECRET} -n ${ns} --from-literal=${BASIC_AUTH_KEYS.user}=admin --from-file=${BASIC_AUTH_KEYS.password}=<file> --dry-run=client -o yaml | npm run -s seal -- --stack ${raw.stack} -o yaml -w secrets/${raw.stack}/${BASIC_AUTH_SECRET}.yaml (docs/sealing.md)`, "true");
        }
    }
    return { gatewayReplicas, queueWorkerReplicas, adminUser, adminPassword, proLicense, basicAuthFromSealedSecret };
}

/** Whether the stack runs OpenFaaS Pro: a licence is given (even one refused for being plaintext, so CE limits do not pile on). */
export function isPro(r: Reader): boolean {
    return r.get("proLicense") !== undefined;
}
