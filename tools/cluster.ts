/**
 * `npm run cluster`: the local cluster (tools/controlplane.ts) with the charts' CRDs, until Ctrl-C,
 * for applying things by hand. `npm run demo` (tools/demo-cli.ts) runs the whole GitOps loop on it.
 */
import { parseArgs } from "node:util";
import { installCrds, startControlPlane } from "./controlplane";

async function main(): Promise<void> {
    try {
        parseArgs({ args: process.argv.slice(2), options: {}, strict: true, allowPositionals: false });
    } catch (e) {
        console.error(`${(e as Error).message}\nusage: npm run cluster (no options; npm run demo runs the GitOps loop on this cluster)`);
        process.exit(2);
    }
    console.log("starting etcd, kube-apiserver, kube-controller-manager, kube-scheduler and KWOK (the first run builds them from Go modules: 10 to 15 minutes on 2 cores)...");
    const cp = await startControlPlane({ log: (l) => console.log(l) });
    let stopping = false;
    const stop = async (code: number) => {
        if (stopping) return;
        stopping = true;
        console.log("\nstopping the cluster...");
        await cp.stop();
        process.exit(code);
    };
    process.on("SIGINT", () => void stop(0));
    process.on("SIGTERM", () => void stop(0));
    try {
        const crds = installCrds(cp);
        console.log(`cluster ready at ${cp.server} with ${crds.length} CRDs and the simulated node${cp.nodes.length === 1 ? "" : "s"} ${cp.nodes.join(", ")}`);
        console.log("(KWOK marks pods on simulated nodes Running and Ready; no container runs)");
        console.log(`\nexport KUBECONFIG=${cp.kubeconfig}\n`);
        console.log("try:");
        console.log("  kubectl get nodes");
        console.log("  kubectl create deployment hello --image=nginx --replicas=3 && kubectl get pods -o wide");
        console.log("  kubectl get crd | grep -E 'openfaas|bitnami|cert-manager|contour|fluxcd'");
        console.log("\nCtrl-C stops it.");
    } catch (e) {
        console.error((e as Error).message);
        await stop(1);
    }
}

void main();
