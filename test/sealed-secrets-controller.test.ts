/**
 * The REAL sealed-secrets controller (v0.36.6, built from its Go module) as a process against the REAL
 * kube-apiserver, with the sealing key installed the way the program installs it
 * (sealingKeySecretSpec) and SealedSecret files written by `npm run seal` (the stack's certificate
 * checked, then the real kubeseal): the controller decrypts them into Secrets it owns, reports a SealedSecret
 * it cannot decrypt, and logs no secret. Then the 2018 guide's disaster recovery, for real: a second,
 * empty cluster given the same key (as `pulumi up` of the same stack gives it) decrypts the same
 * committed files with no manual step.
 */
import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import * as yaml from "js-yaml";
import { KEY_SECRET_NAME, sealingKeySecretSpec } from "../components/sealed-secrets";
import { ControlPlane, controlPlaneAvailable, ensureBinaries, installCrds, startControlPlane } from "../tools/controlplane";
import { freePort } from "../tools/net";
import { credentialsFromKubeconfig, ensureSealedSecretsController, SealedSecretsController, sealedSecretsControllerAvailable, startSealedSecretsController } from "../tools/sealed-secrets-controller";
import { sealToFile } from "./support/seal";
import { onLoopback, procAddress, socketsOf } from "./support/sockets";
import { until } from "./support/wait";
import { tempDir } from "./support/tmp";

const CONTROLLER_NS = "sealed-secrets";
const APP_NS = "openfaas";
const available = controlPlaneAvailable() && sealedSecretsControllerAvailable();

/** An RSA 4096 key and self-signed certificate, as the program generates one (@pulumi/tls). */
function keyPair(dir: string, name: string): { key: string; cert: string; certFile: string } {
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:4096", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.crt`, "-days", "30", "-subj", "/O=sealed-secret/CN=sealed-secret"], { cwd: dir, stdio: "pipe" });
    return { key: fs.readFileSync(path.join(dir, `${name}.key`), "utf8"), cert: fs.readFileSync(path.join(dir, `${name}.crt`), "utf8"), certFile: path.join(dir, `${name}.crt`) };
}

/** `npm run -s seal -- --cert <cert> -o yaml -w <file>` of a Secret `name` in the app namespace. */
function seal(certFile: string, name: string, stringData: Record<string, string>, file: string): void {
    sealToFile(certFile, { name, namespace: APP_NS, stringData }, file);
}

/** Waits for `fn` (test/support/wait.ts); a timeout shows the end of the controller's log. */
function waitFor<T>(what: string, fn: () => T | undefined, c: SealedSecretsController): Promise<T> {
    return until(what, fn, 60_000).catch((e: Error) => assert.fail(`${e.message}\n${c.log().slice(-3000)}`));
}

