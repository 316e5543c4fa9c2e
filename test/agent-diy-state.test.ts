/**
 * Repair of a DIY file backend's metadata torn by a killed write (agent/diy-state.ts), on real
 * files: only `.attrs` files that are not one whole JSON object are removed, nothing else is touched.
 * The whole path through the real engine is in test/agent-pulumi-engine.test.ts.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { attrsAreWhole, fileBackendDir, removeTornAttrs } from "../agent/diy-state";
import { tempDir } from "./support/tmp";

describe("DIY state repair", () => {
    it("fileBackendDir reads file:// URLs (absolute, home-relative, with options) and nothing else", () => {
        assert.equal(fileBackendDir("file:///var/state"), "/var/state");
        assert.equal(fileBackendDir("file:///var/state?no_tmp_dir=true"), "/var/state");
        assert.equal(fileBackendDir("file://~/state"), path.join(os.homedir(), "state"));
        for (const other of [undefined, "", "s3://bucket", "https://api.pulumi.com", "gs://b", "azblob://c"]) assert.equal(fileBackendDir(other), undefined);
    });

    it("an .attrs is whole exactly when it is one JSON object: every cut of one is torn", () => {
        fc.assert(
            fc.property(fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.integer(), fc.boolean())), (attrs) => {
                const text = JSON.stringify(attrs) + "\n";
                assert.equal(attrsAreWhole(text), true);
                // Every strict prefix short of the closing brace is a torn write.
                for (let i = 0; i < text.trimEnd().length; i++) assert.equal(attrsAreWhole(text.slice(0, i)), false, JSON.stringify(text.slice(0, i)));
            }),
            { numRuns: 200 },
        );
        for (const notObject of ["null", "[]", "1", '"s"']) assert.equal(attrsAreWhole(notObject), false);
    });

    it("removes torn .attrs files under .pulumi only, and leaves whole ones, other files and links alone", () => {
        const dir = tempDir("ofg-diy-");
        const stacks = path.join(dir, ".pulumi", "stacks", "proj");
        fs.mkdirSync(stacks, { recursive: true });
        const write = (f: string, text: string) => fs.writeFileSync(path.join(stacks, f), text);
        write("dev.json", "");
        write("dev.json.attrs", "");
        write("dev.json.bak.attrs", '{"user.cache_control":""');
        write("prod.json.attrs", '{"user.content_type":"application/json"}\n');
        write("notes.txt", "");
        fs.symlinkSync(path.join(dir, "elsewhere.attrs"), path.join(stacks, "link.json.attrs"));
        fs.writeFileSync(path.join(dir, "elsewhere.attrs"), "");
        fs.writeFileSync(path.join(dir, "outside.attrs"), "");
        assert.deepEqual(removeTornAttrs(dir).sort(), [".pulumi/stacks/proj/dev.json.attrs", ".pulumi/stacks/proj/dev.json.bak.attrs"]);
        assert.deepEqual(fs.readdirSync(stacks).sort(), ["dev.json", "link.json.attrs", "notes.txt", "prod.json.attrs"]);
        assert.ok(fs.existsSync(path.join(dir, "elsewhere.attrs")) && fs.existsSync(path.join(dir, "outside.attrs")));
        assert.deepEqual(removeTornAttrs(path.join(dir, "missing")), []);
        fs.rmSync(dir, { recursive: true, force: true });
    });
});
