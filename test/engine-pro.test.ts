/** A Pro-mode stack: prod with an OpenFaaS Pro licence (Function custom resources) through its whole life on the real engine (test/support/engine-lifecycle.ts). */
import { AGENT, describeLifecycle } from "./support/engine-lifecycle";

describeLifecycle({ name: "pro", from: "prod", secrets: [...AGENT, "agentWebhookSecret"], pro: true });
