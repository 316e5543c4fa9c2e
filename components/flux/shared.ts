/**
 * What every Flux object the {@link Flux} component declares shares: the API versions of the
 * Flux v2.8 CRDs, the name of the GitRepository the other objects point at, and the labels.
 */
import { AGENT_DEFAULTS } from "../../agent/contract";

/** @internal API versions of the Flux v2.8 CRDs (../shared/upstream/crds/flux.yaml) this component declares. */
export const FLUX_API = {
    source: "source.toolkit.fluxcd.io/v1",
    notification: "notification.toolkit.fluxcd.io/v1",
    notificationProvider: "notification.toolkit.fluxcd.io/v1beta3",
    image: "image.toolkit.fluxcd.io/v1",
} as const;

/** @internal Name of the GitRepository (and of its credentials Secret): the agent's Flux source mode reads it. */
export const FLUX_SOURCE_NAME = AGENT_DEFAULTS.fluxSource;

/** @internal Labels of every object the component declares. */
export const FLUX_LABELS = { "app.kubernetes.io/part-of": "openfaas-gitops", "app.kubernetes.io/component": "flux" };
