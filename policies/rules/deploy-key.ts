import type { ResourceValidationPolicy } from "@pulumi/policy";
import { DEPLOY_KEY } from "./resource";

export const deployKeyReadOnly: ResourceValidationPolicy = {
    name: "deploy-key-read-only",
    description: "The agent's GitHub deploy key is read-only unless image automation needs write access.",
    enforcementLevel: "advisory",
    configSchema: { properties: { imageAutomation: { type: "boolean", default: false } } },
    validateResource: (args, report) => {
        if (args.type !== DEPLOY_KEY || args.props.readOnly !== false) return;
        if (!args.getConfig<{ imageAutomation: boolean }>().imageAutomation) {
            report(`RepositoryDeployKey ${args.name}: write access although image automation is off; a leaked agent key could push to the repository. Make it read-only`);
        }
    },
};
