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

/**
 * Pure: why a key (either half of a pair) cannot seal, or undefined: RSA of at least
 * {@link MIN_RSA_BITS} bits. RSA-OAEP with SHA-256 cannot wrap the 32-byte session key at all below
 * 784 bits, and 1024 bits is breakable; the controller generates 4096.
 */
export function sealingKeyProblem(key: crypto.KeyObject): string | undefined {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (key.asymmetricKeyType === "rsa" && bits >= MIN_RSA_BITS) return undefined;
    return `expected an RSA key of at least ${MIN_RSA_BITS} bits (sealed-secrets uses RSA-OAEP), not ${key.asymmetricKeyType}${key.asymmetricKeyType === "rsa" ? ` of ${bits} bits` : ""}`;
}

/** Pure: why a certificate cannot seal at `now` (its key, its validity period), or undefined. The one rule of every path that takes one. */
export function certificateProblem(cert: crypto.X509Certificate, now: Date = new Date()): string | undefined {
    const weak = sealingKeyProblem(cert.publicKey);
    if (weak) return weak;
    if (new Date(cert.validTo) < now) return `certificate expired on ${cert.validTo} (kubeseal refuses expired certificates); issue a new certificate for the same key (a stack's current one: pulumi stack output sealingCertPem)`;
    if (new Date(cert.validFrom) > now) return `certificate is not valid before ${cert.validFrom}; check this machine's clock, or wait`;
    return undefined;
}

/** Pure: why a PEM key pair cannot serve as a sealing key: PEM, each half passing the rules above, matching. [] when it can. */
export function keyPairProblems(keyPem: string, certPem: string, now: Date = new Date()): KeyPairProblem[] {
    const problems: KeyPairProblem[] = [];
    let key: crypto.KeyObject | undefined;
    try {
        key = crypto.createPrivateKey(keyPem);
    } catch {
        problems.push({ part: "key", expected: "expected a PEM private key (-----BEGIN RSA PRIVATE KEY----- or -----BEGIN PRIVATE KEY-----)" });
    }
    const weakKey = key && sealingKeyProblem(key);
    if (weakKey) {
        problems.push({ part: "key", expected: weakKey });
        key = undefined;
    }
    let cert: crypto.X509Certificate | undefined;
    try {
        cert = new crypto.X509Certificate(certPem);
    } catch {
        problems.push({ part: "cert", expected: "expected a PEM certificate (-----BEGIN CERTIFICATE-----)" });
    }
    // A weak certificate of a weak key is one problem, reported on the key.
    const certProblem = cert && !weakKey && certificateProblem(cert, now);
    if (certProblem) problems.push({ part: "cert", expected: certProblem });
    if (key && cert && !cert.checkPrivateKey(key)) {
        problems.push({ part: "cert", expected: "the certificate does not belong to the private key; supply the pair exported from the same controller key" });
    }
    return problems;
}
