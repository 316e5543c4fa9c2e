/**
 * The sealed-secrets controller's sealing key: how the controller recognises it, and what a key pair
 * must be to seal and unseal (one rule for bring-your-own keys in stack config and for the
 * export/import tool).
 */
import * as crypto from "node:crypto";

/** Label key the controller selects its sealing keys by. */
export const SEALING_KEY_LABEL = "sealedsecrets.bitnami.com/sealed-secrets-key";
/** Label that makes the controller load a Secret as its active sealing key. */
export const ACTIVE_KEY_LABEL = { [SEALING_KEY_LABEL]: "active" } as const;
/** Smallest RSA modulus accepted: sealed-secrets seals with RSA-OAEP. */
export const MIN_RSA_BITS = 2048;

/** A problem of a key pair: which half it is about and what was expected. */
export interface KeyPairProblem {
    readonly part: "key" | "cert";
    readonly expected: string;
}

/** Pure: why a PEM key pair cannot serve as a sealing key: PEM, RSA of at least 2048 bits, matching, not expired. [] when it can. */
export function keyPairProblems(keyPem: string, certPem: string, now: Date = new Date()): KeyPairProblem[] {
    const problems: KeyPairProblem[] = [];
    let key: crypto.KeyObject | undefined;
    try {
        key = crypto.createPrivateKey(keyPem);
    } catch {
        problems.push({ part: "key", expected: "expected a PEM private key (-----BEGIN RSA PRIVATE KEY----- or -----BEGIN PRIVATE KEY-----)" });
    }
    if (key && (key.asymmetricKeyType !== "rsa" || (key.asymmetricKeyDetails?.modulusLength ?? 0) < MIN_RSA_BITS)) {
        problems.push({ part: "key", expected: `expected an RSA key of at least ${MIN_RSA_BITS} bits (sealed-secrets uses RSA-OAEP), not ${key.asymmetricKeyType}${key.asymmetricKeyType === "rsa" ? ` of ${key.asymmetricKeyDetails?.modulusLength} bits` : ""}` });
        key = undefined;
    }
    let cert: crypto.X509Certificate | undefined;
    try {
        cert = new crypto.X509Certificate(certPem);
    } catch {
        problems.push({ part: "cert", expected: "expected a PEM certificate (-----BEGIN CERTIFICATE-----)" });
    }
    if (cert && new Date(cert.validTo) < now) {
        problems.push({ part: "cert", expected: `certificate expired on ${cert.validTo}; kubeseal refuses expired certificates, issue a new one for the same key` });
    }
    if (key && cert && !cert.checkPrivateKey(key)) {
        problems.push({ part: "cert", expected: "the certificate does not belong to the private key; supply the pair exported from the same controller key" });
    }
    return problems;
}
