/**
 * The 2018 guide's sealed secrets and disaster recovery through the REAL engine: a stack with
 * `basicAuthFromSealedSecret` and its `basic-auth` SealedSecret committed in its sealed secrets dir is
 * brought up by `pulumi up`; the REAL sealed-secrets controller then runs as the chart's Deployment
 * says (same flags, the chart's ServiceAccount and RBAC) and turns the SealedSecret into the gateway's
 * `basic-auth` Secret. Then the cluster is gone: a second, empty control plane and a new state
 * backend, the same stack config (the same sealing key) and the same committed file, and `pulumi up`
 * alone gets the gateway the same password back.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { CONTROLLER_NAME, KEY_SECRET_NAME } from "../components/sealed-secrets";
import { BASIC_AUTH_KEYS, BASIC_AUTH_SECRET, DEFAULT_NAMESPACES } from "../model/platform";
import { SEALING_KEY_LABEL } from "../model/sealing-key";
import {
    controllerArgs,
    credentialsFromKubeconfig,
    ensureSealedSecretsController,
    SealedSecretsController,
    sealedSecretsControllerAvailable,
    serviceAccountToken,
    startSealedSecretsController,
} from "../tools/sealed-secrets-controller";
import { EngineHarness, startEngineHarness, TestStack } from "./support/engine";
import { SKIP_REASON } from "./support/engine-lifecycle";
import { sealToFile } from "./support/seal";
import { until } from "./support/wait";

const STACK = "sealed";
const NS = DEFAULT_NAMESPACES;
const SKIP = SKIP_REASON || (!sealedSecretsControllerAvailable() && "no Go toolchain and no cached sealed-secrets controller");

interface Site {
    readonly h: EngineHarness;
    readonly s: TestStack;
    readonly controller: SealedSecretsController;
    stop(): Promise<void>;
}

/** Waits for `fn` (test/support/wait.ts); a timeout shows the end of the controller's log. */
function waitFor<T>(what: string, fn: () => T | undefined, c: SealedSecretsController): Promise<T> {
    return until(what, fn, 60_000).catch((e: Error) => assert.fail(`${e.message}\n${c.log().slice(-3000)}`));
}

