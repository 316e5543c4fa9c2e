/**
 * The documentation's own consistency: every relative link in README.md, docs/ and secrets/README.md
 * reaches a file of the repository, and every #anchor a heading of the page it names (GitHub's
 * heading ids), so moving a section breaks a test rather than a reader's click.
 */
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "..");
const PAGES = ["README.md", "secrets/README.md", ...fs.readdirSync(path.join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];

/** GitHub's id of a heading: lower case, punctuation dropped (but `-` and `_`), spaces to `-`. */
function slug(heading: string): string {
    return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-");
}

function anchors(page: string): Set<string> {
    const text = fs.readFileSync(path.join(ROOT, page), "utf8").replace(/^```[\s\S]*?^```/gm, "");
    return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1]!)));
}

describe("documentation links", () => {
    for (const page of PAGES) {
        it(`${page}: every relative link and anchor resolves`, () => {
            const text = fs.readFileSync(path.join(ROOT, page), "utf8").replace(/^```[\s\S]*?^```/gm, "");
            for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
                if (/^[a-z]+:/.test(target!)) continue;
                const [file, anchor] = target!.split("#") as [string, string | undefined];
                const resolved = file === "" ? page : path.posix.normalize(path.posix.join(path.posix.dirname(page), file));
                assert.ok(fs.existsSync(path.join(ROOT, resolved)), `${page}: ${target} -> ${resolved} does not exist`);
                if (anchor !== undefined) assert.ok(anchors(resolved).has(anchor), `${page}: ${target}: no heading #${anchor} in ${resolved}`);
            }
        });
    }

    it("the README links every page of docs/", () => {
        const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
        for (const page of PAGES.filter((p) => p.startsWith("docs/"))) assert.ok(readme.includes(`](${page})`), page);
    });
});
