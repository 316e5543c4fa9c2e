/** The shipped prod stack (agent with webhook, Flux with image automation) through its whole life on the real engine, its first preview under the policy pack (test/support/engine-lifecycle.ts). */
import { AGENT, describeLifecycle } from "./support/engine-lifecycle";

describeLifecycle({ name: "prod", from: "prod", secrets: [...AGENT, "agentWebhookSecret"], policy: true });
