/** Teardown for the tests' `after` hooks: every step runs, whatever an earlier one threw. */

/**
 * Runs each step in order, even after one fails (a failed stop of a node must not leave the control
 * plane, the git server and the rest running, which would also keep the test process alive), then
 * throws the first failure with the others named.
 */
export async function teardown(...steps: (() => unknown)[]): Promise<void> {
    const errors: Error[] = [];
    for (const step of steps) {
        try {
            await step();
        } catch (e) {
            errors.push(e instanceof Error ? e : new Error(String(e)));
        }
    }
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, errors.map((e) => e.message).join("\n"));
}
