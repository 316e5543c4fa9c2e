/**
 * Let's Encrypt's ACME v2 directories (v1 was switched off in 2021): one home, used by the program's
 * ClusterIssuer (components/cert-manager.ts) and by the policy pack's issuer rule.
 */
export const ACME_SERVERS = {
    "letsencrypt-prod": "https://acme-v02.api.letsencrypt.org/directory",
    "letsencrypt-staging": "https://acme-staging-v02.api.letsencrypt.org/directory",
} as const;
export type AcmeIssuerName = keyof typeof ACME_SERVERS;
