import type { FluxArgs } from "./flux";

/**
 * @internal Pure: chart values: source and notification controllers always, image automation for tag commits,
 * the rest on request; the chart's own network policies follow the stack's `networkPolicies`.
 */
export function fluxValues(args: Pick<FluxArgs, "kustomizeController" | "helmController" | "networkPolicies">): Record<string, unknown> {
    return {
        policies: { create: args.networkPolicies === true },
        sourceController: { create: true },
        notificationController: { create: true },
        imageReflectionController: { create: true },
        imageAutomationController: { create: true },
        kustomizeController: { create: args.kustomizeController ?? false },
        helmController: { create: args.helmController ?? false },
    };
}
