/**
 * The agent's PulumiEngine with the REAL engine (CLI + kubernetes provider built from their Go
 * modules) against the REAL control plane: a run per child process, the exact engine environment,
 * drift detected and corrected for the fields the program owns only, and a crashed update's lock
 * and pending operations recovered — while a lock of anyone else is left alone.
 *
 * The "checkout" is a copy of this project whose index.ts first registers the harness stand-ins
 * (test/support/standins.ts); the agent itself has no test hooks.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { spawnSync } from "node:child_process";
import { engineEnvironment, linkPreinstalledPlugins, locksAreOwnAndDead, lockHolders, PulumiEngine, pulumiHome } from "../agent/pulumi-engine";
import { clusterReader, DriftGate, fingerprint, liveMetadata } from "../agent/drift-gate";
import { RunContext } from "../agent/engine";
import { kubeApi } from "../kube/api";
import { controlPlaneAvailable } from "../tools/controlplane";
import { engineAvailable, ensureEngine, KUBERNETES_PROVIDER_VERSION } from "../tools/engine";
import { EngineHarness, startEngineHarness, TestStack } from "./support/engine";
import { tempDir } from "./support/tmp";

const available = engineAvailable() && controlPlaneAvailable();

describe("lock ownership (pure)", () => {
    const message = "the stack is currently locked by 2 lock(s). Either wait for the other process(es) to end or delete the lock file with `pulumi cancel`.\n" +
        "  file:///s/.pulumi/locks/organization/p/dev/1.json: created by root@agent-7d9f (pid 4242) at 2026-11-25T10:00:00Z\n" +
        "  file:///s/.pulumi/locks/organization/p/dev/2.json: created by root@agent-7d9f (pid 4343) at 2026-11-25T10:00:01Z";
    it("reads every holder of a DIY backend's lock error, each once", () => {
        assert.deepEqual(lockHolders(message + "\n" + message), [{ host: "agent-7d9f", pid: 4242 }, { host: "agent-7d9f", pid: 4343 }]);
    });
    it("reads a lock error holding a megabyte of what the program printed in linear time", () => {
        // The engine's error repeats the CLI's output, the program's included: /created by \S*?@(\S+) \(pid/
        // retried from every '@' of a word (20,000 of them: 0.46 s with the event loop blocked).
        const started = Date.now();
        assert.deepEqual(lockHolders(`${message}\ncreated by ${"@".repeat(1_000_000)}`), [{ host: "agent-7d9f", pid: 4242 }, { host: "agent-7d9f", pid: 4343 }]);
        assert.deepEqual(lockHolders("created by a@b@host (pid 7) at now"), [{ host: "b@host", pid: 7 }]);
        // A hang guard, not a speed target (those are benchmarks): quadratic at this size takes minutes.
        assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
    });
    it("breaks a lock only when every holder is this host and no longer running", () => {
        const dead = () => false;
        assert.equal(locksAreOwnAndDead(lockHolders(message), "agent-7d9f", dead), true);
        assert.equal(locksAreOwnAndDead(lockHolders(message), "agent-other", dead), false, "another replica's lock");
        assert.equal(locksAreOwnAndDead(lockHolders(message), "agent-7d9f", (pid) => pid === 4343), false, "a live run");
        assert.equal(locksAreOwnAndDead([], "agent-7d9f", dead), false, "a backend that names no holder (Pulumi Cloud)");
    });
    it("hands the engine the allowlisted variables and nothing else", () => {
        const env = engineEnvironment({ PATH: "/bin", HOME: "/h", PULUMI_CONFIG_PASSPHRASE: "p", AWS_REGION: "eu", AGENT_REPO_URL: "git@x", GITHUB_TOKEN: "t", KUBERNETES_SERVICE_HOST: "10.0.0.1" }, "s3://b");
        assert.deepEqual(Object.keys(env).sort(), ["AWS_REGION", "HOME", "KUBERNETES_SERVICE_HOST", "PATH", "PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE", "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION", "PULUMI_DISABLE_RESOURCE_REFERENCES", "PULUMI_K8S_ENABLE_PATCH_FORCE", "PULUMI_LOG_ROTATION_MAX_TOTAL_MB", "PULUMI_SKIP_UPDATE_CHECK"]);
    });
});

describe("an engine run that floods its stderr", () => {
    // The run's stderr is read only for a crash's message, yet every byte of it was kept: a program
    // (or a provider) writing 256 MiB to stderr grew the agent by as much (measured +364 MB RSS)
    // and made a crash message of four 1 MiB lines.
    it("costs the agent a bounded tail, and the crash message stays short", async () => {
        const project = tempDir("ofg-stderr-");
        const automation = path.join(project, "node_modules", "@pulumi", "pulumi", "automation");
        fs.mkdirSync(automation, { recursive: true });
        fs.writeFileSync(path.join(project, "package.json"), '{"name":"flood"}');
        // The forked run loads tsx from its working directory (development runs the agent from TypeScript).
        fs.symlinkSync(path.resolve("node_modules", "tsx"), path.join(project, "node_modules", "tsx"));
        fs.writeFileSync(
            path.join(automation, "index.js"),
            // Synchronous to the end: the run must crash while it loads the module, before it reads
            // the project (an exit left to a write callback raced the run's own ENOENT message). The
            // pipe is non-blocking, so a full pipe (EAGAIN) is written again until the agent reads it.
            `const fs = require("node:fs");
function put(text) {
    const b = Buffer.from(text);
    for (let off = 0; off < b.length; ) {
        try { off += fs.writeSync(2, b, off); } catch (e) { if (e.code !== "EAGAIN") throw e; }
    }
}
const chunk = "x".repeat(1 << 20) + "\\n";
for (let n = 0; n < 256; n++) put(chunk);
put("the last line\\n");
process.exit(3);
`,
        );
        let peak = 0;
        const base = process.memoryUsage().rss;
        const sample = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss - base)), 10);
        try {
            const { runEngine } = await import("../agent/pulumi-engine");
            await assert.rejects(runEngine({ op: "up", stack: "s", configFile: "x" }, { cwd: project, env: { PATH: process.env.PATH ?? "" }, log: () => undefined }), (e: Error) => {
                assert.match(e.message, /^the engine run crashed \(exit code 3\)[\s\S]*the last line$/);
                assert.ok(e.message.length <= 70_000, `a crash message of ${e.message.length} characters`);
                return true;
            });
            assert.ok(peak < 128 * 2 ** 20, `the agent grew by ${Math.round(peak / 2 ** 20)} MiB while the run wrote 256 MiB to stderr`);
        } finally {
            clearInterval(sample);
            fs.rmSync(project, { recursive: true, force: true });
        }
    });
});

describe("the image's preinstalled plugins", { skip: !engineAvailable() && "no Go toolchain and no cached engine" }, () => {
    // The image's layout: /opt/pulumi-home/plugins/resource-kubernetes-v<version>/pulumi-resource-kubernetes.
    const tmp = () => tempDir("ofg-plugins-");
    const imagePlugins = (provider: string) => {
        const dir = path.join(tmp(), "plugins");
        fs.mkdirSync(path.join(dir, `resource-kubernetes-v${KUBERNETES_PROVIDER_VERSION}`), { recursive: true });
        fs.symlinkSync(provider, path.join(dir, `resource-kubernetes-v${KUBERNETES_PROVIDER_VERSION}`, "pulumi-resource-kubernetes"));
        return dir;
    };

    it("are linked into a PULUMI_HOME on the work volume, and the real CLI runs the provider from there", () => {
        const { pulumi, provider } = ensureEngine();
        const plugins = imagePlugins(provider);
        const home = path.join(tmp(), "work", ".pulumi");
        assert.equal(pulumiHome({ PULUMI_HOME: home, HOME: "/elsewhere" }), home);
        assert.equal(pulumiHome({ HOME: "/w" }), "/w/.pulumi", "the CLI's own default");
        assert.equal(linkPreinstalledPlugins(plugins, home), `plugins: ${home}/plugins -> ${plugins}`);
        assert.equal(linkPreinstalledPlugins(plugins, home), `plugins: ${home}/plugins -> ${plugins}`, "a restart finds its link");
        // No provider on PATH, and a plugin the CLI does not find it would download: pointed at a closed
        // loopback port here, so a test never leaves this machine and a missing link fails fast.
        const getSchema = (pulumiHome: string) => spawnSync(pulumi, ["package", "get-schema", `kubernetes@${KUBERNETES_PROVIDER_VERSION}`], {
            env: {
                PATH: "/usr/bin:/bin", HOME: path.dirname(pulumiHome), PULUMI_HOME: pulumiHome, PULUMI_SKIP_UPDATE_CHECK: "true",
                PULUMI_DISABLE_REGISTRY_RESOLVE: "true", PULUMI_PLUGIN_DOWNLOAD_URL_OVERRIDES: ".*=http://127.0.0.1:9/",
            },
            maxBuffer: 64 * 1024 * 1024,
            encoding: "utf8",
        });
        assert.equal(JSON.parse(getSchema(home).stdout).version, KUBERNETES_PROVIDER_VERSION);
        const unlinked = getSchema(path.join(tmp(), ".pulumi"));
        assert.notEqual(unlinked.status, 0);
        assert.match(unlinked.stdout + unlinked.stderr, /127\.0\.0\.1:9\/pulumi-resource-kubernetes/, "without the link the CLI goes for a download");
    });

    it("leave a plugins directory the operator put in PULUMI_HOME alone", () => {
        const home = tmp();
        fs.mkdirSync(path.join(home, "plugins"));
        assert.match(linkPreinstalledPlugins(tmp(), home), /already exists; it is used instead of/);
        assert.ok(fs.lstatSync(path.join(home, "plugins")).isDirectory());
    });
});

/** Whether a process's arguments satisfy `match`. */
function argsMatch(pid: number, match: (args: string[]) => boolean): boolean {
    try {
        return match(fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0"));
    } catch {
        return false;
    }
}

/** Pids of every process below `pid` (children first found through /proc/<pid>/stat's parent field). */
function descendantsOf(pid: number): number[] {
    const parentOf = (p: string) => {
        try {
            return Number(fs.readFileSync(`/proc/${p}/stat`, "utf8").split(") ")[1]!.split(" ")[1]);
        } catch {
            return -1;
        }
    };
    const children = fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p) && parentOf(p) === pid).map(Number);
    return children.flatMap((c) => [...descendantsOf(c), c]);
}

