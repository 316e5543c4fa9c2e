import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { parseConfig } from "../config";
import { clusterIssuerSpec } from "../components/cert-manager";
import { ACME_SERVERS } from "../policies/shared/acme";
import { contourValues } from "../components/contour";
import { namespaceSpecs } from "../components/namespaces";
import { gatewayIngressSpec, gatewayUrl, openfaasValues } from "../components/openfaas";
import { KEY_SECRET_NAME } from "../components/sealed-secrets";
import { ACTIVE_KEY_LABEL } from "../model/sealing-key";
import { PLACEHOLDER, stackFileConfig, valueOf } from "../tools/mock-engine";
import { chartInputs, one, raw, runProgram, runStack, STACKS } from "./helpers";

const NS = "kubernetes:core/v1:Namespace";
const SECRET = "kubernetes:core/v1:Secret";
const INGRESS = "kubernetes:networking.k8s.io/v1:Ingress";
const ISSUER = "kubernetes:cert-manager.io/v1:ClusterIssuer";

describe("pure spec functions", () => {
    it("namespaces carry the 2018 labels", () => {
        const s = namespaceSpecs();
        assert.deepEqual((s.core.metadata as any).labels, { role: "openfaas-system", access: "openfaas-system" });
        assert.equal((s.functions.metadata as any).labels, undefined);
        for (const k of ["contour", "certManager", "sealedSecrets"] as const) {
            assert.deepEqual((s[k].metadata as any).labels, { access: "openfaas-system" });
        }
        assert.equal((namespaceSpecs({ names: { functions: "fns" } }).functions.metadata as any).name, "fns");
    });

    it("ClusterIssuer uses ACME v2 and solves http01 through contour", () => {
        const spec = clusterIssuerSpec("letsencrypt-staging", "ops@example.com", "contour");
        assert.equal(spec.apiVersion, "cert-manager.io/v1");
        assert.equal(spec.spec.acme.server, "https://acme-staging-v02.api.letsencrypt.org/directory");
        assert.deepEqual(spec.spec.acme.solvers, [{ http01: { ingress: { ingressClassName: "contour" } } }]);
    });

    it("Envoy service type and node ports", () => {
        assert.deepEqual(contourValues({ serviceType: "NodePort", httpNodePort: 30080 }).envoy, { service: { type: "NodePort", nodePorts: { http: "30080" } } });
        assert.deepEqual(contourValues({}).envoy, { service: { type: "LoadBalancer" } });
    });

    it("OpenFaaS values switch the operator on only for Pro", () => {
        assert.deepEqual(openfaasValues({ functionNamespace: "fn", pro: false }).operator, { create: false });
        assert.deepEqual(openfaasValues({ functionNamespace: "fn", pro: true, gatewayReplicas: 2 }).operator, { create: true, leaderElection: { enabled: true } });
    });

    it("gateway ingress without a domain has no host and no TLS", () => {
        const spec = gatewayIngressSpec({ namespace: "openfaas", ingressClass: "contour" });
        assert.equal((spec.spec as any).rules[0].host, undefined);
        assert.equal((spec.spec as any).tls, undefined);
        assert.equal((spec.metadata as any).annotations["cert-manager.io/cluster-issuer"], undefined);
        assert.equal(gatewayUrl({ namespace: "openfaas" }), "http://gateway.openfaas:8080");
        assert.equal(gatewayUrl({ namespace: "openfaas", domain: "a.example.com" }), "http://a.example.com");
    });
});

