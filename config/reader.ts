/**
 * Reads typed values out of raw stack config, collecting every problem (in the one problem shape) so
 * one run reports all of them.
 */
import * as pulumi from "@pulumi/pulumi";
import { Problem } from "../model/problem";
import { RawConfig } from "./files";
import { closest } from "./suggest";
import { CONFIG_KEYS, ConfigKey, PROJECT, SECRET_CONFIG_KEYS } from "./keys";

/** Collects problems while reading typed values, so one run reports all of them. */
export class Reader {
    readonly problems: Problem[] = [];
    private readonly seen = new Set<string>();

    constructor(private readonly raw: RawConfig) {}

    /** The key as Pulumi names it, with the project: `openfaas-gitops:<key>`. */
    fullKey(key: string): string {
        return `${PROJECT}:${key}`;
    }

    /** A value as a problem may carry it: never a secret's, even one stored in plain text by mistake (every problem about that key hides it). */
    private redacted(key: string, value: string): string {
        return this.hidden(key) ?? value;
    }

    /**
     * What a value under `key` (`functionsEnv.DB_PIN`, `agent.repoUrl`, `flux.notifications[0].name`)
     * is redacted to when it must not be shown, else undefined. By the top-level key: Pulumi keeps a map set with
     * `--secret --path` secret whole, so every value under it is (a problem at `functionsEnv.DB_PIN`
     * showed that value).
     */
    private hidden(key: string): string | undefined {
        const top = key.split(/[.[]/, 1)[0]!;
        if (this.raw.secretKeys.has(top)) return "[secret]";
        return SECRET_CONFIG_KEYS.has(top as ConfigKey) ? "[plaintext value hidden]" : undefined;
    }

    /** A problem located in a file rather than under a config key. */
    fileProblem(location: string, expected: string): void {
        this.problems.push({ key: location, expected });
    }

    /** Problems found by a reader of a file (functions file, SealedSecret manifests), as they are. */
    addAll(problems: readonly Problem[]): readonly Problem[] {
        // One by one, never spread into push(): a functions file can give 130,000 problems, past the call-argument limit.
        // A schema's problems under a map stored as a secret carry its values: hidden as in problem().
        const prefix = `${PROJECT}:`;
        for (const p of problems) {
            const hidden = p.value !== undefined && p.key.startsWith(prefix) ? this.hidden(p.key.slice(prefix.length)) : undefined;
            this.problems.push(hidden === undefined ? p : { ...p, value: hidden });
        }
        return problems;
    }

    problem(key: string, expected: string, value?: string): void {
        this.problems.push({ key: this.fullKey(key), value: value === undefined ? undefined : this.redacted(key, value), expected });
    }

    /** The raw string, or undefined when unset; an empty string counts as unset. */
    get(key: ConfigKey): string | undefined {
        this.seen.add(key);
        const v = this.raw.values[key];
        return v === undefined || v === "" ? undefined : v;
    }

    string(key: ConfigKey, def: string, check?: (v: string) => string | undefined): string {
        const v = this.get(key);
        if (v === undefined) return def;
        const err = check?.(v);
        if (err) this.problem(key, err, v);
        return v;
    }

    optString(key: ConfigKey, check?: (v: string) => string | undefined): string | undefined {
        const v = this.get(key);
        if (v === undefined) return undefined;
        const err = check?.(v);
        if (err) this.problem(key, err, v);
        return v;
    }

    /** An optional integer; `unsetValue` is the value Pulumi.yaml declares as its default, meaning "not set". */
    optInt(key: ConfigKey, min: number, max: number, unsetValue?: number): number | undefined {
        const v = this.get(key);
        if (v === undefined || (unsetValue !== undefined && v.trim() === String(unsetValue))) return undefined;
        const n = Number(v);
        if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
            this.problem(key, `expected an integer from ${min} to ${max}`, v);
            return undefined;
        }
        return n;
    }

    int(key: ConfigKey, def: number, min: number, max: number): number {
        return this.optInt(key, min, max) ?? def;
    }

    bool(key: ConfigKey, def: boolean): boolean {
        const v = this.get(key);
        if (v === undefined) return def;
        if (v === "true") return true;
        if (v === "false") return false;
        this.problem(key, "expected a boolean: true or false", v);
        return def;
    }

    oneOf<T extends string>(key: ConfigKey, values: readonly T[], def: T): T {
        const v = this.get(key);
        if (v === undefined) return def;
        if ((values as readonly string[]).includes(v)) return v as T;
        this.problem(key, `expected one of ${values.join(" | ")}`, v);
        return def;
    }

    /** A value that must have been stored with `--secret`. */
    secret(key: ConfigKey, check?: (v: string) => string | undefined): pulumi.Output<string> | undefined {
        const v = this.get(key);
        if (v === undefined) return undefined;
        if (!this.raw.secretKeys.has(key)) {
            // Redacted (see redacted): it is a credential stored in plain text in the stack file.
            this.problem(key, `must be a secret; remove it and run: pulumi config set --secret ${key} <value>`, v);
            return undefined;
        }
        const err = check?.(v);
        if (err) this.problem(key, err, v);
        return pulumi.secret(v);
    }

    /**
     * A secret holding a JSON object (credentials by name): the object, or undefined when unset, not
     * stored as a secret, or not a JSON object (then reported with `expected`, the value hidden).
     */
    secretObject(key: ConfigKey, expected: string): Record<string, unknown> | undefined {
        if (this.secret(key) === undefined) return undefined;
        const raw = this.get(key)!;
        let parsed: unknown;
        try {
            parsed = JSON.parse(raw);
        } catch {
            parsed = undefined;
        }
        if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
        this.problem(key, expected, raw);
        return undefined;
    }

    /** A structured value (YAML map in the stack file, JSON over the wire). */
    object(key: ConfigKey): Record<string, unknown> | undefined {
        const v = this.get(key);
        if (v === undefined) return undefined;
        let parsed: unknown;
        try {
            parsed = JSON.parse(v);
        } catch {
            this.problem(key, "expected a map (YAML object in the stack file)", v);
            return undefined;
        }
        if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
            this.problem(key, "expected a map (YAML object in the stack file)", v);
            return undefined;
        }
        return parsed as Record<string, unknown>;
    }

    /** Keys in our namespace that nothing reads: almost always a typo. */
    unknownKeys(): void {
        for (const key of Object.keys(this.raw.values)) {
            if (this.seen.has(key)) continue;
            const near = closest(key, Object.keys(CONFIG_KEYS));
            // A misspelt secret key holds that secret (adminPasword: ...): its value is hidden as the key's would be.
            const value = near && this.hidden(near) !== undefined && !this.raw.secretKeys.has(key) ? "[plaintext value hidden]" : this.raw.values[key];
            this.problem(key, `unknown key${near ? `; did you mean ${this.fullKey(near)}?` : ""} (see docs/configuration.md)`, value);
        }
    }
}
