/** The `flux` map, its notifications and secrets, and the setter markers image automation needs in the functions file. */
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { AGENT_DEFAULTS } from "../agent/contract";
import { FluxNotification, githubRepositoryAddress, NOTIFICATION_TYPES, setterMarker } from "../model/flux";
import { isSshUrl } from "../model/git";
import { FunctionDef } from "../model/function";
import { DNS_LABEL, DNS_SUBDOMAIN } from "../model/names";
import { checkToken } from "./checks";
import { projectFiles, RawConfig } from "./files";
import { INVOKER_FILE, INVOKER_IMAGE_POLICY } from "./invoker";
import { Reader } from "./reader";
import { schemaProblems, Schema } from "./schema";
import { AgentConfig, FluxConfig } from "./types";

/** A Flux duration as its CRDs accept it (Go's time.ParseDuration units, no fractions). */
const FLUX_DURATION = /^([0-9]+(ms|s|m|h))+$/;

/** One entry of `flux.notifications`; which fields go with which type is code in {@link readNotifications}. */
const NOTIFICATION_SCHEMA: Schema = {
    type: "object",
    expected: "expected a map with name and type",
    required: ["name", "type"],
    additionalProperties: false,
    properties: {
        name: { type: "string", pattern: DNS_LABEL.source, description: "a DNS-1123 label naming the Provider and Alert, e.g. ops-slack", expected: "expected a DNS-1123 label naming the Provider and Alert, e.g. ops-slack" },
        type: { enum: [...NOTIFICATION_TYPES], description: `one of ${NOTIFICATION_TYPES.join(" | ")}` },
        channel: { type: "string", expected: "a channel name (string) applies to slack only" },
        severity: { enum: ["info", "error"], expected: "expected info (everything) | error (failures only)" },
    },
};

/** The `flux` map. Defaults are applied in {@link readFlux}; rules across fields, the agent and the secrets are code there. */
export const FLUX_SCHEMA: Schema = {
    type: "object",
    additionalProperties: false,
    properties: {
        namespace: { type: "string", pattern: DNS_LABEL.source, expected: "expected a namespace name (DNS-1123 label)" },
        interval: { type: "string", pattern: FLUX_DURATION.source, expected: "expected a Flux duration such as 30s, 1m or 1h" },
        kustomizeController: { type: "boolean" },
        helmController: { type: "boolean" },
        webhookHost: { type: "string", pattern: DNS_SUBDOMAIN.source, expected: "expected a DNS name in lower case" },
        notifications: { type: "array", items: NOTIFICATION_SCHEMA },
        imageAutomation: { type: "boolean" },
    },
};

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
    const invalid = new Set(r.addAll(schemaProblems(FLUX_SCHEMA, f, r.fullKey("flux"))).map((p) => p.key));
    // A field with a problem reads as unset, so the rules below never pile onto it.
    const str = (field: string) => (typeof f[field] === "string" && f[field] !== "" && !invalid.has(r.fullKey(key(field))) ? (f[field] as string) : undefined);
    const notifications = readNotifications(r, Array.isArray(f.notifications) ? f.notifications : [], agent?.repoUrl, invalid);
    const namespace = str("namespace") ?? AGENT_DEFAULTS.fluxNamespace;
    const interval = str("interval") ?? "1m";
    const webhookHost = str("webhookHost");
    // One host per certificate: the agent's Ingress and Flux's live in different namespaces, each with its own TLS Secret.
    if (webhookHost && webhookHost === agent?.webhookHost) r.problem(key("webhookHost"), "must differ from agent.webhookHost (each Ingress gets its own certificate); use another host, or unset agent.webhookHost since the Receiver replaces the agent's webhook", webhookHost);
    if (webhookSecret && !webhookHost) r.problem("fluxWebhookSecret", "is used only with flux.webhookHost (the Receiver is off without it); set flux.webhookHost or unset fluxWebhookSecret");
    let imageAutomation: FluxConfig["imageAutomation"];
    if (f.imageAutomation === true) {
        // Pushing needs the deploy key (with write access); a token for https pushes is not modelled.
        if (agent && !isSshUrl(agent.repoUrl)) r.problem(key("imageAutomation"), `pushes tag commits with the deploy key, so agent.repoUrl must be an ssh URL, not ${agent.repoUrl}`, "true");
        const file = r.string("functionsFile", "functions/stack.yml");
        checkSetterMarkers(r, raw, file, namespace, functions);
        checkSetterMarkers(r, raw, INVOKER_FILE, namespace, [{ name: INVOKER_IMAGE_POLICY, imagePolicy: { semver: "" } }], "");
        // The invoke image's ImageRepository and ImagePolicy take this name, and so would the function's.
        if (functions.some((fn) => fn.imagePolicy && fn.name === INVOKER_IMAGE_POLICY)) {
            r.fileProblem(`${file} functions.${INVOKER_IMAGE_POLICY}.imagePolicy`, `the name ${INVOKER_IMAGE_POLICY} is taken by the cron jobs' invoke image (${INVOKER_FILE}); rename the function`);
        }
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
function checkSetterMarkers(r: Reader, raw: RawConfig, file: string, namespace: string, functions: readonly Pick<FunctionDef, "name" | "imagePolicy">[], at = "functions."): void {
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
            r.fileProblem(`${file} ${at}${at ? `${fn.name}.` : ""}image`, `${marked.length === 0 ? "has no" : "has more than one"} Flux setter marker; end the image line with ${marker} (flux.imageAutomation commits new tags only on marked lines)`);
        }
    }
}

