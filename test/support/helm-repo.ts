/**
 * A Helm chart repository on loopback, for the tests of tools/upstream.ts: one repository per chart
 * at `http://127.0.0.1:<port>/<chart>/` serving `index.yaml` (a relative URL for the archive, as
 * `helm repo index` writes it) and `<chart>-<version>.tgz`, packed with node-tar from an unpacked
 * chart directory the way `helm package` lays it out (`<chart>/...`). It records every request with
 * the client's address, so a test can count requests and assert they all came from loopback.
 */
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as path from "node:path";
import * as yaml from "js-yaml";
import * as tar from "tar";
import { tempDir } from "./tmp";

export interface ServedChart {
    readonly chart: string;
    readonly version: string;
    /** The unpacked chart; its directory name need not be the chart's. */
    readonly dir: string;
}

export interface HelmRepo {
    /** The repository URL of a chart (what `CHARTS[...].repo` would be). */
    repo(chart: string): string;
    /** Every request so far: path and client address. */
    readonly requests: { path: string; remote: string }[];
    close(): Promise<void>;
}

/** A chart directory packed as `helm package` does: a gzipped tar of `<chart>/<files>`. */
export function packChart(chart: string, dir: string): Buffer {
    const stage = tempDir("ofg-helm-pack-");
    try {
        fs.cpSync(dir, path.join(stage, chart), { recursive: true });
        const file = path.join(stage, "chart.tgz");
        tar.c({ gzip: true, portable: true, sync: true, file, cwd: stage }, [chart]);
        return fs.readFileSync(file);
    } finally {
        fs.rmSync(stage, { recursive: true, force: true });
    }
}

/** Starts the repository on 127.0.0.1 with the given charts (archives may be given ready-made). */
export async function startHelmRepo(charts: readonly (ServedChart & { tgz?: Buffer })[]): Promise<HelmRepo> {
    const files = new Map<string, Buffer>();
    for (const c of charts) {
        const tgz = c.tgz ?? packChart(c.chart, c.dir);
        files.set(`/${c.chart}/${c.chart}-${c.version}.tgz`, tgz);
        const index = { apiVersion: "v1", entries: { [c.chart]: [{ name: c.chart, version: c.version, urls: [`${c.chart}-${c.version}.tgz`] }] } };
        files.set(`/${c.chart}/index.yaml`, Buffer.from(yaml.dump(index)));
    }
    const requests: { path: string; remote: string }[] = [];
    const server = http.createServer((req, res) => {
        requests.push({ path: req.url ?? "", remote: req.socket.remoteAddress ?? "" });
        const body = files.get(req.url ?? "");
        if (!body) return void res.writeHead(404).end();
        res.writeHead(200, { "content-length": body.length }).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as net.AddressInfo).port;
    return {
        repo: (chart) => `http://127.0.0.1:${port}/${chart}/`,
        requests,
        close: () =>
            new Promise((resolve) => {
                server.close(() => resolve());
                // fetch keeps its connections alive; the test is over.
                server.closeAllConnections();
            }),
    };
}
