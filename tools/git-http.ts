/** git's own smart-HTTP CGI (`git http-backend`) behind a Node request handler: a real git server for the tests. */
import { spawn } from "node:child_process";
import type { IncomingMessage, ServerResponse } from "node:http";

/** Serves the bare repositories under `root` for one request (clone, fetch and push). */
export function serveGit(root: string, req: IncomingMessage, res: ServerResponse, remoteUser = "test"): void {
    const url = new URL(req.url!, "http://git");
    const cgi = spawn("git", ["http-backend"], {
        env: {
            PATH: process.env.PATH, GIT_PROJECT_ROOT: root, GIT_HTTP_EXPORT_ALL: "1", REQUEST_METHOD: req.method!,
            PATH_INFO: url.pathname, QUERY_STRING: url.search.slice(1), CONTENT_TYPE: req.headers["content-type"] ?? "",
            REMOTE_USER: remoteUser, REMOTE_ADDR: "127.0.0.1", GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null",
        },
    });
    req.pipe(cgi.stdin);
    let head = Buffer.alloc(0);
    let headersSent = false;
    cgi.stdout.on("data", (chunk: Buffer) => {
        if (headersSent) return void res.write(chunk);
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf("\r\n\r\n");
        if (end < 0) return;
        const headers: Record<string, string> = {};
        let status = 200;
        for (const line of head.subarray(0, end).toString().split("\r\n")) {
            const [k, ...v] = line.split(":");
            if (k!.toLowerCase() === "status") status = parseInt(v.join(":"), 10);
            else headers[k!] = v.join(":").trim();
        }
        res.writeHead(status, headers);
        headersSent = true;
        res.write(head.subarray(end + 4));
    });
    cgi.stdout.on("end", () => res.end());
}