describe("every shipped stack", () => {
    for (const stack of STACKS) {
        it(`${stack}: components are parents of every Kubernetes object`, async () => {
            const { resources } = await runStack(stack);
            for (const r of resources.filter((x) => x.type.startsWith("kubernetes:") || x.type.startsWith("random:") || x.type.startsWith("tls:"))) {
                assert.match(r.parentType ?? "", /^openfaas-gitops:(platform|functions|agent):/, `${r.type} ${r.name} has no component parent`);
            }
        });

        it(`${stack}: namespaces, sealing key, basic auth and replicas`, async () => {
            const cfg = parseConfig(stackFileConfig(stack));
            const { resources } = await runStack(stack);
            const namespaces = resources.filter((r) => r.type === NS).map((r) => r.inputs.metadata);
            assert.deepEqual(namespaces.find((m) => m.name === "openfaas").labels, { role: "openfaas-system", access: "openfaas-system" });
            assert.equal(namespaces.find((m) => m.name === "openfaas-fn").labels, undefined);
            for (const n of ["contour", "cert-manager", "sealed-secrets"]) {
                assert.deepEqual(namespaces.find((m) => m.name === n).labels, { access: "openfaas-system" }, n);
            }

            const key = one(resources, SECRET, "sealed-secrets-key").inputs;
            assert.equal(key.type, "kubernetes.io/tls");
            assert.equal(key.metadata.name, KEY_SECRET_NAME);
            assert.equal(key.metadata.namespace, "sealed-secrets");
            assert.deepEqual(key.metadata.labels, ACTIVE_KEY_LABEL);
            assert.deepEqual(Object.keys(key.stringData).sort(), ["tls.crt", "tls.key"]);
            assert.ok(key.secretPaths === undefined);
            assert.ok(one(resources, SECRET, "sealed-secrets-key").secretPaths.some((p) => p.startsWith("stringData")), "key material is a secret input");
            const privateKey = one(resources, "tls:index/privateKey:PrivateKey", "sealed-secrets-key").inputs;
            assert.equal(privateKey.algorithm, "RSA");
            assert.equal(privateKey.rsaBits, 4096);
            const cert = one(resources, "tls:index/selfSignedCert:SelfSignedCert").inputs;
            assert.equal(cert.validityPeriodHours, 3650 * 24);
            const sealed = chartInputs(resources, "sealed-secrets");
            assert.equal(sealed.namespace, "sealed-secrets");
            assert.equal(sealed.values.keyrenewperiod, "0");

            const auth = one(resources, SECRET, "openfaas-basic-auth").inputs;
            assert.equal(auth.metadata.name, "basic-auth");
            assert.equal(auth.metadata.namespace, "openfaas");
            assert.deepEqual(Object.keys(auth.stringData).sort(), ["basic-auth-password", "basic-auth-user"]);
            assert.equal(auth.stringData["basic-auth-user"], "admin");

            const of = chartInputs(resources, "openfaas");
            assert.equal(of.values.basic_auth, true);
            assert.equal(of.values.generateBasicAuth, false);
            assert.equal(of.values.gateway.replicas, cfg.openfaas.gatewayReplicas);
            assert.equal(of.values.queueWorker.replicas, cfg.openfaas.queueWorkerReplicas);
            assert.equal(of.values.operator.create, false);

            const contour = chartInputs(resources, "contour");
            assert.equal(contour.values.envoy.service.type, cfg.ingress.envoyServiceType);
            // No chart brings its CRDs: the CRD step applied them before the program declared anything (docs/crds.md).
            assert.deepEqual(chartInputs(resources, "cert-manager").values.crds, { enabled: false });
            for (const release of ["openfaas", "sealed-secrets", "contour", "cert-manager"]) assert.equal(chartInputs(resources, release).skipCrds, true, release);
        });

        it(`${stack}: ClusterIssuer and gateway ingress match the TLS settings`, async () => {
            const cfg = parseConfig(stackFileConfig(stack));
            const { resources, outputs } = await runStack(stack);
            const issuers = resources.filter((r) => r.type === ISSUER);
            const ingress = one(resources, INGRESS, "openfaas-gateway").inputs;
            assert.equal(ingress.spec.ingressClassName, "contour");
            assert.equal(ingress.spec.rules[0].host, cfg.ingress.domain);
            assert.deepEqual(ingress.spec.rules[0].http.paths[0].backend, { service: { name: "gateway", port: { number: 8080 } } });
            if (cfg.tls.issuer === "none") {
                assert.equal(issuers.length, 0);
                assert.equal(ingress.spec.tls, undefined);
            } else {
                const issuer = issuers[0]!.inputs;
                assert.equal(issuers.length, 1);
                assert.equal(issuer.metadata.name, cfg.tls.issuer);
                assert.equal(issuer.spec.acme.server, ACME_SERVERS[cfg.tls.issuer]);
                assert.equal(issuer.spec.acme.email, cfg.tls.acmeEmail);
                assert.equal(issuer.spec.acme.solvers[0].http01.ingress.ingressClassName, "contour");
                assert.equal(ingress.metadata.annotations["cert-manager.io/cluster-issuer"], cfg.tls.issuer);
                assert.deepEqual(ingress.spec.tls, [{ hosts: [cfg.ingress.domain], secretName: "gateway-tls" }]);
                assert.equal(await valueOf(outputs.gatewayUrl), `https://${cfg.ingress.domain}`);
            }
        });
    }

    it("prod uses Let's Encrypt production; staging uses its staging directory", async () => {
        const prod = one((await runStack("prod")).resources, ISSUER).inputs;
        assert.equal(prod.spec.acme.server, "https://acme-v02.api.letsencrypt.org/directory");
        const staging = one((await runStack("staging")).resources, ISSUER).inputs;
        assert.equal(staging.spec.acme.server, "https://acme-staging-v02.api.letsencrypt.org/directory");
    });
});

