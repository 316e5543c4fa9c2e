/**
 * podman with a private storage and configuration under the tools cache, never the host's
 * /var/lib/containers or /etc/containers: the image build (tools/image.ts) and its test
 * (test/image.test.ts) share it. What this kind of machine needs (measured, issue 21): runc (crun
 * refuses hybrid cgroups), cgroupfs, lowered rlimits (the default nofile/nproc are refused with
 * "error setting rlimit type 7"), no search registries (no name is ever looked up anywhere), and
 * never the default bridge network (it creates iptables chains on the host): callers pass
 * `--network host` or `none`.
 */
import { execFileSync, ExecFileSyncOptions } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { cacheBase } from "./go-tools";
import { missingPackages } from "./packages";


export function podmanDir(): string {
    return path.join(cacheBase(), "podman");
}

/** Writes the private configuration (idempotent) and returns the environment that selects it. */
export function podmanEnv(): NodeJS.ProcessEnv {
    const dir = podmanDir();
    fs.mkdirSync(dir, { recursive: true });
    const files: Record<string, string> = {
        "storage.conf": `[storage]\ndriver = "overlay"\ngraphroot = "${dir}/storage"\nrunroot = "${dir}/run"\n`,
        "containers.conf": [
            "[containers]",
            'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]',
            'netns = "none"',
            "[engine]",
            'cgroup_manager = "cgroupfs"',
            'runtime = "runc"',
            'events_logger = "file"',
            `events_logfile_path = "${dir}/events.log"`,
            `tmp_dir = "${dir}/tmp"`,
            `volume_path = "${dir}/volumes"`,
            "",
        ].join("\n"),
        "registries.conf": 'unqualified-search-registries = []\nshort-name-mode = "disabled"\n',
    };
    for (const [name, text] of Object.entries(files)) {
        const f = path.join(dir, name);
        if (fs.readFileSync(f, { encoding: "utf8", flag: "a+" }) !== text) fs.writeFileSync(f, text);
    }
    return {
        ...process.env,
        CONTAINERS_STORAGE_CONF: path.join(dir, "storage.conf"),
        CONTAINERS_CONF: path.join(dir, "containers.conf"),
        CONTAINERS_REGISTRIES_CONF: path.join(dir, "registries.conf"),
    };
}

/** Why podman cannot run here, or undefined when it can (root, and the packages installed). */
export function podmanUnavailable(): string | undefined {
    if (process.getuid?.() !== 0) return "not root: podman runs as root here (no rootless set-up), as .ci/run does";
    return missingPackages("podman");
}

/**
 * Where containers/image keeps root's blob-info cache (`cache/blob-info-cache-v1.boltdb`), whatever
 * the configuration says: the one thing podman writes outside {@link podmanDir}.
 */
const HOST_CONTAINERS_DIR = "/var/lib/containers";

/**
 * Runs podman with the private configuration; returns its stdout. The host's
 * {@link HOST_CONTAINERS_DIR} is removed again when this call made it.
 */
export function podman(args: readonly string[], opts: ExecFileSyncOptions = {}): string {
    const existed = fs.existsSync(HOST_CONTAINERS_DIR);
    try {
        return execFileSync("podman", args, { env: podmanEnv(), encoding: "utf8", maxBuffer: 64 * 1024 * 1024, ...opts }) as string;
    } finally {
        if (!existed) fs.rmSync(HOST_CONTAINERS_DIR, { recursive: true, force: true });
    }
}
