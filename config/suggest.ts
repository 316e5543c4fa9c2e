/** Did-you-mean hints for misspelt keys. */

/** The known key nearest to a typo, if it is near enough to be a useful hint. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
    const distance = (a: string, b: string): number => {
        const row = Array.from({ length: b.length + 1 }, (_, i) => i);
        for (let i = 1; i <= a.length; i++) {
            let prev = row[0]!;
            row[0] = i;
            for (let j = 1; j <= b.length; j++) {
                const cur = row[j]!;
                row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1));
                prev = cur;
            }
        }
        return row[b.length]!;
    };
    let best: { c: string; d: number } | undefined;
    for (const c of candidates) {
        const d = distance(word, c);
        if (!best || d < best.d) best = { c, d };
    }
    return best && best.d <= Math.max(2, Math.floor(word.length / 4)) ? best.c : undefined;
}
