import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { Schedule, scheduleJobName } from "../model/function";
import { BASIC_AUTH_KEYS, BASIC_AUTH_SECRET } from "../model/platform";
import { envVar } from "./function";
import { gatewayUrl } from "./openfaas";

/** History limits of the 2018 guide's cron job. */
const HISTORY = { successfulJobsHistoryLimit: 1, failedJobsHistoryLimit: 3 } as const;

/**
 * @internal Pure: a `batch/v1` CronJob that invokes the function `functionName` through the gateway with the
 * basic-auth credentials. Everything variable reaches the shell as environment, never spliced into the
 * script. A function in its own namespace is invoked as `<function>.<namespace>`, the gateway's route to it.
 */
export function cronJobSpec(args: { functionName: string; functionNamespace?: string; schedule: Schedule; namespace: pulumi.Input<string>; gatewayUrl: string; image: string }) {
    const { functionName, schedule } = args;
    const route = args.functionNamespace ? `${functionName}.${args.functionNamespace}` : functionName;
    const fromSecret = (key: string) => ({ valueFrom: { secretKeyRef: { name: BASIC_AUTH_SECRET, key } } });
    return {
        apiVersion: "batch/v1" as const,
        kind: "CronJob" as const,
        metadata: { name: scheduleJobName(functionName, schedule.name), namespace: args.namespace, labels: { "openfaas-gitops/function": functionName } },
        spec: {
            schedule: schedule.cron,
            concurrencyPolicy: "Forbid",
            ...HISTORY,
            jobTemplate: {
                spec: {
                    backoffLimit: 2,
                    template: {
                        metadata: { labels: { "openfaas-gitops/function": functionName } },
                        spec: {
                            restartPolicy: "OnFailure",
                            securityContext: { runAsNonRoot: true, runAsUser: 100, seccompProfile: { type: "RuntimeDefault" } },
                            containers: [
                                {
                                    name: "invoke",
                                    image: args.image,
                                    command: ["/bin/sh", "-c"],
                                    args: ['printf %s "$PAYLOAD" | curl -fsS --retry 3 --retry-all-errors -u "$GATEWAY_USER:$GATEWAY_PASSWORD" --data-binary @- "$GATEWAY_URL/$ROUTE/$FUNCTION"'],
                                    env: [
                                        { name: "GATEWAY_URL", value: args.gatewayUrl },
                                        { name: "ROUTE", value: schedule.async ? "async-function" : "function" },
                                        { name: "FUNCTION", value: route },
                                        envVar("PAYLOAD", schedule.payload),
                                        { name: "GATEWAY_USER", ...fromSecret(BASIC_AUTH_KEYS.user) },
                                        { name: "GATEWAY_PASSWORD", ...fromSecret(BASIC_AUTH_KEYS.password) },
                                    ],
                                    resources: { requests: { cpu: "10m", memory: "16Mi" }, limits: { cpu: "100m", memory: "32Mi" } },
                                    securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
                                },
                            ],
                        },
                    },
                },
            },
        },
    };
}

/** Arguments for {@link FunctionSchedule}. */
export interface FunctionScheduleArgs {
    /** Name of the function to invoke. */
    readonly functionName: string;
    /** The function's own namespace. @default the gateway's default function namespace */
    readonly functionNamespace?: string;
    readonly schedule: Schedule;
    /** Namespace of the gateway and its `basic-auth` Secret, where the CronJob runs. */
    readonly namespace: pulumi.Input<string>;
    /**
     * Image that makes the call (functions/invoker.yml, where Flux's setters can update it): curl
     * rather than faas-cli, as one HTTP request needs no login state and today's faas-cli image has
     * ENTRYPOINT faas-cli, which the 2018 `./faas-cli` args no longer fit.
     */
    readonly image: string;
    /** In-cluster gateway URL. @default http://gateway.<namespace>:8080 */
    readonly gatewayUrl?: string;
}

/** A scheduled invocation of a function (the 2018 guide's cron job, on `batch/v1`). */
export class FunctionSchedule extends pulumi.ComponentResource {
    constructor(name: string, args: FunctionScheduleArgs, opts?: pulumi.ComponentResourceOptions) {
        super("openfaas-gitops:functions:Schedule", name, args, opts);
        const spec = pulumi.output(args.namespace).apply((ns) =>
            cronJobSpec({ functionName: args.functionName, functionNamespace: args.functionNamespace, schedule: args.schedule, namespace: ns, gatewayUrl: args.gatewayUrl ?? gatewayUrl({ namespace: ns }), image: args.image }),
        );
        new k8s.batch.v1.CronJob(`${name}-cronjob`, { metadata: spec.metadata, spec: spec.spec }, { parent: this });
        this.registerOutputs({});
    }
}
