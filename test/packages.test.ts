/**
 * The Debian package lists (tools/packages/*.txt, tools/packages.ts): the one home of each list, read
 * by the tools, .ci/run and the release workflow; none of them writes a list of its own.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { debianPackages, parsePackageList } from "../tools/packages";
import { ROOT } from "./helpers";

describe("Debian package lists", () => {
    it("the shipped lists parse, and .ci/run and the release workflow install from them, not from lists of their own", () => {
        const podman = debianPackages("podman");
        const node = debianPackages("real-node");
        assert.ok(podman.has("podman") && podman.has("mmdebstrap"));
        assert.ok(node.has("containerd") && node.has("iptables"));
        const ci = fs.readFileSync(path.join(ROOT, ".ci", "run"), "utf8");
        const workflow = fs.readFileSync(path.join(ROOT, ".github", "workflows", "release-agent.yml"), "utf8");
        for (const text of [ci, workflow]) {
            for (const line of text.split("\n").filter((l) => /apt-get install/.test(l) && !/openssh-server/.test(l))) {
                assert.match(line, /\$\((packages (podman|real-node)|sed -e 's\/#\.\*\/\/' tools\/packages\/podman\.txt)/, line);
            }
        }
    });

    it("refuses a line without an absolute file, naming it", () => {
        assert.throws(() => parsePackageList("podman\n"), /"podman"/);
        assert.throws(() => parsePackageList("podman usr/bin/podman\n"), /usr\/bin\/podman/);
        assert.throws(() => parsePackageList("podman /usr/bin/podman extra\n"), /extra/);
    });

    it("property: lists written as `<package> <file>` with comments and blank lines read back as written", () => {
        const name = fc.stringMatching(/^[a-z0-9][a-z0-9+.-]{0,30}$/);
        const file = fc.stringMatching(/^(\/[a-z0-9._-]{1,12}){1,4}$/);
        fc.assert(
            fc.property(fc.uniqueArray(fc.tuple(name, file), { selector: ([n]) => n, maxLength: 12 }), fc.array(fc.constantFrom("", "# a comment", "   "), { maxLength: 4 }), (entries, noise) => {
                const text = [...noise, ...entries.map(([n, f], i) => `${n} ${f}${i % 2 ? "  # why" : ""}`), ...noise].join("\n");
                assert.deepEqual([...parsePackageList(text)], entries);
            }),
        );
    });
});
