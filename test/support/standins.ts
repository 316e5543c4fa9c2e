/**
 * TEST HARNESS around the program, for what has no real counterpart on the live test cluster
 * (tools/controlplane.ts: real controllers and scheduler, KWOK's simulated nodes, where pods are
 * marked Running and Ready but no container runs). Registered by the tests around the program,
 * never by the program itself. Everything else the program declares reaches the apiserver
 * unchanged and is awaited by Pulumi exactly as on a user's cluster.
 * - Every await gets a deadline (`pulumi.com/timeoutSeconds`) far below the provider's 10 minutes:
 *   here everything is ready within seconds, and a stuck await must fail the test while CI still
 *   has time to say which resource and what it waited for.
 * The address a cloud gives a LoadBalancer Service, and the one Contour writes into an Ingress, come
 * from the cluster's own stand-in (tools/address-standin.ts); the cluster's apiserver calls no
 * admission webhook (their pods run no process), so webhook configurations are stored as declared.
 */
import * as pulumi from "@pulumi/pulumi";

/** Seconds any one resource may take to become ready under test (stack config `harness:awaitTimeoutSeconds` overrides it). */
export const AWAIT_TIMEOUT_SECONDS = 120;
export const AWAIT_TIMEOUT = "pulumi.com/timeoutSeconds";

type Metadata = { annotations?: Record<string, string> } & Record<string, unknown>;

/** Registers the harness transform for the program run that is executing now. */
export function registerStandins(): void {
    const timeout = new pulumi.Config("harness").getNumber("awaitTimeoutSeconds") ?? AWAIT_TIMEOUT_SECONDS;
    pulumi.runtime.registerResourceTransform(({ type, custom, props, opts }) => {
        if (!custom || !type.startsWith("kubernetes:")) return undefined;
        const metadata = pulumi.output(props.metadata as pulumi.Input<Metadata> | undefined).apply((m) => ({
            ...(m ?? {}),
            annotations: { ...(m?.annotations ?? {}), [AWAIT_TIMEOUT]: String(timeout) },
        }));
        return { props: { ...props, metadata }, opts };
    });
}
