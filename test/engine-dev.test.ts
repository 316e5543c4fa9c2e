/**
 * The shipped dev stack through its whole life on the real engine (test/support/engine-lifecycle.ts),
 * run as a plain `pulumi up` from a workstation is (the bootstrap a new user does first); the other
 * stacks run with the settings the agent gives the engine on every sync.
 */
import { BASE, describeLifecycle } from "./support/engine-lifecycle";

describeLifecycle({ name: "dev", from: "dev", secrets: BASE, workstation: true });
