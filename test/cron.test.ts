/**
 * The schedule check (policies/shared/cron.ts, used by the stack.yml reader and the policy pack) against the REAL
 * kube-apiserver: for every expression of the table, a CronJob with that schedule is sent with
 * server-side dry-run, and the program and the apiserver must both accept it or both refuse it.
 */
import { strict as assert } from "node:assert";
import { after, before, describe, it } from "node:test";
import * as yaml from "js-yaml";
import { cronProblem } from "../policies/shared/cron";
import { ControlPlane, controlPlaneAvailable, ensureBinaries, startControlPlane } from "../tools/controlplane";

/** [schedule, accepted by Kubernetes (robfig/cron v3 standard parser, no TZ)] */
const TABLE: readonly (readonly [string, boolean])[] = [
    // accepted (including robfig's lexical quirks: empty list items, a + sign, anything after *-)
    ["*/1 * * * *", true],
    ["* * * * *", true],
    ["0 9-17 * * 1-5", true],
    ["15,45 */2 1 1,6 0", true],
    ["0 9 * * MON-FRI", true],
    ["0 9 * * mon-fri", true],
    ["0 0 1 JAN *", true],
    ["0 0 1 jan,Feb,MAR *", true],
    ["0 0 * JAN-MAR/2 *", true],
    ["0 0 * * SUN-SAT", true],
    ["0 0 * * MON-5", true],
    ["5/15 * * * *", true],
    ["0-59/5 * * * *", true],
    ["*/61 * * * *", true],
    ["? * * * *", true],
    ["0 0 ? * ?", true],
    ["0 0 31 2 *", true],
    ["05 * * * *", true],
    [" 0  0 * * * ", true],
    ["0 0 * * 0-6/2", true],
    ["@hourly", true],
    ["@daily", true],
    ["@midnight", true],
    ["@weekly", true],
    ["@monthly", true],
    ["@yearly", true],
    ["@annually", true],
    ["@every 5m", true],
    ["@every 1h30m", true],
    ["@every 90s", true],
    ["@every 1.5h", true],
    // refused
    ["", false],
    ["* * * *", false],
    ["* * * * * *", false],
    ["75/75 * * * *", false],
    ["*/0 * * * *", false],
    ["1/0 * * * *", false],
    ["5-2 * * * *", false],
    ["0 0 * * 6-0", false],
    ["0 0 * * FRI-MON", false],
    ["60 * * * *", false],
    ["0 24 * * *", false],
    ["0 0 0 * *", false],
    ["0 0 32 * *", false],
    ["0 0 * 0 *", false],
    ["0 0 * 13 *", false],
    ["0 0 * * 7", false],
    ["a * * * *", false],
    ["-1 * * * *", false],
    ["*/-5 * * * *", false],
    ["1/2/3 * * * *", false],
    ["++5 * * * *", false],
    ["1,,2 * * * *", true],
    [",5 * * * *", true],
    [", * * * *", true],
    ["+5 * * * *", true],
    ["*/+5 * * * *", true],
    ["*-5 * * * *", true],
    ["1-+5 * * * *", true],
    ["@every -5m", true],
    ["@every 0", true],
    ["@hourly ", false],
    [" @hourly", false],
    ["1-5-7 * * * *", false],
    ["*/5-10 * * * *", false],
    ["0 0 L * *", false],
    ["0 0 * * 5L", false],
    ["0 0 * * 5#2", false],
    ["0 0 15W * *", false],
    ["H * * * *", false],
    ["0 0 * * MONDAY", false],
    ["0 0 * JANUARY *", false],
    ["@HOURLY", false],
    ["@minutely", false],
    ["@weekdays", false],
    ["@reboot", false],
    ["@every", false],
    ["@every 5", false],
    ["@every five minutes", false],
    ["every minute", false],
    ["CRON_TZ=UTC 0 0 * * *", false],
    ["TZ=Europe/Berlin 0 0 * * *", false],
];

describe("cronProblem: the table", () => {
    for (const [expr, accepted] of TABLE) {
        it(`${JSON.stringify(expr)} is ${accepted ? "accepted" : "refused"}`, () => {
            const problem = cronProblem(expr);
            assert.equal(problem === undefined, accepted, problem ?? "accepted");
            if (!accepted) assert.ok(problem!.length > 10, "a refusal says why");
        });
    }

    it("refusals say what is wrong", () => {
        assert.match(cronProblem("0 0 * * 7")!, /day-of-week value 7 is outside 0-6 .*use 0 or SUN/);
        assert.match(cronProblem("* * * *")!, /expected 5 fields .* got 4/);
        assert.match(cronProblem("@every 5")!, /"5" is not a duration; @every takes one like 5m/);
        assert.match(cronProblem("@reboot")!, /unknown descriptor; expected one of @yearly/);
        assert.match(cronProblem("0 0 L * *")!, /day-of-month field "L": "L" is not a number/);
        assert.match(cronProblem("TZ=UTC 0 0 * * *")!, /spec\.timeZone/);
        assert.match(cronProblem("60 * * * *")!, /60.*0-59/);
    });
});

const available = controlPlaneAvailable();
if (!available) console.log("# SKIP cron parity with the apiserver: no `go` on PATH and no cached kube-apiserver");

describe("cron parity with the real kube-apiserver", { skip: !available && "no Go toolchain and no cached binaries" }, () => {
    let cp: ControlPlane;
    before(async () => {
        ensureBinaries((l) => console.log(`# ${l}`));
        cp = await startControlPlane();
    });
    after(async () => {
        await cp?.stop();
    });

    it("accepts and refuses exactly what cronProblem accepts and refuses", () => {
        const disagreements: string[] = [];
        TABLE.forEach(([schedule], i) => {
            const cronJob = {
                apiVersion: "batch/v1",
                kind: "CronJob",
                metadata: { name: `parity-${i}`, namespace: "default" },
                spec: { schedule, jobTemplate: { spec: { template: { spec: { restartPolicy: "Never", containers: [{ name: "c", image: "busybox:1.37" }] } } } } },
            };
            let server: boolean;
            let why = "";
            try {
                cp.kubectl(["apply", "--server-side", "--dry-run=server", "-f", "-"], yaml.dump(cronJob));
                server = true;
            } catch (e) {
                why = (e as Error).message;
                assert.match(why, /spec\.schedule/, `${JSON.stringify(schedule)} was refused for another reason`);
                server = false;
            }
            const program = cronProblem(schedule) === undefined;
            if (server !== program) disagreements.push(`${JSON.stringify(schedule)}: apiserver ${server ? "accepts" : `refuses (${why})`}, cronProblem ${program ? "accepts" : `refuses (${cronProblem(schedule)})`}`);
        });
        assert.deepEqual(disagreements, []);
    });
});
