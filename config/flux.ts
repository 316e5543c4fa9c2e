/** The `flux` map, its notifications and secrets, and the setter markers image automation needs in the functions file. */
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { FluxNotification, githubRepositoryAddress, isSshUrl, NOTIFICATION_TYPES, setterMarker } from "../components/flux";
import { FunctionDef } from "../model/function";
import { DNS_LABEL, DNS_SUBDOMAIN } from "../model/names";
import { checkToken } from "./checks";
import { projectFiles, RawConfig } from "./files";
import { Reader } from "./reader";
import { AgentConfig, FluxConfig } from "./types";

const FLUX_FIELDS: Record<string, "string" | "boolean" | "list"> = {
    namespace: "string", interval: "string", kustomizeController: "boolean", helmController: "boolean", webhookHost: "string", notifications: "list",
    imageAutomation: "boolean",
};
const NOTIFICATION_FIELDS = ["name", "type", "channel", "severity"];
/** A Flux duration as its CRDs accept it (Go's time.ParseDuration units, no fractions). */
const FLUX_DURATION = /^([0-9]+(ms|s|m|h))+$/;

/** Reads the `flux` map and its secret `fluxWebhookSecret`; Flux follows the agent's repository with the agent's deploy key. */
export function readFlux(r: Reader, agent: AgentConfig | undefined, raw: RawConfig, functions: readonly FunctionDef[]): FluxConfig | undefined {
    const f = r.object("flux");
    const webhookSecret = r.secret("fluxWebhookSecret", checkToken);
    if (!f) {
        if (webhookSecret) r.problem("fluxWebhookSecret", "is used only with the flux map and flux.webhookHost; add them or unset fluxWebhookSecret");
        if (r.get("fluxNotificationSecrets") !== undefined) r.problem("fluxNotificationSecrets", "is used only with the flux map and flux.notifications; add them or unset fluxNotificationSecrets");
        return undefined;
    }
    if (!agent) r.problem("flux", "needs the agent map: Flux follows agent.repoUrl and agent.branch with the agent's deploy key; add openfaas-gitops:agent");
    const key = (field: string) => `flux.${field}`;
    for (const [field, v] of Object.entries(f)) {
        const t = FLUX_FIELDS[field];
        if (!t) r.problem(key(field), `unknown field; expected ${Object.keys(FLUX_FIELDS).join(", ")}`, JSON.stringify(v));
        else if (t === "list" ? !Array.isArray(v) : typeof v !== t) r.problem(key(field), `expected a ${t}`, JSON.stringify(v));
    }
    const str = (field: string) => (typeof f[field] === "string" && f[field] !== "" ? (f[field] as string) : undefined);
    const notifications = readNotifications(r, Array.isArray(f.notifications) ? f.notifications : [], agent?.repoUrl);
    const namespace = str("namespace") ?? "flux-system";
    if (!DNS_LABEL.test(namespace)) r.problem(key("namespace"), "expected a namespace name (DNS-1123 label)", namespace);
    const interval = str("interval") ?? "1m";
    if (!FLUX_DURATION.test(interval)) r.problem(key("interval"), "expected a Flux duration such as 30s, 1m or 1h", interval);
    const webhookHost = str("webhookHost");
    if (webhookHost && !DNS_SUBDOMAIN.test(webhookHost)) r.problem(key("webhookHost"), "expected a DNS name in lower case", webhookHost);
    // One host per certificate: the agent's Ingress and Flux's live in different namespaces, each with its own TLS Secret.
    if (webhookHost && webhookHost === agent?.webhookHost) r.problem(key("webhookHost"), "must differ from agent.webhookHost (each Ingress gets its own certificate); use another host, or unset agent.webhookHost since the Receiver replaces the agent's webhook", webhookHost);
    if (webhookSecret && !webhookHost) r.problem("fluxWebhookSecret", "is used only with flux.webhookHost (the Receiver is off without it); set flux.webhookHost or unset fluxWebhookSecret");
    let imageAutomation: FluxConfig["imageAutomation"];
    if (f.imageAutomation === true) {
        // Pushing needs the deploy key (with write access); a token for https pushes is not modelled.
        if (agent && !isSshUrl(agent.repoUrl)) r.problem(key("imageAutomation"), `pushes tag commits with the deploy key, so agent.repoUrl must be an ssh URL, not ${agent.repoUrl}`, "true");
        const file = r.string("functionsFile", "functions/stack.yml");
        checkSetterMarkers(r, raw, file, namespace, functions);
        const dir = path.posix.join(agent?.projectPath ?? ".", path.posix.dirname(file));
        imageAutomation = { path: dir === "." ? "./" : `./${dir}` };
    }
    return {
        namespace,
        interval,
        kustomizeController: f.kustomizeController === true,
        helmController: f.helmController === true,
        webhookHost,
        webhookSecret,
        notifications,
        imageAutomation,
    };
}

