/** Kubernetes naming rules (apimachinery validation), shared by every module that checks names. */

/** A DNS-1123 label: namespaces, function names, Service names. */
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** A DNS-1123 subdomain: most object names (Secrets, SealedSecrets), host names. */
export const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/;
/** A label or annotation key: optional DNS-subdomain prefix, then a name of at most 63 characters. */
export const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
/** A label value: empty, or at most 63 characters of alphanumerics, '-', '_' and '.'. */
export const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;
/** A key of a Secret's or ConfigMap's data. */
export const SECRET_KEY = /^[-._a-zA-Z0-9]{1,253}$/;
/** An environment variable name as Kubernetes accepts it in a container's env. */
export const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;
/** Longest CronJob name: the controller appends an 11-character suffix to name its Jobs (63 in all). */
export const MAX_CRONJOB_NAME = 52;
