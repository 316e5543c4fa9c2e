/** Kubernetes resource quantities (apimachinery resource.Quantity), as function limits and HPA targets use them. */

/** A quantity: decimal number with an optional binary/decimal suffix or exponent. */
const QUANTITY = /^(\d+(\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][-+]?\d+)?$/;
const SUFFIX: Record<string, number> = {
    "": 1, n: 1e-9, u: 1e-6, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
    Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

/** Pure: a quantity's value, or undefined when it is not a Kubernetes quantity. */
export function parseQuantity(q: string): number | undefined {
    const m = QUANTITY.exec(q);
    if (!m) return undefined;
    const suffix = m[3] ?? "";
    if (/^[eE]/.test(suffix)) return Number(m[1] + suffix);
    return Number(m[1]) * SUFFIX[suffix]!;
}