/**
 * Each function with an imagePolicy must carry Flux's setter marker on its image line, or the
 * automation would never update it: `image: <ref> # {"$imagepolicy": "<flux namespace>:<function>"}`.
 */
function checkSetterMarkers(r: Reader, raw: RawConfig, file: string, namespace: string, functions: readonly FunctionDef[]): void {
    let text: string;
    try {
        text = (raw.files ?? projectFiles(process.cwd())).read(file);
    } catch {
        return; // readFunctions reported it
    }
    const lines = text.split("\n");
    for (const fn of functions.filter((f) => f.imagePolicy)) {
        const marker = setterMarker(namespace, fn.name);
        const marked = lines.filter((l) => /^\s*image:\s*\S+\s+#/.test(l) && l.trimEnd().endsWith(marker));
        if (marked.length !== 1) {
            r.at(`${file} functions.${fn.name}.image`, `${marked.length === 0 ? "has no" : "has more than one"} Flux setter marker; end the image line with ${marker} (flux.imageAutomation commits new tags only on marked lines)`);
        }
    }
}

/**
 * Reads `flux.notifications` and their credentials from the secret `fluxNotificationSecrets`, a JSON
 * object of notification name to webhook URL (or, for `github`, a token allowed to set commit statuses).
 */
function readNotifications(r: Reader, list: unknown[], repoUrl: string | undefined): FluxNotification[] {
    const secretsRaw = r.get("fluxNotificationSecrets");
    const secretsOk = r.secret("fluxNotificationSecrets") !== undefined;
    let secrets: Record<string, unknown> = {};
    if (secretsRaw !== undefined && secretsOk) {
        let parsed: unknown;
        try {
            parsed = JSON.parse(secretsRaw);
        } catch {
            parsed = undefined;
        }
        if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) secrets = parsed as Record<string, unknown>;
        else r.problem("fluxNotificationSecrets", 'expected a JSON object of notification name to webhook URL or token, e.g. {"ops-slack":"https://hooks.slack.com/services/..."}', secretsRaw);
    }
    const out: FluxNotification[] = [];
    const names = new Set<string>();
    list.forEach((item, i) => {
        const at = (field?: string) => `flux.notifications[${i}]${field ? `.${field}` : ""}`;
        if (!item || typeof item !== "object" || Array.isArray(item)) {
            r.problem(at(), "expected a map with name and type", JSON.stringify(item));
            return;
        }
        const n = item as Record<string, unknown>;
        for (const field of Object.keys(n)) if (!NOTIFICATION_FIELDS.includes(field)) r.problem(at(field), `unknown field; expected ${NOTIFICATION_FIELDS.join(", ")}`, JSON.stringify(n[field]));
        const name = typeof n.name === "string" ? n.name : "";
        if (!DNS_LABEL.test(name)) r.problem(at("name"), "required: a DNS-1123 label naming the Provider and Alert, e.g. ops-slack", JSON.stringify(n.name));
        else if (names.has(name)) r.problem(at("name"), "another notification has this name", name);
        names.add(name);
        const type = n.type as FluxNotification["type"];
        if (!(NOTIFICATION_TYPES as readonly unknown[]).includes(type)) r.problem(at("type"), `expected one of ${NOTIFICATION_TYPES.join(" | ")}`, JSON.stringify(n.type));
        if (n.channel !== undefined && (type !== "slack" || typeof n.channel !== "string")) r.problem(at("channel"), "a channel name (string) applies to slack only", JSON.stringify(n.channel));
        const severity = n.severity ?? "info";
        if (severity !== "info" && severity !== "error") r.problem(at("severity"), "expected info (everything) | error (failures only)", JSON.stringify(n.severity));
        if (type === "github" && repoUrl && !githubRepositoryAddress(repoUrl)) r.problem(at("type"), `github commit status needs agent.repoUrl on github.com, not ${repoUrl}`, "github");
        const secret = secrets[name];
        if (secretsOk || secretsRaw === undefined) {
            if (typeof secret !== "string" || secret === "") {
                r.problem("fluxNotificationSecrets", `has no ${type === "github" ? "token" : "webhook URL"} for notification ${name}; run: pulumi config set --secret --path 'fluxNotificationSecrets.${name}' <value>`);
            } else if (type !== "github" && !/^https:\/\/\S+$/.test(secret)) {
                r.problem("fluxNotificationSecrets", `the value for ${name} must be the https:// webhook URL of the ${type} channel`, "[secret]");
            }
        }
        out.push({ name, type, channel: typeof n.channel === "string" ? n.channel : undefined, severity: severity as "info" | "error", secret: pulumi.secret(typeof secret === "string" ? secret : "") });
    });
    for (const extra of Object.keys(secrets).filter((k) => !names.has(k))) {
        r.problem("fluxNotificationSecrets", `has a value for ${extra}, which is no entry of flux.notifications; remove it or add the notification`);
    }
    return out;
}
