import type { StackValidationPolicy } from "@pulumi/policy";
import { autoscalingProblems } from "../shared/autoscaling";
import { DEPLOYMENT, FUNCTION_CR, HPA, label } from "./resource";

/**
 * The range and metric rules are the program's own (shared/autoscaling.ts). The target check is not:
 * the program builds each function's HPA from the workload object it scales (components/function.ts),
 * so its own HPAs cannot miss; the check stays for the HPAs it does not build: a chart's (Contour's
 * renders an Envoy HPA when its values ask, as a `charts.contour.path` chart's defaults may), or any
 * in a stack the published pack is run on.
 */
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
            const metrics = Array.isArray(spec.metrics) ? spec.metrics.length : 0;
            // An unknown maxReplicas (not yet computed) checks the metrics alone.
            const maxReplicas = typeof spec.maxReplicas === "number" ? spec.maxReplicas : Infinity;
            for (const problem of autoscalingProblems({ minReplicas: spec.minReplicas, maxReplicas, metrics })) {
                report(`${who}: ${problem}; fix autoscaling in functions/stack.yml or the functions override`);
            }
            const ref = spec.scaleTargetRef ?? {};
            const target = `${hpa.props.metadata?.namespace}/${ref.name}`;
            if (ref.apiVersion !== "apps/v1" || ref.kind !== "Deployment" || !deployments.has(target)) {
                report(`${who}: scaleTargetRef ${ref.apiVersion}/${ref.kind} ${ref.name} is not a Deployment this stack declares; it would scale nothing`);
            }
        }
    },
};