describe("the sealed-secrets controller on the real control plane", { skip: !available && "no Go toolchain and no cached binaries" }, () => {
    let work: string;
    let sealing: { key: string; cert: string; certFile: string };
    const password = `pw-${Math.random().toString(36).slice(2)}-not-in-any-log`;
    const strayValue = `stray-${Math.random().toString(36).slice(2)}`;
    /** The committed files: basic-auth sealed with the stack's key, and one sealed with some other key. */
    let basicAuthFile: string;
    let strayFile: string;

    /** A cluster of its own: control plane, the two namespaces, the key Secret as the program applies it, the controller. */
    async function cluster(name: string): Promise<{ cp: ControlPlane; controller: SealedSecretsController; stop: () => Promise<void> }> {
        const cp = await startControlPlane();
        let controller: SealedSecretsController | undefined;
        try {
            installCrds(cp);
            cp.kubectl(["create", "namespace", CONTROLLER_NS]);
            cp.kubectl(["create", "namespace", APP_NS]);
            cp.kubectl(["apply", "-f", "-"], yaml.dump(sealingKeySecretSpec(CONTROLLER_NS, sealing.key, sealing.cert)));
            const dir = path.join(work, name);
            fs.mkdirSync(dir);
            // The admin token: the chart's ServiceAccount and RBAC exist only where the chart was installed
            // (the engine test runs it with them).
            controller = await startSealedSecretsController({ credentials: credentialsFromKubeconfig(cp.kubeconfig), namespace: CONTROLLER_NS, dir });
        } catch (e) {
            await cp.stop();
            throw e;
        }
        const c = controller;
        return { cp, controller: c, stop: async () => { await c.stop(); await cp.stop(); } };
    }

    function secretOf(cp: ControlPlane, name: string): Record<string, any> | undefined {
        const got = cp.kubectl(["-n", APP_NS, "get", "secret", name, "-o", "json", "--ignore-not-found"]);
        return got.trim() === "" ? undefined : JSON.parse(got);
    }

    function sealedSecretOf(cp: ControlPlane, name: string): Record<string, any> {
        return JSON.parse(cp.kubectl(["-n", APP_NS, "get", "sealedsecret", name, "-o", "json"]));
    }

    function decoded(secret: Record<string, any>): Record<string, string> {
        return Object.fromEntries(Object.entries(secret.data as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]));
    }

    before(() => {
        ensureBinaries((l) => console.log(`# ${l}`));
        ensureSealedSecretsController((l) => console.log(`# ${l}`));
        work = tempDir("ofg-sealed-");
        sealing = keyPair(work, "stack");
        const other = keyPair(work, "other");
        fs.mkdirSync(path.join(work, "secrets"));
        basicAuthFile = path.join(work, "secrets", "basic-auth.yaml");
        strayFile = path.join(work, "secrets", "stray.yaml");
        seal(sealing.certFile, "basic-auth", { "basic-auth-user": "admin", "basic-auth-password": password }, basicAuthFile);
        seal(other.certFile, "stray", { value: strayValue }, strayFile);
    });
    after(() => {
        if (work) fs.rmSync(work, { recursive: true, force: true });
    });

    describe("a cluster with the stack's key", () => {
        let c: Awaited<ReturnType<typeof cluster>>;
        before(async () => {
            c = await cluster("first");
            c.cp.kubectl(["apply", "-f", basicAuthFile, "-f", strayFile]);
        });
        after(async () => {
            await c?.stop();
        });

        it("adopts the installed key as its only key and generates none (keyrenewperiod 0)", async () => {
            const keys = JSON.parse(c.cp.kubectl(["-n", CONTROLLER_NS, "get", "secrets", "-o", "json"])).items.map((s: any) => s.metadata.name);
            assert.deepEqual(keys, [KEY_SECRET_NAME]);
            // What kubeseal --fetch-cert reads from the controller: the certificate the program installed.
            const served = await (await fetch(`${c.controller.url}/v1/cert.pem`)).text();
            assert.equal(served.trim(), sealing.cert.trim());
            assert.match(c.controller.log(), new RegExp(`registered private key.*${KEY_SECRET_NAME}`));
        });

        it("decrypts the committed SealedSecret into the Secret it owns, with Synced True", async () => {
            const secret = await waitFor("the Secret basic-auth", () => secretOf(c.cp, "basic-auth"), c.controller);
            assert.deepEqual(decoded(secret), { "basic-auth-password": password, "basic-auth-user": "admin" });
            assert.equal(secret.type, "Opaque");
            const ss = sealedSecretOf(c.cp, "basic-auth");
            assert.deepEqual(secret.metadata.ownerReferences, [
                { apiVersion: "bitnami.com/v1alpha1", kind: "SealedSecret", name: "basic-auth", uid: ss.metadata.uid, controller: true },
            ]);
            const synced = await waitFor(
                "basic-auth to report Synced True",
                () => {
                    const s = sealedSecretOf(c.cp, "basic-auth").status;
                    return s?.conditions?.some((x: any) => x.type === "Synced" && x.status === "True") ? s : undefined;
                },
                c.controller,
            );
            assert.equal(synced.observedGeneration, ss.metadata.generation);
            // The controller's Event recorder posts from a goroutine of its own: the Event may land after the status.
            await waitFor("the Unsealed Event", () => {
                const events = JSON.parse(c.cp.kubectl(["-n", APP_NS, "get", "events", "--field-selector", "involvedObject.name=basic-auth", "-o", "json"])).items;
                return events.some((e: any) => e.reason === "Unsealed" && e.type === "Normal") ? true : undefined;
            }, c.controller);
        });

        it("does not decrypt a SealedSecret sealed with another key, and says so in its status and an Event", async () => {
            const status = await waitFor(
                "stray to report Synced False",
                () => {
                    const s = sealedSecretOf(c.cp, "stray").status;
                    return s?.conditions?.find((x: any) => x.type === "Synced" && x.status === "False");
                },
                c.controller,
            );
            assert.match(status.message, /no key could decrypt secret/);
            assert.equal(secretOf(c.cp, "stray"), undefined);
            await waitFor("the ErrUnsealFailed Event", () => {
                const events = JSON.parse(c.cp.kubectl(["-n", APP_NS, "get", "events", "--field-selector", "involvedObject.name=stray", "-o", "json"])).items;
                return events.some((e: any) => e.reason === "ErrUnsealFailed" && e.type === "Warning") ? true : undefined;
            }, c.controller);
        });

        it("logs no secret: neither plaintext, nor the sealing key, nor its token", () => {
            const log = fs.readFileSync(c.controller.logFile, "utf8");
            assert.ok(log.length > 0);
            for (const [what, s] of [["the password", password], ["the stray value", strayValue], ["its token", credentialsFromKubeconfig(c.cp.kubeconfig).token]] as const) {
                assert.equal(log.includes(s), false, `${what} is in ${c.controller.logFile}`);
            }
            const keyBody = sealing.key.split("\n").filter((l) => !l.startsWith("-----")).join("");
            assert.equal(log.replace(/\s/g, "").includes(keyBody.slice(0, 64)), false, "the private key is in the log");
        });

        it("listens and connects on loopback only", () => {
            const sockets = socketsOf(c.controller.pid);
            assert.ok(sockets.some((s) => s.state === "listen"), "its HTTP servers are listening");
            assert.ok(sockets.some((s) => s.state === "established"), "it holds a connection to the apiserver");
            for (const s of sockets) assert.ok(onLoopback(s), JSON.stringify(s));
        });
    });

    it("disaster recovery: a second, empty cluster with the same key decrypts the same committed files, no manual step", async () => {
        const c = await cluster("second");
        try {
            assert.equal(secretOf(c.cp, "basic-auth"), undefined, "a fresh cluster");
            c.cp.kubectl(["apply", "-f", basicAuthFile]);
            const secret = await waitFor("the Secret basic-auth in the second cluster", () => secretOf(c.cp, "basic-auth"), c.controller);
            assert.deepEqual(decoded(secret), { "basic-auth-password": password, "basic-auth-user": "admin" });
        } finally {
            await c.stop();
        }
        assert.equal(fs.existsSync(`/proc/${c.controller.pid}`), false, "the controller outlived stop()");
        assert.equal(fs.existsSync(path.join(work, "second", "serviceaccount")), false, "its token file outlived stop()");
    });
});

