/** The error a bad stack configuration throws: every problem at once, in the one problem shape. */
import * as pulumi from "@pulumi/pulumi";
import { capProblem, formatProblem, Problem } from "../model/problem";

/**
 * Thrown before any resource is declared; lists every problem at once. A `RunError`, so the engine
 * prints the message alone, without a stack trace. The stack is `stackName`: a field named `stack`
 * would shadow `Error.stack`, and the engine would print that field instead of the message.
 */
export class ConfigError extends pulumi.RunError {
    /** Every problem, capped ({@link capProblem}): whoever keeps or shows them (the agent's status) gets bounded text. */
    public readonly problems: readonly Problem[];

    constructor(public readonly stackName: string, problems: readonly Problem[]) {
        super(
            `Stack "${stackName}" has ${problems.length} configuration problem${problems.length === 1 ? "" : "s"}; nothing was created:\n` +
                problems.map((p) => `  - ${formatProblem(p)}`).join("\n"),
        );
        this.name = "ConfigError";
        this.problems = problems.map(capProblem);
    }
}
