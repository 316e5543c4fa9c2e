/** Waiting for a real process to reach a state, for the tests (the bound is a safety net, not an assertion of speed). */

/** Polls `fn` until it returns a value other than undefined (a throw counts as "not yet"); fails with `what` after `ms`. */
export async function until<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, ms = 180_000): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
        const v = await Promise.resolve().then(fn).catch(() => undefined);
        if (v !== undefined) return v;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 200));
    }
}

/** Resolves as `p` does; fails with `what` if it has not settled after `ms`. */
export async function within<T>(what: string, p: Promise<T>, ms: number): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms)));
    try {
        return await Promise.race([p, late]);
    } finally {
        clearTimeout(timer);
    }
}