describe("real engine + real sealed-secrets controller: the gateway's basic-auth from a committed SealedSecret, and disaster recovery", { skip: SKIP }, () => {
    const password = `pw-${Math.random().toString(36).slice(2)}-sealed`;
    /** The committed file, as `npm run seal` wrote it with the first cluster's certificate. */
    let committed: string;
    let key: { sealingKeyPem: string; sealingCertPem: string };

    /**
     * A cluster brought up from the stack: control plane, `pulumi up` of the stack with the given
     * sealing key (or the harness's own) and the committed file, then the controller as the chart
     * deploys it, with the token of the chart's ServiceAccount.
     */
    async function site(name: string, sealingKey?: typeof key): Promise<Site> {
        const h = await startEngineHarness({ log: (l) => console.log(`# ${l}`), checkpoints: false, agentSettings: false });
        try {
            const s = await h.stack(STACK, "dev", { secrets: ["sealingKeyPem", "sealingCertPem"], extra: { basicAuthFromSealedSecret: true } });
            if (sealingKey) {
                await s.stack.setAllConfig({
                    "openfaas-gitops:sealingKeyPem": { value: sealingKey.sealingKeyPem, secret: true },
                    "openfaas-gitops:sealingCertPem": { value: sealingKey.sealingCertPem, secret: true },
                });
            }
            const dir = path.join(h.projectDir, "secrets", STACK);
            fs.mkdirSync(dir, { recursive: true });
            if (committed === undefined) {
                const cert = path.join(h.projectDir, "..", "pub-cert.pem");
                fs.writeFileSync(cert, h.credentials.sealingCertPem);
                sealToFile(cert, { name: BASIC_AUTH_SECRET, namespace: NS.core, stringData: { [BASIC_AUTH_KEYS.user]: "admin", [BASIC_AUTH_KEYS.password]: password } }, path.join(dir, "basic-auth.yaml"));
                committed = fs.readFileSync(path.join(dir, "basic-auth.yaml"), "utf8");
            } else {
                fs.writeFileSync(path.join(dir, "basic-auth.yaml"), committed);
            }
            const t = Date.now();
            const r = await s.run("up");
            console.log(`# ${name}: pulumi up took ${Math.round((Date.now() - t) / 1000)} s`);
            assert.ok(r.changed.includes(`kubernetes:bitnami.com/v1alpha1:SealedSecret::sealed-secrets-${NS.core}-${BASIC_AUTH_SECRET} (create)`), r.changed.join("\n"));
            const token = serviceAccountToken(h.cp.kubeconfig, NS.sealedSecrets, CONTROLLER_NAME);
            const workDir = path.join(h.projectDir, "..", "sealed-secrets-controller");
            fs.mkdirSync(workDir);
            const controller = await startSealedSecretsController({ credentials: credentialsFromKubeconfig(h.cp.kubeconfig, token), namespace: NS.sealedSecrets, dir: workDir });
            return { h, s, controller, stop: async () => { await controller.stop(); await h.stop(); } };
        } catch (e) {
            await h.stop();
            throw e;
        }
    }

    function secret(h: EngineHarness): Record<string, any> | undefined {
        const got = h.cp.kubectl(["-n", NS.core, "get", "secret", BASIC_AUTH_SECRET, "-o", "json", "--ignore-not-found"]);
        return got.trim() === "" ? undefined : JSON.parse(got);
    }

    const decoded = (s: Record<string, any>) => Object.fromEntries(Object.entries(s.data as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]));

    before(() => {
        ensureSealedSecretsController((l) => console.log(`# ${l}`));
    });

    describe("the first cluster", () => {
        let first: Site;
        before(async () => {
            first = await site("first cluster");
            key = { sealingKeyPem: first.h.credentials.sealingKeyPem, sealingCertPem: first.h.credentials.sealingCertPem };
        });
        after(async () => {
            await first?.stop();
        });

        it("runs the controller exactly as the chart's Deployment does, but for the listen addresses", () => {
            const dep = JSON.parse(first.h.cp.kubectl(["-n", NS.sealedSecrets, "get", "deployment", CONTROLLER_NAME, "-o", "json"]));
            const container = dep.spec.template.spec.containers.find((c: any) => c.name === "controller");
            assert.deepEqual(container.command, ["controller"]);
            assert.equal(dep.spec.template.spec.serviceAccountName, CONTROLLER_NAME, "the token it runs with is this ServiceAccount's");
            const listen = (args: string[]) => ({ http: args[args.indexOf("--listen-addr") + 1], metrics: args[args.indexOf("--listen-metrics-addr") + 1] });
            const withoutListen = (args: string[]) => args.filter((_, i) => !["--listen-addr", "--listen-metrics-addr"].includes(args[i]!) && !["--listen-addr", "--listen-metrics-addr"].includes(args[i - 1]!));
            const ours = controllerArgs({ http: 1, metrics: 2 });
            assert.deepEqual(withoutListen(ours), withoutListen(container.args));
            // The chart's listen on every interface; ours on loopback ports of their own.
            assert.deepEqual(listen(container.args), { http: ":8080", metrics: ":8081" });
            assert.deepEqual(listen(ours), { http: "127.0.0.1:1", metrics: "127.0.0.1:2" });
        });

        it("turns the committed SealedSecret into the gateway's basic-auth Secret, with the chart's RBAC and no key of its own", async () => {
            const got = await waitFor("the basic-auth Secret", () => secret(first.h), first.controller);
            assert.deepEqual(decoded(got), { [BASIC_AUTH_KEYS.password]: password, [BASIC_AUTH_KEYS.user]: "admin" });
            assert.deepEqual(got.metadata.ownerReferences.map((o: any) => `${o.kind}/${o.name}`), [`SealedSecret/${BASIC_AUTH_SECRET}`]);
            const gateway = JSON.parse(first.h.cp.kubectl(["-n", NS.core, "get", "deployment", "gateway", "-o", "json"]));
            const volumes = gateway.spec.template.spec.volumes.filter((v: any) => v.secret?.secretName === BASIC_AUTH_SECRET);
            assert.equal(volumes.length, 1, JSON.stringify(gateway.spec.template.spec.volumes));
            const keys = JSON.parse(first.h.cp.kubectl(["-n", NS.sealedSecrets, "get", "secrets", "-l", SEALING_KEY_LABEL, "-o", "json"])).items.map((s: any) => s.metadata.name);
            assert.deepEqual(keys, [KEY_SECRET_NAME], "the controller made no key of its own");
            assert.equal(first.controller.log().includes(password), false, "the password is in the controller's log");
        });
    });

    it("disaster recovery: a second, empty cluster from the same stack config and the same committed file gets the same basic-auth Secret, no manual step", async () => {
        assert.ok(key, "the first cluster ran");
        const second = await site("second cluster", key);
        try {
            const got = await waitFor("the basic-auth Secret in the second cluster", () => secret(second.h), second.controller);
            assert.deepEqual(decoded(got), { [BASIC_AUTH_KEYS.password]: password, [BASIC_AUTH_KEYS.user]: "admin" });
        } finally {
            await second.stop();
        }
    });
});
