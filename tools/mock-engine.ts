/**
 * TEST DOUBLE for the Pulumi engine and its providers: the program is evaluated under the SDK's
 * mock monitor, so it runs in seconds with no CLI or plugin built (and the random, tls and github
 * plugins cannot be built on the test machines at all; test/engine.test.ts runs the real engine).
 * The program itself (config parsing, components, spec functions) runs for real; only resource
 * registration is answered here. Generated credentials come back as obvious
 * placeholders, never as anything that could be mistaken for a real secret.
 *
 * Used by the unit tests, `npm run render` and the benchmarks.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as yaml from "js-yaml";
import { projectFiles, PROJECT, RawConfig } from "../config";

/** One resource the program declared, as the engine received it. */
export interface DeclaredResource {
    readonly type: string;
    readonly name: string;
    /** Inputs after the SDK resolved them, with secret wrappers removed. */
    readonly inputs: Record<string, any>;
    /** Dotted paths of the inputs that were marked secret. */
    readonly secretPaths: readonly string[];
    /** Full URN; the type part chains the parent types, e.g. `...::openfaas-gitops:platform:OpenFaaS$kubernetes:core/v1:Secret::openfaas-basic-auth`. */
    readonly urn: string;
    /** Type of the direct parent, or undefined for top-level resources. */
    readonly parentType?: string;
}

/** Prefix of every placeholder the double returns for a generated value. */
export const PLACEHOLDER = "PLACEHOLDER-generated-at-deploy";

/** The SDK's serialised form of a secret value. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const SECRET_SIG_VALUE = "1b47061264138c4ac30d75fd1eb44270";

/** Removes secret wrappers, collecting where they were. */
function unwrapSecrets(value: unknown, at: string, paths: string[]): unknown {
    if (Array.isArray(value)) return value.map((v, i) => unwrapSecrets(v, `${at}[${i}]`, paths));
    if (value === null || typeof value !== "object") return value;
    const obj = value as Record<string, unknown>;
    if (obj[SECRET_SIG] === SECRET_SIG_VALUE) {
        paths.push(at);
        return unwrapSecrets(obj.value, at, []);
    }
    return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, unwrapSecrets(v, at ? `${at}.${k}` : k, paths)]));
}

/** Outputs the double invents for provider-computed properties. */
function computedState(type: string, name: string): Record<string, unknown> {
    switch (type) {
        case "random:index/randomPassword:RandomPassword":
            return { result: `${PLACEHOLDER}:password:${name}` };
        case "tls:index/privateKey:PrivateKey":
            return {
                privateKeyPem: `${PLACEHOLDER}:private-key:${name}`,
                privateKeyOpenssh: `${PLACEHOLDER}:private-key:${name}`,
                publicKeyOpenssh: `ssh-ed25519 ${PLACEHOLDER}:public-key:${name}`,
                publicKeyPem: `${PLACEHOLDER}:public-key:${name}`,
            };
        case "tls:index/selfSignedCert:SelfSignedCert":
            return { certPem: `${PLACEHOLDER}:certificate:${name}` };
        default:
            return {};
    }
}

/** Reads a shipped stack file the way the engine hands it to the program: every value a string. */
export function stackFileConfig(stack: string, projectDir = path.resolve(__dirname, "..")): RawConfig {
    const file = path.join(projectDir, "stacks", `Pulumi.${stack}.yaml`);
    if (!fs.existsSync(file)) {
        const shipped = fs.readdirSync(path.join(projectDir, "stacks")).map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1]).filter(Boolean);
        throw new Error(`no stack file stacks/Pulumi.${stack}.yaml; stacks: ${shipped.join(", ")}`);
    }
    const rel = `stacks/Pulumi.${stack}.yaml`;
    let doc: unknown;
    try {
        doc = yaml.load(fs.readFileSync(file, "utf8"), { filename: rel }) ?? {};
    } catch (e) {
        throw new Error(`${rel}: not valid YAML: ${(e as Error).message.split("\n")[0]}`);
    }
    const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
    if (!isMap(doc)) throw new Error(`${rel}: expected a map with a config: map of openfaas-gitops:<key>: <value>, got ${Array.isArray(doc) ? "a list" : JSON.stringify(doc)}`);
    const config = doc.config ?? {};
    if (!isMap(config)) throw new Error(`${rel}: config must be a map of openfaas-gitops:<key>: <value>, got ${JSON.stringify(config)}`);
    return { ...rawConfigFromMap(stack, config), files: projectFiles(projectDir) };
}

/** Converts a `config:` map (as in a stack file) to raw engine config; encrypted values are refused. */
export function rawConfigFromMap(stack: string, config: Record<string, unknown>): RawConfig {
    const values: Record<string, string> = {};
    const secretKeys = new Set<string>();
    const prefix = `${PROJECT}:`;
    for (const [fq, value] of Object.entries(config)) {
        if (!fq.startsWith(prefix)) continue;
        const key = fq.slice(prefix.length);
        if (value !== null && typeof value === "object" && "secure" in value) {
            throw new Error(`${fq}: encrypted values cannot be decrypted without the Pulumi CLI; pass the plaintext with secretKeys instead`);
        }
        values[key] = typeof value === "string" ? value : JSON.stringify(value);
    }
    return { stack, values, secretKeys, files: projectFiles(path.resolve(__dirname, "..")) };
}

/**
 * Runs `program` under the mock monitor and returns every declared resource. Each call starts a
 * fresh monitor, so runs do not see each other's resources.
 */
export async function declare<T>(stack: string, program: () => T): Promise<{ resources: DeclaredResource[]; result: T }> {
    const recorded: { type: string; name: string; inputs: Record<string, any>; secretPaths: string[] }[] = [];
    await pulumi.runtime.setMocks(
        {
            newResource(args) {
                const secretPaths: string[] = [];
                const inputs = unwrapSecrets(args.inputs, "", secretPaths) as Record<string, any>;
                recorded.push({ type: args.type, name: args.name, inputs, secretPaths });
                const state = { ...args.inputs, ...computedState(args.type, args.name) };
                return { id: args.custom ? `${args.name}-id` : undefined, state };
            },
            call(args) {
                throw new Error(`the program made a provider call (${args.token}) that the mock engine does not answer`);
            },
        },
        PROJECT,
        stack,
        false,
    );
    const result = program();
    await pulumi.runtime.disconnect();
    const monitor = pulumi.runtime.getMonitor() as unknown as { resources?: Map<string, { urn: string }> } | undefined;
    const urns = [...(monitor?.resources?.keys() ?? [])];
    const resources = recorded.map((r) => {
        const urn = urns.find((u) => u.endsWith(`::${r.name}`) && lastType(u) === r.type) ?? "";
        const chain = urn.split("::")[2]?.split("$") ?? [];
        return { ...r, urn, parentType: chain.length > 1 ? chain[chain.length - 2] : undefined };
    });
    return { resources, result };
}

function lastType(urn: string): string | undefined {
    return urn.split("::")[2]?.split("$").pop();
}

/** Resolves an Output's value (for assertions). */
export function valueOf<T>(o: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => o.apply(resolve));
}