describe("starting the sealed-secrets controller", { skip: !available && "no Go toolchain and no cached binary" }, () => {
    it("fails with the component, its log file and the log's last lines, leaves no process, and shows no token", async () => {
        const dir = tempDir("ofg-sealed-bad-");
        try {
            const { cert } = keyPair(dir, "ca");
            const token = `tok-${Math.random().toString(36).slice(2)}`;
            // Nothing listens there: the controller cannot list its keys and exits.
            const server = `https://127.0.0.1:${await freePort()}`;
            const err = await startSealedSecretsController({ credentials: { server, ca: cert, token }, namespace: CONTROLLER_NS, dir }).then(
                () => assert.fail("started without an apiserver"),
                (e: Error) => e,
            );
            const logFile = path.join(dir, "sealed-secrets-controller.log");
            assert.match(err.message, /^sealed-secrets controller exited \(\d+\) before it was ready; its log /);
            assert.ok(err.message.includes(logFile), err.message);
            assert.match(err.message, /connection refused/);
            assert.equal(err.message.includes(token), false, "the token is in the error");
            const left = fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p)).filter((p) => {
                try {
                    return fs.readFileSync(`/proc/${p}/cmdline`, "utf8").includes(dir);
                } catch {
                    return false;
                }
            });
            assert.deepEqual(left, [], "a process of this controller is still running");
            assert.equal(fs.existsSync(path.join(dir, "serviceaccount")), false, "its token file is left behind");
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("refuses a kubeconfig whose user has no token, naming the file and the user", () => {
        const dir = tempDir("ofg-sealed-kc-");
        try {
            const file = path.join(dir, "kubeconfig");
            fs.writeFileSync(file, yaml.dump({
                "current-context": "c",
                contexts: [{ name: "c", context: { cluster: "k", user: "u" } }],
                clusters: [{ name: "k", cluster: { server: "https://127.0.0.1:6443", "certificate-authority-data": Buffer.from("pem").toString("base64") } }],
                users: [{ name: "u", user: { "client-certificate": "x.crt" } }],
            }));
            assert.throws(() => credentialsFromKubeconfig(file), (e: Error) => e.message === `${file}: user u has no token: the controller authenticates with a bearer token only; pass one`);
            assert.equal(credentialsFromKubeconfig(file, "given").token, "given");
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});

describe("reading /proc/net/tcp addresses", () => {
    const hex = (bytes: number[]) => Buffer.from(bytes).toString("hex").toUpperCase();
    const port = fc.integer({ min: 0, max: 65535 });
    const portHex = (p: number) => p.toString(16).toUpperCase().padStart(4, "0");

    it("decodes any IPv4 address and port (stored little-endian)", () => {
        fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 }), port, (ip, p) => {
            assert.equal(procAddress(`${hex([...ip].reverse())}:${portHex(p)}`), `${ip.join(".")}:${p}`);
        }));
    });

    it("shows an IPv4-mapped IPv6 address as IPv4, and other IPv6 addresses in brackets", () => {
        fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 }), port, (ip, p) => {
            // ::ffff:a.b.c.d, each 32-bit word little-endian
            const words = [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0xff, 0xff], ip].map((w) => hex([...w].reverse()));
            assert.equal(procAddress(`${words.join("")}:${portHex(p)}`), `${ip.join(".")}:${p}`);
        }));
        assert.equal(procAddress("00000000000000000000000001000000:1F90"), "[0:0:0:0:0:0:0:1]:8080");
    });
});
