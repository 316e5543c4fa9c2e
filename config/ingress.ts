/** Ingress (Envoy service, node ports, domain) and TLS (issuer, ACME account) settings. */
import { checkDomain, checkEmail } from "./checks";
import { ENVOY_SERVICE_TYPES, TLS_ISSUERS } from "./keys";
import { Reader } from "./reader";
import { PlatformConfig } from "./types";

/** Reads `domain`, `envoyServiceType` and the node ports. */
export function readIngress(r: Reader): PlatformConfig["ingress"] {
    const domain = r.optString("domain", checkDomain);
    const envoyServiceType = r.oneOf("envoyServiceType", ENVOY_SERVICE_TYPES, "LoadBalancer");
    // 0 = let Kubernetes assign the port (Pulumi.yaml needs a default for an optional integer).
    const httpNodePort = r.optInt("envoyHttpNodePort", 30000, 32767, 0);
    const httpsNodePort = r.optInt("envoyHttpsNodePort", 30000, 32767, 0);
    if (envoyServiceType !== "NodePort") {
        const ports = { envoyHttpNodePort: httpNodePort, envoyHttpsNodePort: httpsNodePort };
        for (const [key, port] of Object.entries(ports)) {
            if (port !== undefined) r.problem(key, "node ports apply only with envoyServiceType NodePort; remove it or set envoyServiceType: NodePort", String(port));
        }
    }
    if (httpNodePort !== undefined && httpNodePort === httpsNodePort) {
        r.problem("envoyHttpsNodePort", "must differ from envoyHttpNodePort", String(httpsNodePort));
    }
    return { domain, envoyServiceType, httpNodePort, httpsNodePort };
}

/** Reads `tlsIssuer` and `acmeEmail`; an issuer needs the account e-mail and the domain it certifies. */
export function readTls(r: Reader, domain: string | undefined): PlatformConfig["tls"] {
    const issuer = r.oneOf("tlsIssuer", TLS_ISSUERS, "none");
    const acmeEmail = r.optString("acmeEmail", checkEmail);
    if (issuer !== "none") {
        if (acmeEmail === undefined) r.problem("acmeEmail", `required when tlsIssuer is ${issuer}: Let's Encrypt needs an account e-mail`);
        if (domain === undefined) r.problem("domain", `required when tlsIssuer is ${issuer}: the certificate is issued for this host`);
    }
    return { issuer, acmeEmail };
}
