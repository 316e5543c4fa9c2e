/**
 * How faas-cli 0.18.12 reads a stack.yml (go-sdk `stack`, gopkg.in/yaml.v3 into Go structs), where
 * that differs from a plain YAML load. Pure helpers for parse.ts.
 */
import * as yaml from "js-yaml";

/**
 * Every scalar as the text the file shows, merge keys (`<<: *anchor`) resolved, `null`/`~`/empty
 * as null. faas-cli decodes environment, labels, annotations, image, secrets and the other string
 * fields into Go strings, which yaml.v3 fills with the scalar's text: `1.0`, `010`, `0x1F`, `1e3`
 * stay exactly that, where a YAML 1.2 load would turn them into numbers first.
 */
export const AS_WRITTEN_SCHEMA = yaml.FAILSAFE_SCHEMA.extend({ implicit: [jsYamlTypes().null, jsYamlTypes().merge] });

/** js-yaml 4 exports its built-in types as `types`; @types/js-yaml 4.0.9 does not declare them. */
function jsYamlTypes(): { null: yaml.Type; merge: yaml.Type } {
    const types = (yaml as unknown as { types?: { null?: yaml.Type; merge?: yaml.Type } }).types;
    if (!types?.null || !types.merge) throw new Error("js-yaml no longer exports types.null and types.merge; pin js-yaml 4.1.x in package.json");
    return { null: types.null, merge: types.merge };
}

/** The words yaml.v3 accepts for a Go bool field (YAML 1.1 compatibility), e.g. `readonly_root_filesystem: yes`. */
const YAML_BOOLS: Readonly<Record<string, boolean>> = Object.fromEntries([
    ...["true", "True", "TRUE", "y", "Y", "yes", "Yes", "YES", "on", "On", "ON"].map((w) => [w, true]),
    ...["false", "False", "FALSE", "n", "N", "no", "No", "NO", "off", "Off", "OFF"].map((w) => [w, false]),
]);

/** Pure: a bool field's value from its as-written text (null is Go's zero value, false), or undefined when yaml.v3 would refuse it. */
export function yamlBool(written: unknown): boolean | undefined {
    if (written === null || written === undefined) return false;
    return typeof written === "string" ? YAML_BOOLS[written] : undefined;
}

/** Swarm node attributes that have a well-known Kubernetes node label. */
const SWARM_NODE_LABELS: Readonly<Record<string, string>> = {
    "node.platform.os": "kubernetes.io/os",
    "node.platform.arch": "kubernetes.io/arch",
    "node.hostname": "kubernetes.io/hostname",
};
/** `uname -m` names Swarm reports, as the GOARCH names Kubernetes nodes carry. */
const ARCH_NAMES: Readonly<Record<string, string>> = { x86_64: "amd64", aarch64: "arm64", armv7l: "arm", armhf: "arm", i386: "386", i686: "386" };

/**
 * Pure: a faas-cli constraint as a Kubernetes node selector `[key, value]`, or why it cannot be one.
 * `key=value` is what faas-netes and the Pro operator read. The Swarm form the OpenFaaS docs still
 * show (`node.platform.os == linux`) is split on "=" by faas-netes into three parts and silently
 * dropped there; here it is translated to the node label with the same meaning instead, or refused
 * when Kubernetes has no equivalent.
 */
export function nodeSelectorOf(constraint: string): { selector: [string, string] } | { problem: string } {
    const swarm = /^\s*([^\s=!]+)\s*(==|!=)\s*(\S+)\s*$/.exec(constraint);
    if (swarm) {
        const [, attr, op, value] = swarm as unknown as [string, string, string, string];
        if (op === "!=") return { problem: `"${constraint}": a Kubernetes nodeSelector can only require equality; express it as "<label>=<value>" or drop it` };
        if (attr.startsWith("node.labels.")) return { selector: [attr.slice("node.labels.".length), value] };
        const label = SWARM_NODE_LABELS[attr];
        if (!label) return { problem: `"${constraint}": Swarm's ${attr} has no Kubernetes node label; use node.platform.os, node.platform.arch, node.hostname, node.labels.<label> or "<label>=<value>"` };
        return { selector: [label, label === "kubernetes.io/arch" ? (ARCH_NAMES[value] ?? value) : value] };
    }
    const parts = constraint.split("=");
    if (parts.length !== 2) return { problem: `"${constraint}" must be a node selector "label=value" (or Swarm's "node.platform.os == linux")` };
    return { selector: [parts[0]!.trim(), parts[1]!.trim()] };
}
