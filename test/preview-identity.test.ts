/**
 * The pull-request preview's identity (components/preview-identity.ts) on the REAL kube-apiserver
 * with the charts' real CRDs: it reads and dry-runs the platform's kinds and nothing else, and every
 * write that is not a dry run is denied by its admission policy. Each escape it is built against is
 * tried here: a real write, a Secret, a token, exec, and its own policy.
 */
import { strict as assert } from "node:assert";
import { AGENT_DEFAULTS } from "../agent/contract";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { PREVIEW_IDENTITY, previewClusterRoleSpec, previewIdentitySpecs, previewUsername } from "../components/preview-identity";
import { writeKubeconfig } from "../tools/pki";
import { PodPreviewer, PreviewExchange } from "../agent/preview-pods";
import { kubeApi } from "../kube/api";
import { ControlPlane, controlPlaneAvailable, installCrds, startControlPlane } from "../tools/controlplane";
import { onLoopback, socketsOf } from "./support/sockets";
import { tempDir } from "./support/tmp";
import { until } from "./support/wait";

const available = controlPlaneAvailable();
if (!available) console.log("# SKIP preview identity tests: no `go` on PATH to build kube-apiserver and etcd, and none cached");

const NS = AGENT_DEFAULTS.previewNamespace;
const DENIED = new RegExp(`ValidatingAdmissionPolicy '${PREVIEW_IDENTITY}' with binding '${PREVIEW_IDENTITY}' denied request: ${PREVIEW_IDENTITY} previews a pull request: it may read and dry-run, never write`);

