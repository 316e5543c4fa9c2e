/**
 * A real OpenSSH server on loopback serving git over SSH, for the agent's source tests: its own
 * host key, one authorized client key, nothing else (no PAM, no passwords).
 */
import { ChildProcess, execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { freePort } from "../../tools/net";
import { tempDir } from "./tmp";

export const SSHD = ["/usr/sbin/sshd", "/usr/bin/sshd"].find((p) => fs.existsSync(p));

export interface Sshd {
    readonly port: number;
    readonly user: string;
    /** known_hosts line pinning this server's host key. */
    readonly knownHostsLine: string;
    /** Private key the server accepts. */
    readonly clientKeyFile: string;
    stop(): Promise<void>;
}

function keygen(file: string, comment: string): string {
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", file], { stdio: "pipe" });
    return fs.readFileSync(`${file}.pub`, "utf8").trim();
}


export async function startSshd(): Promise<Sshd> {
    if (!SSHD) throw new Error("sshd is not installed (Debian package openssh-server; .ci/run installs it)");
    const dir = tempDir("ofg-sshd-");
    const hostPub = keygen(path.join(dir, "host_key"), "test-host");
    const clientPub = keygen(path.join(dir, "client_key"), "agent");
    fs.writeFileSync(path.join(dir, "authorized_keys"), clientPub + "\n", { mode: 0o600 });
    const port = await freePort();
    const user = os.userInfo().username;
    if (process.getuid?.() === 0) fs.mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
    fs.writeFileSync(
        path.join(dir, "sshd_config"),
        [
            `ListenAddress 127.0.0.1:${port}`,
            `HostKey ${path.join(dir, "host_key")}`,
            `AuthorizedKeysFile ${path.join(dir, "authorized_keys")}`,
            `PidFile ${path.join(dir, "sshd.pid")}`,
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PubkeyAuthentication yes",
            "PermitRootLogin prohibit-password",
            "UsePAM no",
            // The temp directory is world-writable (/tmp); the keys themselves are 0600.
            "StrictModes no",
            "LogLevel ERROR",
            "",
        ].join("\n"),
    );
    const child: ChildProcess = spawn(SSHD, ["-D", "-e", "-f", path.join(dir, "sshd_config")], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (d) => (stderr += d));
    const deadline = Date.now() + 10_000;
    for (;;) {
        const up = await new Promise<boolean>((resolve) => {
            const c = net.connect(port, "127.0.0.1", () => {
                c.destroy();
                resolve(true);
            });
            c.on("error", () => resolve(false));
        });
        if (up) break;
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`sshd did not start: ${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
    }
    const [type, key] = hostPub.split(" ");
    return {
        port,
        user,
        knownHostsLine: `[127.0.0.1]:${port} ${type} ${key}`,
        clientKeyFile: path.join(dir, "client_key"),
        stop: () =>
            new Promise((resolve) => {
                if (child.exitCode !== null) return resolve();
                child.once("exit", () => resolve());
                child.kill("SIGTERM");
            }),
    };
}
