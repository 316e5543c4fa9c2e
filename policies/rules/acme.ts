import type { ResourceValidationPolicy } from "@pulumi/policy";
import { ACME_SERVERS } from "../shared/acme";
import { ISSUER, label } from "./resource";

export const acmeV2: ResourceValidationPolicy = {
    name: "acme-v2",
    description: "ClusterIssuers use a Let's Encrypt ACME v2 endpoint, the production one where required (prod).",
    enforcementLevel: "mandatory",
    configSchema: { properties: { requireProduction: { type: "boolean", default: false } } },
    validateResource: (args, report) => {
        if (args.type !== ISSUER) return;
        const server = args.props.spec?.acme?.server;
        if (server === undefined) return;
        const who = label(args.type, args.props, args.name);
        if (server !== ACME_SERVERS["letsencrypt-prod"] && server !== ACME_SERVERS["letsencrypt-staging"]) {
            report(`${who}: ACME server ${server} is not Let's Encrypt ACME v2 (v1 was switched off in 2021); use tlsIssuer letsencrypt-prod or letsencrypt-staging`);
        } else if (args.getConfig<{ requireProduction: boolean }>().requireProduction && server !== ACME_SERVERS["letsencrypt-prod"]) {
            report(`${who}: this stack requires the production endpoint, but ${server} issues untrusted staging certificates; set tlsIssuer: letsencrypt-prod`);
        }
    },
};