describe("the preview identity on a real kube-apiserver", { skip: !available && "no Go toolchain and no cached binaries" }, () => {
    let cp: ControlPlane;
    /** kubectl as the preview identity; returns stdout, or throws with kubectl's error. */
    let asPreview: (args: string[], input?: string) => string;

    before(async () => {
        cp = await startControlPlane({ live: false });
        installCrds(cp);
        cp.kubectl(["create", "namespace", NS]);
        cp.kubectl(["create", "namespace", "openfaas-fn"]);
        cp.kubectl(["apply", "-f", "-"], previewIdentitySpecs(NS).map((o) => JSON.stringify(o)).join("\n"));
        cp.kubectl(["create", "secret", "generic", "basic-auth", "-n", "openfaas-fn", "--from-literal=basic-auth-password=hunter2"]);
        const kubeconfig = path.join(tempDir("ofg-preview-id-"), "kubeconfig");
        writeKubeconfig(kubeconfig, cp.server, path.join(cp.dir, "pki", "ca.crt"), { token: cp.kubectl(["create", "token", PREVIEW_IDENTITY, "-n", NS, "--duration=1h"]).trim() });
        asPreview = (args, input) => cp.kubectl(["--kubeconfig", kubeconfig, ...args], input);
        // The policy is enforced once the apiserver has loaded it: a canary write, removed if it got through.
        await until("the preview policy to be enforced", () => {
            try {
                asPreview(["create", "configmap", "canary", "-n", NS]);
                cp.kubectl(["delete", "configmap", "canary", "-n", NS]);
                return undefined;
            } catch (e) {
                return DENIED.test((e as Error).message) ? true : undefined;
            }
        }, 30_000);
    });
    after(async () => cp?.stop());

    const configMap = (name: string) => JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: "openfaas-fn" }, data: { k: "v" } });
    const deployment = JSON.stringify({
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "fn", namespace: "openfaas-fn" },
        spec: { selector: { matchLabels: { app: "fn" } }, template: { metadata: { labels: { app: "fn" } }, spec: { containers: [{ name: "fn", image: "ghcr.io/openfaas/alpine:3.20@sha256:" + "0".repeat(64) }] } } },
    });

    it("its apiserver is on loopback only", () => {
        assert.match(cp.server, /^https:\/\/127\.0\.0\.1:\d+$/);
        for (const p of cp.processes) for (const s of socketsOf(p.pid)) assert.ok(onLoopback(s), `${p.name}: ${s.local} -> ${s.remote}`);
    });

    it("reads and dry-runs the platform's kinds, a server-side apply of a new object included", () => {
        assert.match(asPreview(["get", "configmaps,deployments,namespaces,crd", "-A", "-o", "name"]), /customresourcedefinition/);
        assert.match(asPreview(["create", "--dry-run=server", "-f", "-"], configMap("dry")), /created \(server dry run\)/);
        assert.match(asPreview(["apply", "--server-side", "--dry-run=server", "-f", "-"], deployment), /serverside-applied \(server dry run\)/);
        assert.equal(cp.kubectl(["get", "configmaps,deployments", "-n", "openfaas-fn", "-o", "name"]).trim(), "", "nothing of a dry run is stored");
    });

    it("every write that is not a dry run is denied by its policy, whatever the kind", () => {
        assert.throws(() => asPreview(["create", "-f", "-"], configMap("real")), DENIED);
        assert.throws(() => asPreview(["apply", "--server-side", "-f", "-"], deployment), DENIED);
        cp.kubectl(["create", "-f", "-"], configMap("existing"));
        assert.throws(() => asPreview(["label", "configmap", "existing", "-n", "openfaas-fn", "pr=1"]), DENIED);
        assert.equal(cp.kubectl(["get", "configmap", "existing", "-n", "openfaas-fn", "-o", "jsonpath={.metadata.labels}"]).trim(), "");
    });

    it("cannot read a Secret, not even through a dry run's answer (which carries the data, shown with the admin)", () => {
        assert.throws(() => asPreview(["get", "secret", "basic-auth", "-n", "openfaas-fn"]), new RegExp(`forbidden: User "${previewUsername(NS)}" cannot get resource "secrets"`));
        assert.throws(() => asPreview(["patch", "secret", "basic-auth", "-n", "openfaas-fn", "--dry-run=server", "--type=merge", "-p", '{"metadata":{"labels":{"a":"b"}}}']), /cannot (get|patch) resource "secrets"/);
        // Why Secrets are not in its kinds at all: a dry-run patch answers with the whole object.
        const answered = cp.kubectl(["patch", "secret", "basic-auth", "-n", "openfaas-fn", "--dry-run=server", "--type=merge", "-p", '{"metadata":{"labels":{"a":"b"}}}', "-o", "jsonpath={.data.basic-auth-password}"]);
        assert.equal(Buffer.from(answered, "base64").toString(), "hunter2");
    });

    it("cannot mint a token, not even in a dry run (which returns one that works, shown with the admin)", () => {
        const request = JSON.stringify({ apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: {} });
        const tokenPath = `/api/v1/namespaces/${NS}/serviceaccounts/${PREVIEW_IDENTITY}/token?dryRun=All`;
        assert.throws(() => asPreview(["create", "--raw", tokenPath, "-f", "-"], request), /forbidden|Forbidden/);
        // Why serviceaccounts/token is never granted: a dry-run TokenRequest is answered with a real token.
        const token = JSON.parse(cp.kubectl(["create", "--raw", tokenPath, "-f", "-"], request)).status?.token as string;
        const dir = tempDir("ofg-preview-token-");
        writeKubeconfig(path.join(dir, "kubeconfig"), cp.server, path.join(cp.dir, "pki", "ca.crt"), { token });
        assert.equal(cp.kubectl(["--kubeconfig", path.join(dir, "kubeconfig"), "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"]), previewUsername(NS));
        fs.rmSync(dir, { recursive: true, force: true });
    });

    /** `kubectl auth can-i` as the preview identity: its answer (it exits 1 to say no). */
    const canI = (args: string[]): string => {
        try {
            return asPreview(["auth", "can-i", ...args]).trim();
        } catch (e) {
            const answer = /failed: (\S+)\s*$/.exec((e as Error).message)?.[1];
            if (answer === undefined) throw e;
            return answer;
        }
    };

    it("cannot exec into a pod, change its own policy, binding or role, or bind itself more", () => {
        assert.equal(canI(["patch", "deployments", "-n", "openfaas-fn"]), "yes", "the check can say yes (for a dry run)");
        for (const [verb, what] of [["create", "pods/exec"], ["create", "pods/portforward"], ["create", "serviceaccounts/token"], ["patch", "validatingadmissionpolicies"], ["patch", "validatingadmissionpolicybindings"], ["delete", "validatingadmissionpolicies"], ["escalate", "clusterroles"], ["bind", "clusterroles"], ["impersonate", "users"], ["delete", "configmaps"]]) {
            // `pods/exec` would read as the pod named exec: a subresource is its own flag.
            const [resource, subresource] = what!.split("/");
            assert.equal(canI([verb!, resource!, "-A", ...(subresource ? [`--subresource=${subresource}`] : [])]), "no", `${verb} ${what}`);
        }
        assert.throws(() => asPreview(["patch", "validatingadmissionpolicy", PREVIEW_IDENTITY, "--type=merge", "-p", '{"spec":{"failurePolicy":"Ignore"}}']), /forbidden/);
        // More rights for its own role: RBAC's escalation check refuses it before admission.
        assert.throws(() => asPreview(["patch", "clusterrole", PREVIEW_IDENTITY, "--type=json", "-p", '[{"op":"add","path":"/rules/-","value":{"apiGroups":["*"],"resources":["*"],"verbs":["*"]}}]']), /attempting to grant RBAC permissions not currently held/);
        // Any other real change of it: the policy.
        assert.throws(() => asPreview(["label", "clusterrole", PREVIEW_IDENTITY, "pr=1"]), DENIED);
    });

    it("its kinds cover the group of every CRD the charts install", () => {
        const groups = new Set(cp.kubectl(["get", "crd", "-o", "jsonpath={.items[*].spec.group}"]).trim().split(/\s+/));
        const granted = new Set(previewClusterRoleSpec().rules.flatMap((r) => r.apiGroups));
        const missing = [...groups].filter((g) => !granted.has(g));
        assert.deepEqual(missing, []);
        assert.ok(groups.size >= 10, `the charts' CRDs were installed (${groups.size} groups)`);
    });

    it("the agent's preflight (agent/preview-pods.ts) passes while the policy is in force, and stops previews when its binding is gone, leaving nothing behind", async () => {
        const previewer = new PodPreviewer(kubeApi(cp.kubeconfig), new PreviewExchange(), { namespace: NS, image: "x", agentUrl: "http://127.0.0.1:1", timeoutSeconds: 60 }, () => undefined);
        assert.equal(await previewer.preflight(), undefined);
        const binding = cp.kubectl(["get", "validatingadmissionpolicybinding", PREVIEW_IDENTITY, "-o", "json"]);
        cp.kubectl(["delete", "validatingadmissionpolicybinding", PREVIEW_IDENTITY]);
        try {
            const why = await until("the preflight to see the identity write", async () => (await previewer.preflight()) ?? undefined, 30_000);
            assert.match(why, /could write \(a ConfigMap was created and deleted again\): its ValidatingAdmissionPolicy openfaas-gitops-preview or its binding is missing or not in force/);
            assert.equal(cp.kubectl(["get", "configmaps", "-n", NS, "-l", "app.kubernetes.io/name=openfaas-gitops-preview", "-o", "name"]).trim(), "", "the canary is deleted");
        } finally {
            const restored = JSON.parse(binding) as { metadata: Record<string, unknown> };
            restored.metadata = { name: PREVIEW_IDENTITY };
            cp.kubectl(["create", "-f", "-"], JSON.stringify(restored));
        }
        await until("the policy to be in force again", async () => ((await previewer.preflight()) === undefined ? true : undefined), 30_000);
        // Without a right to act as the identity, it cannot check, and says so.
        const noRights = new PodPreviewer(kubeApi(cp.kubeconfig), new PreviewExchange(), { namespace: "no-such-namespace", image: "x", agentUrl: "http://127.0.0.1:1", timeoutSeconds: 60 }, () => undefined);
        assert.match((await noRights.preflight())!, /cannot check that the preview identity system:serviceaccount:no-such-namespace:openfaas-gitops-preview is denied writes/);
    });
});
