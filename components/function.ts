import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { Autoscaling, FunctionDef, fixedReplicas, SCALE } from "../model/function";

/** Label faas-netes (CE) lists and routes functions by. */
const FUNCTION_LABEL = "faas_function";
/** Port every OpenFaaS watchdog listens on. */
const FUNCTION_PORT = 8080;
/** Where faas-netes mounts function secrets. */
const SECRETS_MOUNT_PATH = "/var/openfaas/secrets";
/**
 * @internal Probe timings faas-netes puts on function pods, as chart 15.0.6 configures it (`functions.*Probe`
 * in its values.yaml; a test keeps them equal).
 */
export const FUNCTION_PROBE = { initialDelaySeconds: 0, timeoutSeconds: 1, periodSeconds: 2, successThreshold: 1, failureThreshold: 3 } as const;

/** @internal Pure: a container env var; an empty value is sent as none, because the server drops `value: ""` and that would read as drift. */
export function envVar(name: string, value: string): { name: string; value?: string } {
    return value === "" ? { name } : { name, value };
}

/** Pure: annotations as faas-netes sets them: the user's, plus `prometheus.io.scrape: "false"` unless given. */
function functionAnnotations(fn: FunctionDef): Record<string, string> {
    return { "prometheus.io.scrape": "false", ...fn.annotations };
}

function resourceList(r: FunctionDef["limits"]): Record<string, string> | undefined {
    const out: Record<string, string> = {};
    if (r.cpu) out.cpu = r.cpu;
    if (r.memory) out.memory = r.memory;
    return Object.keys(out).length > 0 ? out : undefined;
}

function nodeSelector(fn: FunctionDef): Record<string, string> | undefined {
    if (fn.constraints.length === 0) return undefined;
    return Object.fromEntries(fn.constraints.map((c) => c.split("=").map((s) => s.trim()) as [string, string]));
}

/**
 * @internal Pure: the Deployment faas-netes itself would create for this function (CE), so the CE gateway
 * lists, scales and invokes it. `replicas` is left out when an HPA owns the count.
 */
export function functionDeploymentSpec(fn: FunctionDef, namespace: pulumi.Input<string>) {
    const annotations = functionAnnotations(fn);
    // Zero values are omitted: the server drops them, and a field it drops would read as drift.
    const timings = Object.fromEntries(Object.entries(FUNCTION_PROBE).filter(([, v]) => v !== 0));
    const probe = { httpGet: { path: "/_/health", port: FUNCTION_PORT }, ...timings };
    const env = Object.keys(fn.environment)
        .sort()
        .map((name) => envVar(name, fn.environment[name]!));
    const volumes: k8s.types.input.core.v1.Volume[] = [];
    const mounts: k8s.types.input.core.v1.VolumeMount[] = [];
    if (fn.readOnlyRootFilesystem) {
        volumes.push({ name: "temp", emptyDir: {} });
        mounts.push({ name: "temp", mountPath: "/tmp", readOnly: false });
    }
    if (fn.secrets.length > 0) {
        const name = `${fn.name}-projected-secrets`;
        volumes.push({ name, projected: { sources: fn.secrets.map((s) => ({ secret: { name: s } })) } });
        mounts.push({ name, mountPath: SECRETS_MOUNT_PATH, readOnly: true });
    }
    const limits = resourceList(fn.limits);
    const requests = resourceList(fn.requests);
    return {
        apiVersion: "apps/v1" as const,
        kind: "Deployment" as const,
        metadata: { name: fn.name, namespace, labels: { [FUNCTION_LABEL]: fn.name }, annotations },
        spec: {
            ...(fn.autoscaling ? {} : { replicas: fixedReplicas(fn) }),
            selector: { matchLabels: { [FUNCTION_LABEL]: fn.name } },
            strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
            revisionHistoryLimit: 10,
            template: {
                metadata: { name: fn.name, labels: { [FUNCTION_LABEL]: fn.name, ...fn.labels }, annotations },
                spec: {
                    ...(nodeSelector(fn) ? { nodeSelector: nodeSelector(fn) } : {}),
                    containers: [
                        {
                            name: fn.name,
                            image: fn.image,
                            ports: [{ name: "http", containerPort: FUNCTION_PORT, protocol: "TCP" }],
                            ...(env.length > 0 ? { env } : {}),
                            resources: { ...(limits ? { limits } : {}), ...(requests ? { requests } : {}) },
                            imagePullPolicy: "Always",
                            livenessProbe: probe,
                            readinessProbe: probe,
                            securityContext: { readOnlyRootFilesystem: fn.readOnlyRootFilesystem, allowPrivilegeEscalation: false },
                            ...(mounts.length > 0 ? { volumeMounts: mounts } : {}),
                        },
                    ],
                    ...(volumes.length > 0 ? { volumes } : {}),
                    restartPolicy: "Always",
                    dnsPolicy: "ClusterFirst",
                    enableServiceLinks: false,
                },
            },
        },
    };
}

/** @internal Pure: the ClusterIP Service faas-netes creates next to the Deployment. */
export function functionServiceSpec(fn: FunctionDef, namespace: pulumi.Input<string>) {
    return {
        apiVersion: "v1" as const,
        kind: "Service" as const,
        metadata: { name: fn.name, namespace, annotations: functionAnnotations(fn) },
        spec: {
            type: "ClusterIP" as const,
            selector: { [FUNCTION_LABEL]: fn.name },
            ports: [{ name: "http", protocol: "TCP", port: FUNCTION_PORT, targetPort: FUNCTION_PORT }],
        },
    };
}

