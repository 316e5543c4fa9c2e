/**
 * How the rules read a resource: the type tokens they match, the name a message gives a resource,
 * and the containers of a workload.
 */

export type Props = Record<string, any>;

export const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
export const FUNCTION_CR = "kubernetes:openfaas.com/v1:Function";
export const CRONJOB = "kubernetes:batch/v1:CronJob";
export const INGRESS = "kubernetes:networking.k8s.io/v1:Ingress";
export const ISSUER = "kubernetes:cert-manager.io/v1:ClusterIssuer";
export const HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler";
export const NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy";
export const SECRET = "kubernetes:core/v1:Secret";
export const SEALED = "kubernetes:bitnami.com/v1alpha1:SealedSecret";
export const CHART = "kubernetes:helm.sh/v4:Chart";
export const DEPLOY_KEY = "github:index/repositoryDeployKey:RepositoryDeployKey";

/** A resource as a message names it: `<Kind> <namespace>/<name>`. */
export function label(type: string, props: Props, name: string): string {
    const m = props.metadata ?? {};
    const kind = type.split(":").pop();
    return `${kind} ${m.namespace ? `${m.namespace}/` : ""}${m.name ?? name}`;
}

/** Containers of a workload: Deployment pod template or CronJob job template. */
export function containers(type: string, props: Props): Props[] {
    if (type === DEPLOYMENT) return props.spec?.template?.spec?.containers ?? [];
    if (type === CRONJOB) return props.spec?.jobTemplate?.spec?.template?.spec?.containers ?? [];
    return [];
}
