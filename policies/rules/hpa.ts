import type { StackValidationPolicy } from "@pulumi/policy";
import { DEPLOYMENT, FUNCTION_CR, HPA, label } from "./resource";

export const hpaSanity: StackValidationPolicy = {
    name: "hpa",
    description: "HPAs have minReplicas <= maxReplicas, at least one metric, and target a Deployment the stack declares.",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
        const deployments = new Set(
            args.resources
                .filter((r) => r.type === DEPLOYMENT || r.type === FUNCTION_CR)
                .map((r) => `${r.props.metadata?.namespace}/${r.props.metadata?.name}`),
        );
        for (const hpa of args.resources.filter((r) => r.type === HPA)) {
            const spec = hpa.props.spec ?? {};
            const who = label(hpa.type, hpa.props, hpa.name);
            const min = spec.minReplicas ?? 1;
            if (typeof spec.maxReplicas === "number" && min > spec.maxReplicas) report(`${who}: minReplicas ${min} is greater than maxReplicas ${spec.maxReplicas}; fix autoscaling in functions/stack.yml or the functions override`);
            if (!Array.isArray(spec.metrics) || spec.metrics.length === 0) report(`${who}: no metrics, so it never scales; give cpuUtilization or memoryAverage`);
            const ref = spec.scaleTargetRef ?? {};
            const target = `${hpa.props.metadata?.namespace}/${ref.name}`;
            if (ref.apiVersion !== "apps/v1" || ref.kind !== "Deployment" || !deployments.has(target)) {
                report(`${who}: scaleTargetRef ${ref.apiVersion}/${ref.kind} ${ref.name} is not a Deployment this stack declares; it would scale nothing`);
            }
        }
    },
};
