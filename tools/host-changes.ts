/**
 * What a real node (tools/real-node.ts) changes on the host outside its run directory, recorded
 * before it starts and undone when it stops: kernel settings the kubelet writes, iptables chains it
 * makes, and directories the kubelet and containerd create at fixed paths. Pure functions here; the
 * reading and writing is in tools/real-node.ts.
 */

/**
 * The kernel settings a real node may change, as paths under /proc/sys: the kubelet's "kernel
 * tunables" (it sets them when `protectKernelDefaults` is false; true makes it refuse to start
 * instead), and IP forwarding, which the CNI bridge plugin turns on for its gateway.
 */
export const NODE_SYSCTLS = [
    "net/ipv4/ip_forward",
    "vm/overcommit_memory",
    "vm/panic_on_oom",
    "kernel/panic",
    "kernel/panic_on_oops",
    "kernel/keys/root_maxkeys",
    "kernel/keys/root_maxbytes",
] as const;

/**
 * Directories the kubelet, containerd and the CNI plugins create at fixed paths whatever their flags
 * say: the device plugin socket directory, the container log links, containerd 1.6's shim sockets,
 * the mount points of pod network namespaces and libcni's result cache. Removed at stop only when the
 * node created them.
 */
export const FIXED_HOST_PATHS = ["/var/lib/kubelet", "/var/log/containers", "/var/log/pods", "/run/containerd", "/var/run/netns", "/var/lib/cni"] as const;

/** Chains are removed only under this prefix: the kubelet's. Another program's chains made meanwhile are left alone. */
export const KUBELET_CHAIN_PREFIX = "KUBE-";

/** One table of `iptables-save` output: its chains and its rules as written (`-A CHAIN ...`). */
export interface IptablesTable {
    readonly chains: ReadonlySet<string>;
    readonly rules: readonly string[];
}

/**
 * Pure: `iptables-save` text as tables. Lines outside a table, comments and COMMIT are skipped;
 * a line it cannot read is an error naming it (the format is fixed by iptables, so that would be a bug here).
 */
export function parseIptablesSave(text: string): Map<string, IptablesTable> {
    const tables = new Map<string, { chains: Set<string>; rules: string[] }>();
    let current: { chains: Set<string>; rules: string[] } | undefined;
    for (const raw of text.split("\n")) {
        const line = raw.trim();
        if (line === "" || line.startsWith("#") || line === "COMMIT") continue;
        if (line.startsWith("*")) {
            const name = line.slice(1);
            current = tables.get(name) ?? { chains: new Set(), rules: [] };
            tables.set(name, current);
        } else if (current && line.startsWith(":")) {
            current.chains.add(line.slice(1).split(/\s+/)[0]!);
        } else if (current && line.startsWith("-A ")) {
            current.rules.push(line);
        } else {
            throw new Error(`iptables-save printed a line this cannot read: ${JSON.stringify(raw.slice(0, 200))}`);
        }
    }
    return tables;
}

/** The chain a rule jumps or goes to (`-j`/`-g`), if any. */
function targetOf(rule: string): string | undefined {
    return /\s-[jg]\s+(\S+)/.exec(rule)?.[1];
}

/**
 * Pure: `iptables-restore --noflush` input that removes what the kubelet added between `before` and
 * `after`: its new chains (named {@link KUBELET_CHAIN_PREFIX}...), first every rule jumping to one
 * of them from another chain (as written by iptables-save, quotes and all, so iptables-restore
 * reads it back exactly), then their rules (`-F`), then the chains (`-X`). A new chain of any other
 * name, and every rule that existed before, are left alone. Empty when there is nothing to undo.
 */
export function iptablesUndo(before: string, after: string): string {
    const b = parseIptablesSave(before);
    const out: string[] = [];
    for (const [table, t] of parseIptablesSave(after)) {
        const old = b.get(table)?.chains ?? new Set<string>();
        const made = [...t.chains].filter((c) => c.startsWith(KUBELET_CHAIN_PREFIX) && !old.has(c));
        if (made.length === 0) continue;
        out.push(`*${table}`);
        for (const rule of t.rules) {
            const chain = rule.split(/\s+/)[1]!;
            const target = targetOf(rule);
            if (!made.includes(chain) && target !== undefined && made.includes(target)) out.push(`-D${rule.slice(2)}`);
        }
        for (const c of made) out.push(`-F ${c}`);
        for (const c of made) out.push(`-X ${c}`);
        out.push("COMMIT");
    }
    return out.length === 0 ? "" : out.join("\n") + "\n";
}
