/**
 * `npm run cluster`: a real control plane (etcd + kube-apiserver) on loopback with the charts' CRDs,
 * until Ctrl-C. `npm run demo`: the same, with the dev stack's objects applied, for looking around
 * without a cluster. Both stop etcd and the apiserver on exit.
 */
import { parseArgs } from "node:util";
import * as yaml from "js-yaml";
import { installCrds, startControlPlane } from "./controlplane";
import { stackFileConfig } from "./mock-engine";
import { renderStack } from "./render";

async function main(): Promise<void> {
    const { values } = parseArgs({ options: { demo: { type: "boolean", default: false }, stack: { type: "string", default: "dev" } } });
    console.log("starting etcd and kube-apiserver (the first run builds them from Go modules: about 10 minutes)...");
    const cp = await startControlPlane({ log: (l) => console.log(l) });
    let stopping = false;
    const stop = async (code: number) => {
        if (stopping) return;
        stopping = true;
        console.log("\nstopping the control plane...");
        await cp.stop();
        process.exit(code);
    };
    process.on("SIGINT", () => void stop(0));
    process.on("SIGTERM", () => void stop(0));
    try {
        const crds = installCrds(cp);
        console.log(`control plane ready at ${cp.server} with ${crds.length} CRDs`);
        if (values.demo) {
            const objects = await renderStack(stackFileConfig(values.stack!));
            cp.kubectl(["apply", "--server-side", "-f", "-"], objects.map((o) => yaml.dump(o)).join("---\n"));
            console.log(`applied the ${objects.length} objects of stack ${values.stack} (no kubelet here: pods are never scheduled)`);
        }
        console.log(`\nexport KUBECONFIG=${cp.kubeconfig}\n`);
        console.log("try:");
        console.log("  kubectl get namespaces --show-labels");
        console.log("  kubectl -n openfaas-fn get deployments,services,hpa -o wide");
        console.log("  kubectl -n openfaas get cronjobs,ingress,secrets");
        console.log("  kubectl get crd | grep -E 'openfaas|bitnami|cert-manager|contour'");
        console.log("\nCtrl-C stops it.");
    } catch (e) {
        console.error((e as Error).message);
        await stop(1);
    }
}

void main();
