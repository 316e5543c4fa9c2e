/**
 * The Engine on the Pulumi Automation API, run in the checked-out revision. Thin on purpose: the
 * decisions are in reconciler.ts, tested without the CLI.
 */
import * as path from "node:path";
import { EngineEvent, LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { Engine, RunContext, RunResult } from "./engine";

export interface PulumiEngineSettings {
    readonly stack: string;
    /** Directory of the Pulumi project inside the checkout. */
    readonly projectPath: string;
    readonly backendUrl?: string;
    readonly secretsProvider?: string;
    /** Credentials for the backend and secrets provider (PULUMI_CONFIG_PASSPHRASE, AWS_*, ...). */
    readonly env?: Readonly<Record<string, string>>;
}

export class PulumiEngine implements Engine {
    constructor(private readonly s: PulumiEngineSettings) {}

    private async open(ctx: RunContext): Promise<{ stack: Stack; configFile: string }> {
        const workDir = path.join(ctx.dir, this.s.projectPath);
        const envVars: Record<string, string> = { ...this.s.env };
        if (this.s.backendUrl) envVars.PULUMI_BACKEND_URL = this.s.backendUrl;
        const stack = await LocalWorkspace.createOrSelectStack({ stackName: this.s.stack, workDir }, { envVars, secretsProvider: this.s.secretsProvider });
        // The Automation API ignores Pulumi.yaml's stackConfigDir (pulumi/pulumi#10305): name the file.
        const configFile = path.join(workDir, "stacks", `Pulumi.${this.s.stack}.yaml`);
        await this.recover(stack, ctx);
        return { stack, configFile };
    }

    /** Clears what a crashed update left behind: pending operations in the state. */
    private async recover(stack: Stack, ctx: RunContext): Promise<void> {
        const state = await stack.exportStack();
        const deployment = state.deployment as { pending_operations?: unknown[] } | undefined;
        if (deployment?.pending_operations && deployment.pending_operations.length > 0) {
            ctx.log(`recovering: clearing ${deployment.pending_operations.length} pending operation(s) left by an interrupted update; a refresh will reconcile them`);
            deployment.pending_operations = [];
            await stack.importStack(state);
        }
    }

    private withLockRecovery<T>(stack: Stack, ctx: RunContext, op: () => Promise<T>): Promise<T> {
        return op().catch(async (e: Error) => {
            // Leader election guarantees no other agent runs: a lock now is a crashed run's.
            if (!/currently locked|ConcurrentUpdateError/i.test(e.message)) throw e;
            ctx.log("recovering: the stack is locked by an interrupted update; cancelling it and retrying once");
            await stack.cancel();
            return op();
        });
    }

    private collector(ctx: RunContext) {
        const changed: string[] = [];
        const onEvent = (ev: EngineEvent) => {
            const m = ev.resourcePreEvent?.metadata;
            if (m && m.op !== "same" && m.op !== "read") changed.push(`${m.urn.split("::").slice(-2).join("::")} (${m.op})`);
            if (ev.diagnosticEvent?.severity === "error") ctx.log(ev.diagnosticEvent.message.trim());
        };
        return { changed, onEvent, onOutput: (line: string) => ctx.log(line.trimEnd()) };
    }

    async preview(ctx: RunContext): Promise<RunResult> {
        const { stack, configFile } = await this.open(ctx);
        const c = this.collector(ctx);
        const r = await this.withLockRecovery(stack, ctx, () => stack.preview({ configFile, signal: ctx.signal, onEvent: c.onEvent, onOutput: c.onOutput }));
        return { changes: r.changeSummary as Record<string, number>, changed: c.changed };
    }

    async up(ctx: RunContext): Promise<RunResult> {
        const { stack, configFile } = await this.open(ctx);
        const c = this.collector(ctx);
        const r = await this.withLockRecovery(stack, ctx, () => stack.up({ configFile, signal: ctx.signal, onEvent: c.onEvent, onOutput: c.onOutput }));
        return { changes: (r.summary.resourceChanges ?? {}) as Record<string, number>, changed: c.changed };
    }

    async detectDrift(ctx: RunContext): Promise<RunResult> {
        const { stack, configFile } = await this.open(ctx);
        const c = this.collector(ctx);
        const r = await this.withLockRecovery(stack, ctx, () => stack.previewRefresh({ configFile, signal: ctx.signal, onEvent: c.onEvent, onOutput: c.onOutput }));
        return { changes: r.changeSummary as Record<string, number>, changed: c.changed };
    }
}
