/**
 * The sealed-secrets hybrid encryption, byte-compatible with the controller (unchanged since
 * v0.7): a random 32-byte AES key wrapped with RSA-OAEP (SHA-256, MGF1 SHA-256, the scope label),
 * then AES-256-GCM with a 12-byte zero nonce and no additional data. Output: 2-byte big-endian
 * length of the RSA ciphertext, the RSA ciphertext, the AES ciphertext with its 16-byte tag.
 * The zero nonce is safe because every value gets a fresh AES key.
 */
import * as crypto from "node:crypto";

export type Scope = "strict" | "namespace-wide" | "cluster-wide";

/** Annotations that tell the controller which scope a SealedSecret was sealed with. */
export const SCOPE_ANNOTATIONS: Readonly<Record<Scope, Record<string, string>>> = {
    strict: {},
    "namespace-wide": { "sealedsecrets.bitnami.com/namespace-wide": "true" },
    "cluster-wide": { "sealedsecrets.bitnami.com/cluster-wide": "true" },
};

/** Pure: the OAEP label binding a value to its scope. */
export function scopeLabel(scope: Scope, namespace: string, name: string): Buffer {
    switch (scope) {
        case "strict":
            return Buffer.from(`${namespace}/${name}`);
        case "namespace-wide":
            return Buffer.from(namespace);
        case "cluster-wide":
            return Buffer.alloc(0);
    }
}

/** Encrypts one value; returns the standard, padded base64 the controller expects. */
export function sealValue(publicKey: crypto.KeyObject, label: Buffer, plaintext: Buffer): string {
    const sessionKey = crypto.randomBytes(32);
    const wrapped = crypto.publicEncrypt({ key: publicKey, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256", oaepLabel: label }, sessionKey);
    const cipher = crypto.createCipheriv("aes-256-gcm", sessionKey, Buffer.alloc(12));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    const length = Buffer.alloc(2);
    length.writeUInt16BE(wrapped.length);
    return Buffer.concat([length, wrapped, body]).toString("base64");
}