/**
 * Reads `flux.notifications` and their credentials from the secret `fluxNotificationSecrets`, a JSON
 * object of notification name to webhook URL (or, for `github`, a token allowed to set commit statuses).
 */
function readNotifications(r: Reader, list: unknown[], repoUrl: string | undefined, invalid: ReadonlySet<string>): FluxNotification[] {
    const secretsSet = r.get("fluxNotificationSecrets") !== undefined;
    const parsed = r.secretObject("fluxNotificationSecrets", 'expected a JSON object of notification name to webhook URL or token, e.g. {"ops-slack":"https://hooks.slack.com/services/..."}');
    const secrets = parsed ?? {};
    const out: FluxNotification[] = [];
    const names = new Set<string>();
    list.forEach((item, i) => {
        const at = (field?: string) => `flux.notifications[${i}]${field ? `.${field}` : ""}`;
        if (!item || typeof item !== "object" || Array.isArray(item)) return; // the schema reported it
        const n = item as Record<string, unknown>;
        const name = typeof n.name === "string" ? n.name : "";
        if (!invalid.has(r.fullKey(at("name"))) && names.has(name)) r.problem(at("name"), "another notification has this name", name);
        names.add(name);
        const type = n.type as FluxNotification["type"];
        if (typeof n.channel === "string" && type !== "slack") r.problem(at("channel"), "a channel name (string) applies to slack only", JSON.stringify(n.channel));
        const severity = n.severity === "error" ? "error" : "info";
        if (type === "github" && repoUrl && !githubRepositoryAddress(repoUrl)) r.problem(at("type"), `github commit status needs agent.repoUrl on github.com, not ${repoUrl}`, "github");
        const secret = secrets[name];
        // A missing credential is reported per notification, unless the whole value was already refused.
        if (parsed || !secretsSet) {
            if (typeof secret !== "string" || secret === "") {
                r.problem("fluxNotificationSecrets", `has no ${type === "github" ? "token" : "webhook URL"} for notification ${name}; run: pulumi config set --secret --path 'fluxNotificationSecrets.${name}' <value>`);
            } else if (type !== "github" && !/^https:\/\/\S+$/.test(secret)) {
                r.problem("fluxNotificationSecrets", `the value for ${name} must be the https:// webhook URL of the ${type} channel`, "[secret]");
            }
        }
        out.push({ name, type, channel: typeof n.channel === "string" ? n.channel : undefined, severity, secret: pulumi.secret(typeof secret === "string" ? secret : "") });
    });
    // Only keys shaped as notification names are echoed: anything else may be the webhook URL or token pasted as the key.
    const extras = Object.keys(secrets).filter((k) => !names.has(k));
    for (const extra of extras.filter((k) => DNS_LABEL.test(k))) {
        r.problem("fluxNotificationSecrets", `has a value for ${extra}, which is no entry of flux.notifications; remove it or add the notification`);
    }
    const unnamed = extras.filter((k) => !DNS_LABEL.test(k)).length;
    if (unnamed > 0) r.problem("fluxNotificationSecrets", `has ${unnamed === 1 ? "a key that is no notification name" : `${unnamed} keys that are no notification names`} (not shown: it may be a value pasted as a key); its keys are the names of flux.notifications`);
    return out;
}
