/**
 * The hostile-input parsers of issue 20, timed: `${VAR}` substitution of N references in a functions
 * file (config/stack-yml/envsubst.ts), the refusal of a YAML alias bomb in the functions file
 * (model/yaml.ts loadYaml) and in the sealing tools' input (sealing/yaml-input.ts loadDocuments), and
 * splitPem (sealing/key-cli.ts) on a file of unterminated PEM blocks. Each is linear in its input; the
 * code before issue 20 was quadratic or walked the bomb expanded. Figures only, no assertion on them
 * (the tests check the outcomes). Usage: npm run bench:parsers [-- <references>] (default 40,000, the
 * issue's size; the PEM file has 2.5 blocks per reference, 100,000 blocks or 2.8 MB by default; CI runs
 * it with 1000 so it cannot rot).
 */
import { performance } from "node:perf_hooks";
import { substitute } from "../config/stack-yml/envsubst";
import { loadYaml } from "../model/yaml";
import { splitPem } from "../sealing/key-cli";
import { loadDocuments, YamlInputError } from "../sealing/yaml-input";

const REFERENCES = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 40_000);
const PEM_BLOCKS = Math.round(REFERENCES * 2.5);

/** Runs `fn` once and prints how long it took, with what it says of its result. */
function time(what: string, fn: () => string): void {
    const started = performance.now();
    const outcome = fn();
    console.log(`${what}: ${(performance.now() - started).toFixed(1)} ms (${outcome})`);
}

/** `levels` anchors, each a list of nine aliases to the one before ("billion laughs"). */
function aliasBomb(levels: number): string {
    let t = 'x-a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n';
    for (let i = 1; i < levels; i++) t += `x-a${i}: &a${i} [${Array(9).fill(`*a${i - 1}`).join(",")}]\n`;
    return t;
}

const set = "a: ${X}\n".repeat(REFERENCES);
time(`\${VAR} substitution, ${REFERENCES} set references (${set.length} characters)`, () => `${substitute(set, { X: "1" }).text.length} characters out`);
const unset = "a: ${UNSET}\n".repeat(REFERENCES);
time(`\${VAR} substitution, ${REFERENCES} unset references`, () => `${substitute(unset, {}).problems.length} problems`);

const functionsBomb = `${aliasBomb(7)}functions:\n  f:\n    image: x/y:1\n    readOnlyRootFilesystem: *a6\n    secrets: *a6\n`;
time(`functions file alias bomb, ${functionsBomb.length} bytes (loadYaml)`, () => {
    const r = loadYaml(functionsBomb, { file: "functions/stack.yml" });
    return "error" in r ? `refused: ${r.error.slice(0, 40)}...` : "loaded";
});

const sealBomb = `${aliasBomb(9)}data: *a8\n`;
time(`seal input alias bomb, ${sealBomb.length} bytes (loadDocuments)`, () => {
    try {
        loadDocuments(sealBomb);
        return "loaded";
    } catch (e) {
        if (!(e instanceof YamlInputError)) throw e;
        return `refused: ${e.message.slice(0, 40)}...`;
    }
});

const pem = "-----BEGIN CERTIFICATE-----x".repeat(PEM_BLOCKS);
time(`splitPem, ${PEM_BLOCKS} unterminated blocks (${(pem.length / 1e6).toFixed(1)} MB)`, () => {
    const r = splitPem(pem);
    return r.privateKey || r.certificate ? "found a block" : "no block";
});
