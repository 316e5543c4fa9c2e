/** What every workload's containers must carry: a function's requests and limits, pinned images. */
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { imageProblem } from "../shared/image";
import { containers, DEPLOYMENT, FUNCTION_CR, label } from "./resource";

export const functionResources: ResourceValidationPolicy = {
    name: "function-resources",
    description: "Every function container sets CPU and memory requests and limits.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        const want = ["requests.cpu", "requests.memory", "limits.cpu", "limits.memory"];
        if (args.type === DEPLOYMENT && args.props.metadata?.labels?.faas_function) {
            for (const c of containers(args.type, args.props)) {
                const missing = want.filter((w) => !c.resources?.[w.split(".")[0]!]?.[w.split(".")[1]!]);
                if (missing.length > 0) report(`${label(args.type, args.props, args.name)}: function container ${c.name} has no ${missing.join(", ")}; set requests and limits for the function in functions/stack.yml`);
            }
        } else if (args.type === FUNCTION_CR) {
            const missing = want.filter((w) => !args.props.spec?.[w.split(".")[0]!]?.[w.split(".")[1]!]);
            if (missing.length > 0) report(`${label(args.type, args.props, args.name)}: no ${missing.join(", ")}; set requests and limits for the function in functions/stack.yml`);
        }
    },
};

export const pinnedImages: ResourceValidationPolicy = {
    name: "pinned-images",
    description: "Images are pinned to a tag other than latest, or to a digest.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        const images: [string, string][] =
            args.type === FUNCTION_CR
                ? [["function", args.props.spec?.image]]
                : containers(args.type, args.props).map((c) => [`container ${c.name}`, c.image]);
        for (const [where, image] of images) {
            if (typeof image !== "string") continue;
            const problem = imageProblem(image);
            if (problem) report(`${label(args.type, args.props, args.name)}: ${where} image ${image} ${problem}; pin a version tag or a digest (@sha256:...)`);
        }
    },
};
