/**
 * A TEST DOUBLE for the kubelet that would run a preview's pod (agent/preview-pods.ts), for the tests
 * on the simulated cluster, where no container runs: it finds each preview Job the agent creates,
 * reads the Job's Secret (as the kubelet mounts it) into a directory of its own, and runs the
 * container's command (agent/preview-main.ts) as a local process with the Job's variables and the
 * preview identity's kubeconfig in place of its mounted token. What it leaves out is the kubelet's
 * part: the image, the mounts, the pod's network and its deadline.
 */
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type { ControlPlane } from "../../tools/controlplane";
import { PREVIEW_LABELS } from "../../agent/preview-pods";
import { PREVIEW_SECRET_DIR } from "../../agent/preview-protocol";
import { collectOutput } from "./output";
import { tempDir } from "./tmp";

const ROOT = path.resolve(__dirname, "..", "..");

interface JobObject {
    metadata: { name: string; namespace: string; uid: string };
    spec: { template: { spec: { containers: { env?: { name: string; value?: string }[]; volumeMounts?: { name: string; mountPath: string }[] }[]; volumes?: { name: string; secret?: { secretName: string } }[] } } };
}

export interface RanPod {
    readonly job: string;
    /** The Secret's ownerReferences as read when the pod started. */
    readonly secretOwners: readonly { kind: string; uid: string }[];
    readonly jobUid: string;
    /** Everything the process printed: whole once `exited` resolves. */
    readonly output: string;
    /** Resolves with the exit code once the process has exited and its output is read. */
    readonly exited: Promise<number | null>;
}

export interface PreviewPodDouble {
    readonly ran: RanPod[];
    stop(): Promise<void>;
}

/** Runs every preview Job that appears in `namespace` once, as a local process, until stopped. */
export function startPreviewPodDouble(cp: ControlPlane, namespace: string, opts: { kubeconfig: string; env: Readonly<Record<string, string>>; log?: (line: string) => void }): PreviewPodDouble {
    const ran: RanPod[] = [];
    const children = new Set<ChildProcess>();
    const selector = Object.entries(PREVIEW_LABELS).map(([k, v]) => `${k}=${v}`).join(",");
    const seen = new Set<string>();
    const tick = () => {
        let jobs: JobObject[];
        try {
            jobs = (JSON.parse(cp.kubectl(["get", "jobs", "-n", namespace, "-l", selector, "-o", "json"])) as { items: JobObject[] }).items;
        } catch {
            return;
        }
        for (const job of jobs) {
            if (seen.has(job.metadata.uid)) continue;
            const container = job.spec.template.spec.containers[0]!;
            const secretVolume = job.spec.template.spec.volumes?.find((v) => v.secret)?.secret?.secretName;
            let secret: { metadata: { ownerReferences?: { kind: string; uid: string }[] }; data?: Record<string, string> };
            try {
                secret = JSON.parse(cp.kubectl(["get", "secret", secretVolume!, "-n", namespace, "-o", "json"])) as typeof secret;
            } catch {
                continue; // the kubelet, too, waits for the Secret
            }
            seen.add(job.metadata.uid);
            const dir = tempDir("ofg-preview-pod-");
            const secretDir = path.join(dir, "secret");
            fs.mkdirSync(secretDir, { mode: 0o700 });
            for (const [k, v] of Object.entries(secret.data ?? {})) fs.writeFileSync(path.join(secretDir, k), Buffer.from(v, "base64"), { mode: 0o400 });
            const jobEnv = Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value ?? ""]));
            if (container.volumeMounts?.some((m) => m.mountPath === PREVIEW_SECRET_DIR) !== true) throw new Error(`job ${job.metadata.name} mounts no Secret at ${PREVIEW_SECRET_DIR}`);
            // The pod's /work: HOME, TMPDIR and PULUMI_HOME under a directory of this pod's own.
            const work = path.join(dir, "work");
            fs.mkdirSync(work);
            const env = {
                ...opts.env,
                ...jobEnv,
                HOME: work,
                TMPDIR: work,
                PULUMI_HOME: path.join(work, ".pulumi"),
                PREVIEW_SECRET_DIR: secretDir,
                KUBECONFIG: opts.kubeconfig,
            };
            // The image's working directory is the agent's own (/app); here, this checkout.
            const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "agent", "preview-main.ts")], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
            const output = collectOutput(child);
            const pod: RanPod = {
                job: job.metadata.name, jobUid: job.metadata.uid, secretOwners: secret.metadata.ownerReferences ?? [],
                get output() { return output.text(); },
                exited: output.closed,
            };
            ran.push(pod);
            children.add(child);
            void output.closed.then((code) => {
                children.delete(child);
                // A pod that fails shows why, as `kubectl logs` would.
                if (code !== 0) opts.log?.(`preview pod ${job.metadata.name} exited ${code}:\n${pod.output.slice(-4000)}`);
            });
        }
    };
    const timer = setInterval(tick, 300);
    return {
        ran,
        async stop() {
            clearInterval(timer);
            for (const c of children) c.kill("SIGKILL");
            await Promise.all(ran.map((p) => p.exited));
        },
    };
}
