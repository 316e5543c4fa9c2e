/**
 * Whether a schedule is one the Kubernetes CronJob API accepts. The apiserver validates
 * `spec.schedule` with robfig/cron v3's standard parser (five fields, month and weekday names,
 * descriptors including `@every <duration>`) and refuses any `TZ`. The fields' ranges, lists and
 * steps are checked by cron-parser; the dialect around it is robfig's and is checked here, and
 * test/cron.test.ts proves the two agree with a real kube-apiserver on a table of expressions.
 */
import { CronExpressionParser } from "cron-parser";

/** robfig's descriptors (case-sensitive), besides `@every <duration>`. */
export const CRON_DESCRIPTORS = ["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"] as const;
/** Go's time.ParseDuration syntax, which `@every` takes: `90s`, `1h30m`, `1.5h`, `0`. */
const GO_DURATION = /^[-+]?(0|((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+)$/;

const FIELDS = [
    { name: "minute", names: [] },
    { name: "hour", names: [] },
    { name: "day-of-month", names: [] },
    { name: "month", names: ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"] },
    // robfig's weekdays run 0-6: unlike Vixie cron, 7 is not Sunday.
    { name: "day-of-week", names: ["sun", "mon", "tue", "wed", "thu", "fri", "sat"], max: 6 },
] as const;

/**
 * One field as robfig reads it, rewritten for cron-parser, or why robfig refuses it. robfig drops
 * empty list items, takes a `+` sign on numbers, and ignores whatever follows `*-`/`?-`; cron-parser
 * knows `L`, `W`, `#`, `H` and long names, which robfig does not. So each item is reduced to `*`, `?`,
 * numbers or three-letter names (month and weekday), ranges `a-b` and one step `/n`.
 */
function normalizeField(field: (typeof FIELDS)[number], value: string): { normal: string } | { problem: string } {
    const atom = new RegExp(`^(\\d+${field.names.length > 0 ? `|${field.names.join("|")}` : ""})$`, "i");
    const bad = (part: string) => ({ problem: `${field.name} field "${value}": "${part}" is not a number, ${field.names.length > 0 ? "name, " : ""}range, list, step or *` });
    const items: string[] = [];
    for (const item of value.split(",").filter((i) => i !== "")) {
        const [range, ...steps] = item.split("/");
        if (steps.length > 1 || (steps.length === 1 && !/^\+?\d+$/.test(steps[0]!))) return bad(item);
        const step = steps.length === 1 ? `/${steps[0]!.replace(/^\+/, "")}` : "";
        const ends = range!.split("-");
        if (ends[0] === "*" || ends[0] === "?") {
            items.push(`${ends[0]}${step}`);
            continue;
        }
        const unsigned = ends.map((e) => e.replace(/^\+(?=\d)/, ""));
        if (unsigned.length > 2 || !unsigned.every((e) => atom.test(e))) return bad(item);
        const max = "max" in field ? field.max : undefined;
        const over = unsigned.find((e) => max !== undefined && /^\d+$/.test(e) && Number(e) > max);
        if (over !== undefined) return { problem: `${field.name} value ${over} is outside 0-${max} (Kubernetes' cron has no 7 for Sunday; use 0 or SUN)` };
        items.push(`${unsigned.join("-")}${step}`);
    }
    // A field of only commas matches nothing, yet robfig accepts it; "*" lets the other fields be checked.
    return { normal: items.length > 0 ? items.join(",") : "*" };
}

/** Pure: undefined when `expr` is a `spec.schedule` the Kubernetes apiserver accepts, else what is wrong. */
export function cronProblem(expr: string): string | undefined {
    if (expr.trim() === "") return "empty; expected five fields (minute hour day-of-month month day-of-week) or a descriptor such as @hourly";
    if (expr.includes("TZ")) return "TZ and CRON_TZ are not allowed in a CronJob schedule (Kubernetes takes the time zone from spec.timeZone)";
    if (expr.startsWith("@")) {
        if ((CRON_DESCRIPTORS as readonly string[]).includes(expr)) return undefined;
        if (expr.startsWith("@every ")) {
            const duration = expr.slice("@every ".length);
            return GO_DURATION.test(duration) ? undefined : `"${duration}" is not a duration; @every takes one like 5m, 1h30m or 90s`;
        }
        return `unknown descriptor; expected one of ${CRON_DESCRIPTORS.join(", ")} or @every <duration>`;
    }
    const fields = expr.trim().split(/\s+/);
    if (fields.length !== 5) return `expected 5 fields (minute hour day-of-month month day-of-week) or a descriptor such as @hourly, got ${fields.length}`;
    const normal: string[] = [];
    for (let i = 0; i < 5; i++) {
        const r = normalizeField(FIELDS[i]!, fields[i]!);
        if ("problem" in r) return r.problem;
        normal.push(r.normal);
    }
    // robfig checks each field's range on its own and accepts a day that never comes (31 February);
    // cron-parser refuses that combination, so the month is checked apart from the day of month.
    const [minute, hour, dom, month, dow] = normal;
    for (const e of [`${minute} ${hour} ${dom} * ${dow}`, `0 0 1 ${month} *`]) {
        try {
            CronExpressionParser.parse(e);
        } catch (err) {
            return (err as Error).message;
        }
    }
    return undefined;
}
