/** The shipped dev stack through its whole life on the real engine (test/support/engine-lifecycle.ts). */
import { BASE, describeLifecycle } from "./support/engine-lifecycle";

describeLifecycle({ name: "dev", from: "dev", secrets: BASE });
