/**
 * The live cluster's certificates and kubeconfigs: one CA, the apiserver's serving certificate, a
 * client certificate per component (each its own user, so RBAC decides what it may do), the
 * service-account key pair, and node-scoped credentials for a real kubelet. EC keys: an RSA key per
 * component made start-up slower for nothing a test checks.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

function openssl(args: string[], cwd: string): void {
    execFileSync("openssl", args, { cwd, stdio: "pipe" });
}

const EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

/** A CA, the apiserver serving certificate for 127.0.0.1/localhost, and the service-account key pair. */
export function generateClusterPki(dir: string): void {
    openssl(["req", "-x509", ...EC_KEY, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=openfaas-gitops-test-ca"], dir);
    issue(dir, "apiserver", "/CN=kube-apiserver", "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n");
    // The signing key of service-account tokens stays RSA: it is what the apiserver issues tokens with.
    openssl(["genrsa", "-out", "sa.key", "2048"], dir);
    openssl(["rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub"], dir);
}

/** Signs `<name>.crt`/`<name>.key` with the CA for `subject`, with `ext` as its X.509 extensions. */
function issue(dir: string, name: string, subject: string, ext: string): { cert: string; key: string } {
    openssl(["req", ...EC_KEY, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subject], dir);
    fs.writeFileSync(path.join(dir, `${name}.ext`), ext);
    openssl(["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${name}.crt`, "-days", "2", "-extfile", `${name}.ext`], dir);
    fs.chmodSync(path.join(dir, `${name}.key`), 0o600);
    return { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) };
}

/**
 * A serving certificate for a server of the cluster other than the apiserver (a real node's kubelet):
 * `ips` as its IP SANs, so a client checking against the cluster CA accepts it at those addresses.
 */
export function issueServingCert(dir: string, name: string, subject: string, ips: readonly string[]): { cert: string; key: string } {
    return issue(dir, name, subject, `subjectAltName=${ips.map((ip) => `IP:${ip}`).join(",")}\nextendedKeyUsage=serverAuth\n`);
}

/** A client certificate: the apiserver takes CN as the user name and each O as a group. */
export function issueClientCert(dir: string, name: string, user: string, groups: readonly string[] = []): { cert: string; key: string } {
    const subject = [...groups.map((g) => `/O=${g}`), `/CN=${user}`].join("");
    return issue(dir, name, subject, "extendedKeyUsage=clientAuth\n");
}

/** A kubeconfig for one user of the cluster, by token or client certificate. */
export function writeKubeconfig(file: string, server: string, caFile: string, user: { token: string } | { cert: string; key: string }): void {
    const credentials = "token" in user ? [`    token: ${user.token}`] : [`    client-certificate: ${user.cert}`, `    client-key: ${user.key}`];
    fs.writeFileSync(
        file,
        [
            "apiVersion: v1",
            "kind: Config",
            "clusters:",
            `- name: local\n  cluster:\n    server: ${server}\n    certificate-authority: ${caFile}`,
            "users:",
            "- name: user\n  user:",
            ...credentials,
            "contexts:",
            "- name: local\n  context:\n    cluster: local\n    user: user",
            "current-context: local",
            "",
        ].join("\n"),
        { mode: 0o600 },
    );
}