describe("credentials", () => {
    const password = "a-supplied-admin-password-0123456789";

    it("a supplied admin password reaches only the basic-auth Secret and a secret output", async () => {
        const { resources, outputs } = await runProgram(raw({ adminPassword: password }, ["adminPassword"]));
        assert.equal(resources.filter((r) => r.type.startsWith("random:")).length, 0, "no generated password when one is supplied");
        const holders = resources.filter((r) => JSON.stringify(r.inputs).includes(password)).map((r) => `${r.type} ${r.name}`);
        assert.deepEqual(holders, ["kubernetes:core/v1:Secret openfaas-basic-auth"]);
        assert.equal(await pulumi.isSecret(outputs.adminPassword), true);
        for (const [name, out] of Object.entries(outputs)) {
            const secret = name === "adminPassword" || name === "agentSyncToken";
            assert.equal(await pulumi.isSecret(out as pulumi.Output<unknown>), secret, name);
            if (name !== "adminPassword") assert.doesNotMatch(String(JSON.stringify(await valueOf(out as pulumi.Output<unknown>))), new RegExp(password), name);
        }
    });

    it("a generated admin password is a secret output too", async () => {
        const { resources, outputs } = await runStack("prod");
        const gen = one(resources, "random:index/randomPassword:RandomPassword", "openfaas-admin-password").inputs;
        assert.equal(gen.length, 32);
        assert.equal(await pulumi.isSecret(outputs.adminPassword), true);
        assert.match((await valueOf(outputs.adminPassword)) ?? "", new RegExp(PLACEHOLDER));
        assert.equal(await valueOf(outputs.adminUser), "admin");
        assert.deepEqual(await valueOf(outputs.namespaces), {
            core: "openfaas", functions: "openfaas-fn", contour: "contour", certManager: "cert-manager", sealedSecrets: "sealed-secrets",
        });
    });

    it("a Pro licence adds the licence Secret and the operator", async () => {
        const { resources } = await runProgram(raw({ proLicense: "licence-jwt" }, ["proLicense"]));
        const lic = one(resources, SECRET, "openfaas-license").inputs;
        assert.equal(lic.metadata.name, "openfaas-license");
        assert.equal(lic.stringData.license, "licence-jwt");
        const of = chartInputs(resources, "openfaas");
        assert.equal(of.values.openfaasPro, true);
        assert.equal(of.values.operator.create, true);
    });

    it("the sealing certificate is a plain output; the generated key stays in the Secret", async () => {
        const { resources, outputs } = await runStack("dev");
        assert.equal(await pulumi.isSecret(outputs.sealingCertPem), false);
        assert.match(await valueOf(outputs.sealingCertPem), /certificate/);
        const keyHolders = resources.filter((r) => JSON.stringify(r.inputs).includes(`${PLACEHOLDER}:private-key`)).map((r) => r.name);
        assert.deepEqual(keyHolders.sort(), ["sealed-secrets-cert", "sealed-secrets-key"].sort());
    });
});

describe("previewIdentity", () => {
    it("off by default: no preview identity on any shipped stack", async () => {
        for (const stack of STACKS) {
            const { resources } = await runStack(stack);
            assert.deepEqual(resources.filter((r) => r.name.startsWith("preview-identity")).map((r) => r.name), [], stack);
        }
    });

    it("true: its ServiceAccount in a namespace of its own, its ClusterRole and binding, and the policy that denies it every write but a dry run", async () => {
        const { resources } = await runProgram(raw({ previewIdentity: "true" }));
        const sa = one(resources, "kubernetes:core/v1:ServiceAccount", "preview-identity-sa").inputs;
        assert.deepEqual([sa.metadata.name, sa.metadata.namespace, sa.automountServiceAccountToken], ["openfaas-gitops-preview", "openfaas-gitops-previews", false]);
        const policy = one(resources, "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy", "preview-identity-policy").inputs;
        assert.equal(policy.spec.matchConditions[0].expression, 'request.userInfo.username == "system:serviceaccount:openfaas-gitops-previews:openfaas-gitops-preview"');
        assert.equal(policy.spec.validations[0].expression, "request.dryRun == true");
        assert.deepEqual(one(resources, "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding", "preview-identity-policy-binding").inputs.spec.validationActions, ["Deny"]);
        const role = one(resources, "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole", "preview-identity-role").inputs;
        const granted = JSON.stringify(role.rules);
        for (const never of ["secrets", "serviceaccounts/token", "pods/exec", "validatingadmissionpolic", "delete", "escalate", "bind", "impersonate"]) assert.ok(!granted.includes(never), never);
        // Its namespace carries none of the platform's labels (openfaas-fn admits role: openfaas-system), and is isolated.
        const namespace = one(resources, "kubernetes:core/v1:Namespace", "preview-identity-namespace").inputs;
        assert.deepEqual(namespace.metadata, { name: "openfaas-gitops-previews", labels: { "app.kubernetes.io/part-of": "openfaas-gitops" } });
        const isolation = one(resources, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "preview-identity-network-policy").inputs;
        assert.deepEqual(isolation.spec.ingress, [], "nothing reaches a preview pod");
        assert.deepEqual(isolation.spec.egress.map((e: { ports: { port: number }[] }) => e.ports.map((p) => p.port)), [[53, 53], [8080], [443, 6443]]);
        assert.deepEqual(isolation.spec.egress[2].to.map((t: { ipBlock: { except: string[] } }) => t.ipBlock.except), [["169.254.0.0/16"], ["fe80::/10"]], "never a cloud's metadata service");
        const without = await runProgram(raw({ previewIdentity: "true", networkPolicies: "false" }));
        assert.equal(without.resources.filter((r) => r.name === "preview-identity-network-policy").length, 0);
    });
});
