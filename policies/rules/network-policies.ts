import type { StackValidationPolicy } from "@pulumi/policy";
import { NETPOL } from "./resource";

export const networkPolicies: StackValidationPolicy = {
    name: "network-policies",
    description: "Where required (prod), NetworkPolicies isolate openfaas and openfaas-fn.",
    enforcementLevel: "mandatory",
    configSchema: { properties: { required: { type: "boolean", default: false } } },
    validateStack: (args, report) => {
        if (!args.getConfig<{ required: boolean }>().required) return;
        for (const ns of ["openfaas", "openfaas-fn"]) {
            if (!args.resources.some((r) => r.type === NETPOL && r.props.metadata?.namespace === ns)) {
                report(`namespace ${ns} has no NetworkPolicy, so any pod in the cluster can reach it; set networkPolicies: true for this stack`);
            }
        }
    },
};
