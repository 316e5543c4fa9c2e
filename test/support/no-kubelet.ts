/**
 * TEST HARNESS for a control plane with no kubelet, scheduler or controllers: the test machines run
 * a real kube-apiserver and etcd but no container runtime, so no Pod ever runs and no controller
 * ever acts.
 * Registered by the tests around the program, never by the program itself:
 * - nothing ever becomes ready, so the provider must not await readiness (`skipAwait`);
 * - nothing garbage-collects, so deletes must not wait for dependents (`background` propagation);
 * - an admission webhook would make the apiserver call a Service by a name that resolves off this
 *   machine, so webhook configurations are declared with no webhooks.
 * Everything else the program declares reaches the apiserver unchanged.
 */
import * as pulumi from "@pulumi/pulumi";

export const HARNESS_ANNOTATIONS: Readonly<Record<string, string>> = {
    "pulumi.com/skipAwait": "true",
    "pulumi.com/deletionPropagationPolicy": "background",
};

const WEBHOOK_CONFIGURATION = /^kubernetes:admissionregistration\.k8s\.io\/v1:(Validating|Mutating)WebhookConfiguration$/;

type Metadata = { annotations?: Record<string, string> } & Record<string, unknown>;

/** Registers the harness transform for the program run that is executing now. */
export function registerNoKubeletTransforms(): void {
    pulumi.runtime.registerResourceTransform(({ type, custom, props, opts }) => {
        if (!custom || !type.startsWith("kubernetes:")) return undefined;
        const metadata = pulumi.output(props.metadata as pulumi.Input<Metadata> | undefined).apply((m) => ({
            ...(m ?? {}),
            annotations: { ...(m?.annotations ?? {}), ...HARNESS_ANNOTATIONS },
        }));
        return { props: { ...props, metadata, ...(WEBHOOK_CONFIGURATION.test(type) ? { webhooks: [] } : {}) }, opts };
    });
}
