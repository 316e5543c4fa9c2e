/**
 * The test files that run a real node (test/real-node.test.ts, test/agent-pod.test.ts) compare the
 * host before and after theirs, so they run one after the other even when the runner starts them side
 * by side: each holds this machine lock from its first hook to its last.
 */
import { machineLock } from "../../tools/machine-lock";

export function holdRealNodeTests(log?: (line: string) => void): Promise<() => void> {
    return machineLock("openfaas-gitops-real-node-tests", "the real-node tests", log);
}
