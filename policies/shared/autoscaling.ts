/**
 * The autoscaler's own rules: one home, used by the program's config checks (a function's
 * `autoscaling`, in the functions file or a stack's override: config/stack-yml/fields.ts) and by the
 * policy pack's `hpa` rule on every HorizontalPodAutoscaler of a stack.
 */

/** What the rules read of an autoscaler: its replica range and how many metrics it scales on. */
export interface AutoscalerShape {
    /** @default 1 (the HPA API's default) */
    readonly minReplicas?: number;
    readonly maxReplicas: number;
    /** How many metrics it scales on. */
    readonly metrics: number;
}

/** Pure: why an autoscaler with this range and these metrics would not scale as meant; [] when it would. */
export function autoscalingProblems(a: AutoscalerShape): string[] {
    const problems: string[] = [];
    const min = a.minReplicas ?? 1;
    if (min > a.maxReplicas) problems.push(`minReplicas ${min} is greater than maxReplicas ${a.maxReplicas}`);
    if (a.metrics === 0) problems.push("needs at least one metric (cpuUtilization or memoryAverage), or it never scales");
    return problems;
}
