/** The shipped staging stack (agent, Flux) through its whole life on the real engine (test/support/engine-lifecycle.ts). */
import { AGENT, describeLifecycle } from "./support/engine-lifecycle";

describeLifecycle({ name: "staging", from: "staging", secrets: AGENT });
