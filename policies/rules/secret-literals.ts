import type { ResourceValidationPolicy } from "@pulumi/policy";
import { label, SECRET } from "./resource";

/** Policy config of no-secret-literals. */
export interface NoSecretLiteralsConfig {
    /** The program's directory (with Pulumi.yaml), absolute or relative to the pack's directory. @default ".." (the pack inside the program's repository) */
    readonly projectDir: string;
}

/** Pure: the policy over the literals of a project directory (the pack passes the project's). */
export function noSecretLiterals(literals: (projectDir: string) => ReadonlySet<string>): ResourceValidationPolicy {
    return {
        name: "no-secret-literals",
        description: "No Kubernetes Secret holds a value written in plain text in the program or a stack file.",
        enforcementLevel: "mandatory",
        configSchema: { properties: { projectDir: { type: "string", default: ".." } } },
        validateResource: (args, report) => {
            if (args.type !== SECRET) return;
            const known = literals(args.getConfig<NoSecretLiteralsConfig>().projectDir);
            const data: Record<string, unknown> = { ...(args.props.stringData ?? {}) };
            for (const [k, v] of Object.entries(args.props.data ?? {})) if (typeof v === "string") data[k] = Buffer.from(v, "base64").toString("utf8");
            for (const [k, v] of Object.entries(data)) {
                if (typeof v === "string" && known.has(v)) {
                    report(`${label(args.type, args.props, args.name)}: ${k} is a plaintext literal from the program or a stack file; use a config secret (pulumi config set --secret), a generated value, or a SealedSecret in secrets/<stack>/`);
                }
            }
        },
    };
}
