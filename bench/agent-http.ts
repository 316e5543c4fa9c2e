/**
 * The agent's HTTP server under the unauthenticated-body load of issue 20: 300 connections each
 * declaring a 1 MiB webhook body, sending all of it but its last byte, and never finishing. The
 * server runs alone in a child process (this file with `--serve`: the agent's createServer with its
 * default limits, a webhook secret, a status that never changes) on loopback; the parent prints the
 * child's RSS (from /proc) idle, under the load, and after the connections have gone. Figures only,
 * no assertion on them. Usage: npm run bench:http [-- <connections>] (default 300, the issue's load;
 * CI runs it with 10 so it cannot rot).
 */
import { spawn } from "node:child_process";
import * as net from "node:net";
import { AddressInfo } from "node:net";
import { AgentMetrics, createServer } from "../agent/server";
import { emptyStatus } from "../agent/conditions";
import { memoryMiB } from "./proc";

const CONNECTIONS = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 300);
const BODY = 1024 * 1024;

function serve(): void {
    const server = createServer({
        status: () => emptyStatus(0), metrics: new AgentMetrics(), branch: "main", sync: () => {}, suspend: () => {},
        election: () => ({ identity: "bench", leader: "bench" }), leads: () => true,
        webhookSecret: () => ({ value: "bench-webhook-secret" }), syncToken: () => undefined, log: () => {}, notReady: () => undefined,
    });
    server.listen(0, "127.0.0.1", () => process.stdout.write(`${(server.address() as AddressInfo).port}\n`));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


/** Opens a connection that sends all of a 1 MiB body but its last byte; outcome() is what it got so far. */
function unfinished(port: number): { socket: net.Socket; sent: Promise<void>; outcome(): string } {
    const socket = net.connect(port, "127.0.0.1");
    let answer = "";
    let ended = "";
    socket.on("data", (d) => (answer += d.toString("latin1")));
    const sent = new Promise<void>((resolve) => {
        socket.on("error", () => ((ended ||= "reset"), resolve()));
        socket.on("close", () => ((ended ||= "closed"), resolve()));
        const head = `POST /webhook HTTP/1.1\r\nHost: agent\r\nX-GitHub-Event: push\r\nX-Hub-Signature-256: sha256=${"0".repeat(64)}\r\nContent-Length: ${BODY}\r\n\r\n`;
        socket.write(head);
        socket.write(Buffer.alloc(BODY - 1, "x"), () => resolve());
    });
    return { socket, sent, outcome: () => answer.split("\r\n")[0] || (ended ? `${ended} without an answer` : "still being read") };
}

async function bench(): Promise<void> {
    const child = spawn(process.execPath, ["--import", "tsx", __filename, "--serve"], { stdio: ["ignore", "pipe", "inherit"] });
    const port = Number(await new Promise<string>((r) => child.stdout!.once("data", (d) => r(String(d).trim()))));
    await sleep(1000);
    const idle = memoryMiB(child.pid!).rss;
    const conns = Array.from({ length: CONNECTIONS }, () => unfinished(port));
    await Promise.all(conns.map((c) => c.sent));
    await sleep(2000);
    const loaded = memoryMiB(child.pid!).rss;
    const counts = new Map<string, number>();
    for (const o of conns.map((c) => c.outcome())) counts.set(o, (counts.get(o) ?? 0) + 1);
    for (const c of conns) c.socket.destroy();
    await sleep(3000);
    const after = memoryMiB(child.pid!).rss;
    child.kill();
    console.log(`${CONNECTIONS} connections x ${BODY / 1024} KiB unfinished webhook bodies, server RSS: idle ${idle.toFixed(0)} MiB, under load ${loaded.toFixed(0)} MiB, 3 s after they closed ${after.toFixed(0)} MiB`);
    console.log(`what the connections got: ${[...counts].map(([k, v]) => `${v} x ${k}`).join(", ")}`);
}

if (process.argv.includes("--serve")) serve();
else void bench();
