/**
 * The one list of variables that reach the agent's Pulumi runs (model/engine-env.ts): the engine
 * passes exactly what the stack config accepts in `agentEngineEnv`, proxies included.
 */
import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import fc from "fast-check";
import { engineEnvironment } from "../agent/pulumi-engine";
import { engineEnvAllowed, proxyEnvironment, PROXY_ENV_NAMES } from "../model/engine-env";

describe("engine environment", () => {
    it("proxy variables reach the engine; the in-cluster apiserver stays direct", () => {
        const env = engineEnvironment({ PATH: "/bin", HTTPS_PROXY: "http://proxy:3128", no_proxy: "localhost", KUBERNETES_SERVICE_HOST: "10.96.0.1", B2_APPLICATION_KEY: "b2", GITHUB_TOKEN: "t" });
        assert.equal(env.HTTPS_PROXY, "http://proxy:3128");
        assert.equal(env.no_proxy, "localhost,10.96.0.1");
        assert.equal(env.NO_PROXY, undefined, "the spelling given is the one extended");
        assert.equal(env.B2_APPLICATION_KEY, undefined);
        assert.equal(env.GITHUB_TOKEN, undefined);
        assert.deepEqual(proxyEnvironment({ HTTP_PROXY: "http://p:1" }, ["10.0.0.1"]), { HTTP_PROXY: "http://p:1", NO_PROXY: "10.0.0.1", no_proxy: "10.0.0.1" });
        assert.deepEqual(proxyEnvironment({ NO_PROXY: "x" }, ["10.0.0.1"]), { NO_PROXY: "x" }, "no proxy, nothing added");
        assert.deepEqual(proxyEnvironment({ HTTPS_PROXY: "http://p:1", NO_PROXY: "10.0.0.1, y" }, ["10.0.0.1"]).NO_PROXY, "10.0.0.1,y");
    });

    it("property: a variable reaches the engine exactly when the config accepts its name", () => {
        const name = fc.oneof(
            fc.constantFrom(...PROXY_ENV_NAMES, "PULUMI_CONFIG_PASSPHRASE", "PULUMI_ACCESS_TOKEN", "B2_APPLICATION_KEY", "AWS_", "KUBECONFIG", "AGENT_SYNC_TOKEN_FILE"),
            fc.tuple(fc.constantFrom("AWS_", "AZURE_", "ARM_", "GOOGLE_", "VAULT_", "GITHUB_", "aws_", ""), fc.string({ unit: fc.constantFrom(..."ABZ09_az-"), maxLength: 8 })).map(([p, s]) => p + s),
        );
        fc.assert(
            fc.property(name, (n) => {
                // The base variables (PATH, HOME, KUBECONFIG, ...) are the pod's own, never taken from agentEngineEnv.
                fc.pre(!/^(PATH|HOME|TMPDIR|LANG|TZ|SSL_CERT_FILE|SSL_CERT_DIR|NODE_EXTRA_CA_CERTS|KUBERNETES_SERVICE_HOST|KUBERNETES_SERVICE_PORT|KUBECONFIG|PULUMI_HOME)$/.test(n));
                assert.equal(n in engineEnvironment({ [n]: "v" }), engineEnvAllowed(n), n);
            }),
            { numRuns: 300 },
        );
    });
});