/**
 * @internal Pure: the `openfaas.com/v1` Function the Pro operator turns into a Deployment and Service: the
 * fields `faas-cli generate` writes, in the function's own namespace when it has one.
 */
export function functionCrSpec(fn: FunctionDef, namespace: pulumi.Input<string>) {
    // Pro's autoscaler reads the scale labels as written; only a per-stack fixed count pins floor and ceiling.
    const labels = { ...fn.labels };
    if (fn.replicas !== undefined && !fn.autoscaling) {
        labels[SCALE.min] = String(fn.replicas);
        labels[SCALE.max] = String(fn.replicas);
    }
    const limits = resourceList(fn.limits);
    const requests = resourceList(fn.requests);
    return {
        apiVersion: "openfaas.com/v1" as const,
        kind: "Function" as const,
        metadata: { name: fn.name, namespace },
        spec: {
            name: fn.name,
            image: fn.image,
            ...(Object.keys(fn.environment).length > 0 ? { environment: { ...fn.environment } } : {}),
            ...(Object.keys(labels).length > 0 ? { labels } : {}),
            ...(Object.keys(fn.annotations).length > 0 ? { annotations: { ...fn.annotations } } : {}),
            ...(limits ? { limits } : {}),
            ...(requests ? { requests } : {}),
            ...(fn.secrets.length > 0 ? { secrets: [...fn.secrets] } : {}),
            readOnlyRootFilesystem: fn.readOnlyRootFilesystem,
            ...(fn.constraints.length > 0 ? { constraints: [...fn.constraints] } : {}),
        },
    };
}

/**
 * @internal What an HPA scales: a workload object as its builder returns it, so the HPA names the object
 * it was given rather than a name that could miss (cdk8s-plus's `target: IScalable`).
 */
export interface ScaleTarget {
    readonly apiVersion: "apps/v1";
    readonly kind: "Deployment";
    readonly metadata: { readonly name: string; readonly namespace: pulumi.Input<string> };
}

/** @internal Pure: the Deployment the Pro operator makes of a Function (its name, in its namespace): what the Function's HPA scales. */
export function operatorDeployment(fn: ReturnType<typeof functionCrSpec>): ScaleTarget {
    return { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: fn.metadata.name, namespace: fn.metadata.namespace } };
}

/** @internal Pure: an `autoscaling/v2` HPA on `target`, beside it and named after it. */
export function functionHpaSpec(target: ScaleTarget, a: Autoscaling) {
    const metrics: k8s.types.input.autoscaling.v2.MetricSpec[] = [];
    if (a.cpuUtilization !== undefined) {
        metrics.push({ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: a.cpuUtilization } } });
    }
    if (a.memoryAverage !== undefined) {
        metrics.push({ type: "Resource", resource: { name: "memory", target: { type: "AverageValue", averageValue: a.memoryAverage } } });
    }
    return {
        apiVersion: "autoscaling/v2" as const,
        kind: "HorizontalPodAutoscaler" as const,
        metadata: { name: target.metadata.name, namespace: target.metadata.namespace },
        spec: {
            scaleTargetRef: { apiVersion: target.apiVersion, kind: target.kind, name: target.metadata.name },
            minReplicas: a.minReplicas,
            maxReplicas: a.maxReplicas,
            metrics,
        },
    };
}

/** Arguments for {@link OpenFaaSFunction}. */
export interface OpenFaaSFunctionArgs {
    /** The validated function definition. */
    readonly definition: FunctionDef;
    /** Namespace this function runs in (its own, or the platform's function namespace). */
    readonly namespace: pulumi.Input<string>;
    /** Pro: declare a Function CR for the operator; CE: declare the Deployment and Service directly. @default false */
    readonly pro?: boolean;
}

/** One OpenFaaS function: its workload (CE Deployment + Service, or Pro Function) and optional HPA. */
export class OpenFaaSFunction extends pulumi.ComponentResource {
    constructor(name: string, args: OpenFaaSFunctionArgs, opts?: pulumi.ComponentResourceOptions) {
        super("openfaas-gitops:functions:Function", name, args, opts);
        const { definition: fn, namespace } = args;
        const workload: pulumi.Resource[] = [];
        let scaled: ScaleTarget;
        if (args.pro) {
            const cr = functionCrSpec(fn, namespace);
            workload.push(new k8s.apiextensions.CustomResource(`${name}-function`, cr, { parent: this }));
            scaled = operatorDeployment(cr);
        } else {
            const deployment = functionDeploymentSpec(fn, namespace);
            workload.push(new k8s.apps.v1.Deployment(`${name}-deployment`, deployment, { parent: this }));
            workload.push(new k8s.core.v1.Service(`${name}-service`, functionServiceSpec(fn, namespace), { parent: this }));
            scaled = deployment;
        }
        if (fn.autoscaling) {
            new k8s.autoscaling.v2.HorizontalPodAutoscaler(`${name}-hpa`, functionHpaSpec(scaled, fn.autoscaling), { parent: this, dependsOn: workload });
        }
        this.registerOutputs({});
    }
}
