import type { ResourceValidationPolicy } from "@pulumi/policy";
import { cronProblem } from "../shared/cron";
import { CRONJOB, label } from "./resource";

export const cronJobs: ResourceValidationPolicy = {
    name: "cronjobs",
    description: "CronJobs never overlap (concurrencyPolicy Forbid or Replace) and have a valid schedule.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        if (args.type !== CRONJOB) return;
        const spec = args.props.spec ?? {};
        const who = label(args.type, args.props, args.name);
        if (spec.concurrencyPolicy !== "Forbid" && spec.concurrencyPolicy !== "Replace") {
            report(`${who}: concurrencyPolicy ${spec.concurrencyPolicy ?? "Allow (default)"} lets runs pile up behind a slow function; use Forbid or Replace`);
        }
        const problem = typeof spec.schedule === "string" ? cronProblem(spec.schedule) : "no schedule";
        if (problem) report(`${who}: schedule ${JSON.stringify(spec.schedule)}: ${problem}`);
    },
};
