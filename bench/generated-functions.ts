/**
 * A functions file (faas-cli stack.yml) with `n` generated functions for the benchmarks: a third
 * autoscaled, a fifth scheduled, each with requests, limits and an environment. More than 15 need
 * OpenFaaS Pro.
 */
export function stackYml(n: number): string {
    const lines = ["provider: {name: openfaas}", "functions:"];
    for (let i = 0; i < n; i++) {
        lines.push(
            `  fn-${i}:`,
            `    image: ghcr.io/acme/fn-${i}:1.0.${i}`,
            "    environment: {mode: bench}",
            "    requests: {cpu: 10m, memory: 32Mi}",
            "    limits: {cpu: 100m, memory: 128Mi}",
            ...(i % 3 === 0 ? ["    autoscaling: {minReplicas: 1, maxReplicas: 5, cpuUtilization: 60}"] : []),
            ...(i % 5 === 0 ? ['    schedules: [{cron: "*/5 * * * *", payload: ping}]'] : []),
        );
    }
    return lines.join("\n") + "\n";
}
