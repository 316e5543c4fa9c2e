/** `npm run render`: the real CLI in a child process, and the stack file reader it uses. */
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { stackFileConfig } from "../tools/mock-engine";
import { RENDER_MARKER, USAGE } from "../tools/render";
import { ROOT } from "./helpers";
import { tempDir } from "./support/tmp";

function render(args: string[]) {
    const r = spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "tools", "render.ts"), ...args], { cwd: ROOT, encoding: "utf8" });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
const tmp = () => tempDir("ofg-render-");

describe("render --out never deletes what it did not write", () => {
    it("refuses a non-empty directory it did not create, and leaves it as it was", () => {
        const dir = tmp();
        fs.writeFileSync(path.join(dir, "precious.txt"), "keep me");
        fs.writeFileSync(path.join(dir, "001-deployment-x.yaml"), "mine, not render's");
        const r = render(["--stack", "dev", "--out", dir]);
        assert.equal(r.code, 1);
        assert.match(r.stderr, new RegExp(`--out ${dir} is not empty and was not created by render \\(no ${RENDER_MARKER.replace(".", "\\.")} in it\\); give a new or empty directory`));
        assert.deepEqual(fs.readdirSync(dir).sort(), ["001-deployment-x.yaml", "precious.txt"]);
        assert.equal(fs.readFileSync(path.join(dir, "001-deployment-x.yaml"), "utf8"), "mine, not render's");
    });

    it("writes into a new directory, marks it, and on the next run replaces only its own files", () => {
        const dir = path.join(tmp(), "out");
        const first = render(["--stack", "dev", "--out", dir]);
        assert.equal(first.code, 0, first.stderr);
        assert.match(first.stdout, /^rendered \d+ objects of stack dev to /);
        const rendered = fs.readdirSync(dir).filter((f) => f.endsWith(".yaml"));
        assert.ok(rendered.length > 15);
        assert.ok(fs.existsSync(path.join(dir, RENDER_MARKER)));
        fs.writeFileSync(path.join(dir, "notes.md"), "mine");
        fs.writeFileSync(path.join(dir, "999-stale-object.yaml"), "from an older render");
        const second = render(["--stack", "prod", "--out", dir]);
        assert.equal(second.code, 0, second.stderr);
        const after = fs.readdirSync(dir);
        assert.ok(after.includes("notes.md"), "a file render did not write survives");
        assert.ok(!after.includes("999-stale-object.yaml"), "render's own stale output is replaced");
    });

    it("adopts an empty directory", () => {
        const dir = tmp();
        assert.equal(render(["--stack", "dev", "--out", dir]).code, 0);
        assert.ok(fs.existsSync(path.join(dir, RENDER_MARKER)));
    });

    it("unknown flags and a missing --stack print the usage line, exit 2", () => {
        const unknown = render(["--stak", "dev"]);
        assert.equal(unknown.code, 2);
        assert.match(unknown.stderr, /Unknown option '--stak'/);
        assert.ok(unknown.stderr.includes(USAGE));
        const missing = render([]);
        assert.equal(missing.code, 2);
        assert.equal(missing.stderr.trim(), USAGE);
    });
});

describe("a bad stack file is a clear error naming it", () => {
    function project(text: string): string {
        const dir = tmp();
        fs.mkdirSync(path.join(dir, "stacks"));
        fs.writeFileSync(path.join(dir, "stacks", "Pulumi.bad.yaml"), text);
        return dir;
    }
    const cases: [string, string, RegExp][] = [
        ["broken YAML", "config:\n  openfaas-gitops:domain: [unclosed\n", /^stacks\/Pulumi\.bad\.yaml: not valid YAML: /],
        ["a list", "- config\n- 5\n", /^stacks\/Pulumi\.bad\.yaml: expected a map with a config: map .*got a list$/],
        ["config: 5", "config: 5\n", /^stacks\/Pulumi\.bad\.yaml: config must be a map of openfaas-gitops:<key>: <value>, got 5$/],
        ["config: a list", "config: [a]\n", /^stacks\/Pulumi\.bad\.yaml: config must be a map .*got \["a"\]$/],
    ];
    for (const [label, text, message] of cases) {
        it(label, () => {
            assert.throws(() => stackFileConfig("bad", project(text)), (e: Error) => message.test(e.message) && !e.message.includes("\n"));
        });
    }

    it("through the CLI: exit 1, one line naming the file", () => {
        const r = render(["--stack", "nope", "--out", path.join(tmp(), "x")]);
        assert.equal(r.code, 1);
        assert.equal(r.stderr, "no stack file stacks/Pulumi.nope.yaml; stacks: dev, prod, staging\n");
    });
});