/** The Pulumi CLI running an update for the Automation API. */
const isCliUpdate = (args: string[]) => path.basename(args[0] ?? "") === "pulumi" && args.includes("up") && args.includes("auto.inline");

describe("agent PulumiEngine on the real engine", { skip: !available && "no Go toolchain and no cached engine" }, () => {
    let h: EngineHarness;
    let engine: PulumiEngine;
    let ctx: RunContext;
    let stack: TestStack;
    const logs: string[] = [];
    const STACK = "agent-dev";

    before(async () => {
        h = await startEngineHarness({ log: (l) => console.log(`# ${l}`) });
        stack = await h.stack(STACK, "dev", { secrets: ["adminPassword", "sealingKeyPem", "sealingCertPem"] });
        // The harness's project copy is the checkout: the harness index.ts, the stack file, node_modules.
        const dir = h.projectDir;
        const agentEnv = { ...process.env, ...h.env, AGENT_PLANTED_SECRET: "must-not-reach-the-program" };
        engine = new PulumiEngine({ stack: STACK, projectPath: ".", secretsProvider: "passphrase", env: engineEnvironment(agentEnv, h.env.PULUMI_BACKEND_URL) });
        ctx = { dir, revision: "r1", signal: new AbortController().signal, log: (l) => logs.push(l) };
    });
    after(async () => {
        await h?.stop();
    });

    it("recovers from an update killed mid-way: its own dead lock is removed and the update finishes", async () => {
        const killed = engine.up(ctx).then(() => "finished", (e: Error) => e.message);
        // Kill the CLI like an OOM kill would, once the update is under way: this run's CLI only
        // (a descendant of this process), never the engines other test files run beside it.
        let cli: number[] = [];
        for (let i = 0; i < 400 && cli.length === 0; i++) {
            await new Promise((r) => setTimeout(r, 50));
            const ns = (() => { try { return h.cp.kubectl(["get", "ns", "openfaas", "-o", "name"]); } catch { return ""; } })();
            if (ns) cli = descendantsOf(process.pid).filter((p) => argsMatch(p, isCliUpdate));
        }
        assert.ok(cli.length > 0, "the update never started");
        // The whole run dies, as in an OOM-killed pod: the CLI and the provider plugins it started.
        for (const pid of cli) for (const p of [...descendantsOf(pid), pid]) process.kill(p, "SIGKILL");
        assert.notEqual(await killed, "finished");
        const state = path.join(h.env.PULUMI_BACKEND_URL!.replace("file://", ""), ".pulumi", "locks");
        assert.ok(fs.readdirSync(state, { recursive: true }).some((f) => String(f).endsWith(".json")), "the killed update left its lock");

        logs.length = 0;
        const r = await engine.up(ctx);
        assert.ok((r.changes.create ?? 0) > 0, JSON.stringify(r.changes));
        assert.ok(logs.some((l) => /removing the lock and retrying once/.test(l)), logs.join("\n"));
        assert.match(h.cp.kubectl(["get", "deployment", "nodeinfo", "-n", "openfaas-fn", "-o", "name"]), /nodeinfo/);
    });

    it("the program sees the engine environment only", () => {
        const seen = JSON.parse(fs.readFileSync(path.join(ctx.dir, "seen-env.json"), "utf8")) as string[];
        assert.ok(!seen.includes("AGENT_PLANTED_SECRET"), "a variable outside the allowlist reached the program");
        assert.ok(seen.includes("PULUMI_CONFIG_PASSPHRASE"));
    });

    it("reports and corrects drift of fields the program sets, and only those", async () => {
        // No drift right after an apply is each stack's lifecycle (test/support/engine-lifecycle.ts),
        // through the same runner; here, drift that is there.
        h.cp.kubectl(["scale", "deployment", "nodeinfo", "-n", "openfaas-fn", "--replicas=2"]);
        // Replicas of an HPA-scaled function are the HPA's, not the program's.
        h.cp.kubectl(["scale", "deployment", "sentimentanalysis", "-n", "openfaas-fn", "--replicas=4"]);
        h.cp.kubectl(["delete", "deployment", "certinfo", "-n", "openfaas-fn"]);
        const drift = await engine.detectDrift(ctx);
        assert.deepEqual([...drift.changed].sort(), ["kubernetes:apps/v1:Deployment::fn-certinfo-deployment (create)", "kubernetes:apps/v1:Deployment::fn-nodeinfo-deployment (update)"].sort());
        await engine.correctDrift(ctx);
        const replicas = (name: string) => JSON.parse(h.cp.kubectl(["get", "deployment", name, "-n", "openfaas-fn", "-o", "json"])).spec.replicas;
        assert.equal(replicas("nodeinfo"), 1);
        assert.equal(replicas("sentimentanalysis"), 4);
        assert.match(h.cp.kubectl(["get", "deployment", "certinfo", "-n", "openfaas-fn", "-o", "name"]), /certinfo/);
        assert.deepEqual((await engine.detectDrift(ctx)).changed, []);
    });

    it("through the drift gate, a check after a quiet full check runs no engine until an object is written, and a write that is drift is found", async () => {
        const gate = new DriftGate(engine, clusterReader(kubeApi(h.cp.kubeconfig)), Date.now);
        const applied = await gate.up(ctx);
        assert.ok(applied.objects?.some((o) => o.apiVersion === "apps/v1" && o.kind === "Deployment" && o.namespace === "openfaas-fn" && o.name === "nodeinfo"), JSON.stringify(applied.objects));
        // Read one by one (as where a namespace is too full to list), the apiserver gives the same metadata.
        const api = kubeApi(h.cp.kubeconfig);
        const [listed, oneByOne] = [await liveMetadata(api, applied.objects!), await liveMetadata(api, applied.objects!, 1)];
        assert.equal(fingerprint(applied.objects!, oneByOne), fingerprint(applied.objects!, listed));
        // The controllers have done what they do once after a create (a Deployment's revision annotation).
        h.cp.kubectl(["wait", "--for=condition=Available", "deployment", "--all", "--all-namespaces", "--timeout=120s"]);
        const check = async () => {
            logs.length = 0;
            const r = await gate.detectDrift(ctx);
            return { engineRan: !logs.some((l) => /the engine did not run/.test(l)), changed: r.changed };
        };
        assert.deepEqual(await check(), { engineRan: true, changed: [] });
        // Meanwhile the live controllers write status (Deployments, HPAs): not a write the gate counts.
        assert.deepEqual(await check(), { engineRan: false, changed: [] });
        h.cp.kubectl(["label", "deployment", "nodeinfo", "-n", "openfaas-fn", "example.com/owner=someone"]);
        assert.deepEqual(await check(), { engineRan: true, changed: [] }, "a label the program does not set is a write, not drift");
        assert.deepEqual(await check(), { engineRan: false, changed: [] });
        h.cp.kubectl(["scale", "deployment", "nodeinfo", "-n", "openfaas-fn", "--replicas=3"]);
        assert.deepEqual(await check(), { engineRan: true, changed: ["kubernetes:apps/v1:Deployment::fn-nodeinfo-deployment (update)"] });
        await gate.correctDrift(ctx);
        h.cp.kubectl(["label", "deployment", "nodeinfo", "-n", "openfaas-fn", "example.com/owner-"]);
    });

    /**
     * An engine whose CLI, as the run finds it on PATH, is behind a wrapper that records each command
     * line, and the mode and a copy of each file given to `--file` (what `stack import` reads).
     */
    const recordingEngine = () => {
        const wrapper = tempDir("ofg-cli-log-");
        const calls = path.join(wrapper, "calls");
        const real = spawnSync("sh", ["-c", "command -v pulumi"], { env: { PATH: h.env.PATH! }, encoding: "utf8" }).stdout.trim();
        const script = [
            "#!/bin/sh",
            `printf '%s\\n' "$*" >> ${calls}`,
            'prev=""',
            `for a in "$@"; do if [ "$prev" = "--file" ]; then stat -c %a "$a" >> ${wrapper}/modes; cp "$a" ${wrapper}/file-$$; fi; prev="$a"; done`,
            `exec ${real} "$@"`,
        ];
        fs.writeFileSync(path.join(wrapper, "pulumi"), `${script.join("\n")}\n`, { mode: 0o755 });
        const env = engineEnvironment({ ...process.env, ...h.env, PATH: `${wrapper}:${h.env.PATH}` }, h.env.PULUMI_BACKEND_URL);
        return {
            engine: new PulumiEngine({ stack: STACK, projectPath: ".", secretsProvider: "passphrase", env }),
            commands: () => fs.readFileSync(calls, "utf8").trim().split("\n"),
            files: () => fs.readdirSync(wrapper).filter((f) => f.startsWith("file-")).map((f) => fs.readFileSync(path.join(wrapper, f), "utf8")),
            modes: () => (fs.existsSync(path.join(wrapper, "modes")) ? fs.readFileSync(path.join(wrapper, "modes"), "utf8").trim().split("\n") : []),
        };
    };

    it("an update runs the CLI's update and nothing else: no state export, no outputs or history for a result nobody reads", async () => {
        const recorded = recordingEngine();
        await recorded.engine.up(ctx);
        const commands = recorded.commands().map((l) => l.split(" ").slice(0, l.startsWith("stack ") ? 2 : 1).join(" "));
        assert.deepEqual(commands, ["version", "stack select", "up"]);
    });

    it("an update that meets the pending operations an interrupted update left clears them after it", async () => {
        // What a run killed between starting a create and recording it leaves: a pending create.
        // Written into the state file directly (`pulumi stack import` would drop it), so it is certain.
        const stacksDir = path.join(h.env.PULUMI_BACKEND_URL!.replace("file://", ""), ".pulumi", "stacks");
        const file = (fs.readdirSync(stacksDir, { recursive: true }) as string[]).map((f) => path.join(stacksDir, f)).find((f) => f.endsWith(`${STACK}.json`))!;
        const checkpoint = JSON.parse(fs.readFileSync(file, "utf8"));
        const nodeinfo = checkpoint.checkpoint.latest.resources.find((r: { urn: string }) => r.urn.endsWith("::fn-nodeinfo-deployment"));
        checkpoint.checkpoint.latest.pending_operations = [{ resource: nodeinfo, type: "creating" }];
        fs.writeFileSync(file, JSON.stringify(checkpoint));
        assert.equal(((await stack.stack.exportStack()).deployment as { pending_operations?: unknown[] }).pending_operations?.length, 1);
        // A drift check writes no state, so it leaves them (reading the whole state would cost it a CLI process).
        logs.length = 0;
        await engine.detectDrift(ctx);
        assert.ok(!logs.some((l) => /recovering: clearing/.test(l)), logs.join("\n"));
        assert.equal(((await stack.stack.exportStack()).deployment as { pending_operations?: unknown[] }).pending_operations?.length, 1);
        logs.length = 0;
        const recorded = recordingEngine();
        await recorded.engine.up(ctx);
        // The state is rewritten with its secrets as ciphertext: never exported decrypted, never on disk in plaintext.
        assert.ok(!recorded.commands().some((c) => c.includes("--show-secrets")), recorded.commands().join("\n"));
        assert.equal(recorded.files().length, 1, "one state imported");
        // A line of each value (a PEM's first base64 line): JSON escapes the line breaks of a whole one.
        for (const k of ["adminPassword", "sealingKeyPem"] as const) {
            const line = h.credentials[k].split("\n").find((l) => l.length >= 16 && !l.startsWith("-----"))!;
            assert.ok(!recorded.files()[0]!.includes(line), `${k} is in the imported state in plaintext`);
        }
        assert.deepEqual(recorded.modes(), ["600"]);
        // The CLI warns and goes on; the run then clears them.
        assert.ok(logs.some((l) => /pending operations from previous deployment/.test(l)), logs.join("\n"));
        assert.ok(logs.some((l) => /recovering: clearing 1 pending operation\(s\) of an interrupted update: creating fn-nodeinfo-deployment/.test(l)), logs.join("\n"));
        assert.deepEqual(((await stack.stack.exportStack()).deployment as { pending_operations?: unknown[] }).pending_operations ?? [], []);
        assert.match(h.cp.kubectl(["get", "deployment", "nodeinfo", "-n", "openfaas-fn", "-o", "name"]), /nodeinfo/);
        // Left in place, the CLI would warn on every update and keep them until an interactive refresh.
        logs.length = 0;
        await engine.up(ctx);
        assert.ok(!logs.some((l) => /pending operations from previous deployment|recovering: clearing/.test(l)), logs.join("\n"));
    });

    it("leaves a lock held by another replica alone and says why", async () => {
        const lockDir = path.join(h.env.PULUMI_BACKEND_URL!.replace("file://", ""), ".pulumi", "locks", "organization", "openfaas-gitops", STACK);
        fs.mkdirSync(lockDir, { recursive: true });
        fs.writeFileSync(path.join(lockDir, "other.json"), JSON.stringify({ pid: 1, username: "root", hostname: "agent-other-replica", timestamp: new Date().toISOString() }));
        await assert.rejects(engine.up(ctx), new RegExp(`locked[\\s\\S]*not a crashed run of this agent \\(.+\\), so it is left alone \\(agent-other-replica, pid 1\\)[\\s\\S]*remove the lock with \`pulumi cancel --yes --stack ${STACK}\` against the same state backend, then POST /sync`));
        assert.ok(fs.existsSync(path.join(lockDir, "other.json")));
        fs.rmSync(path.join(lockDir, "other.json"));
    });

    it("repairs the state backend's metadata a killed write left torn, then applies", async () => {
        // fileblob rewrites `<blob>.attrs` in place (truncate, then write): a kill in between leaves
        // it empty or cut, and every operation then fails with "failed to load checkpoint: EOF".
        const stacksDir = path.join(h.env.PULUMI_BACKEND_URL!.replace("file://", ""), ".pulumi", "stacks");
        const attrs = (fs.readdirSync(stacksDir, { recursive: true }) as string[]).map((f) => path.join(stacksDir, f)).find((f) => f.endsWith(`${STACK}.json.attrs`))!;
        const whole = fs.readFileSync(attrs, "utf8");
        fs.writeFileSync(attrs, "");
        fs.writeFileSync(`${attrs}.cut-copy-ignored`, "");
        logs.length = 0;
        await engine.up(ctx);
        assert.ok(logs.some((l) => /recovering: a killed run left the state backend's metadata torn; removed \.pulumi\/stacks\/openfaas-gitops\/agent-dev\.json\.attrs/.test(l)), logs.join("\n"));
        // Cut in the middle of its JSON, the next run repairs it the same way.
        fs.writeFileSync(attrs, whole.slice(0, Math.floor(whole.length / 2)));
        await engine.up(ctx);
        assert.equal(fs.readFileSync(`${attrs}.cut-copy-ignored`, "utf8"), "", "a file that is not an .attrs was touched");
        fs.rmSync(`${attrs}.cut-copy-ignored`);
    });
});
