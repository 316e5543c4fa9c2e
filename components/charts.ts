import * as k8s from "@pulumi/kubernetes";
import { ChartSource } from "../model/charts";

/** Pure: the chart-locating part of `helm.v4.ChartArgs` for a source. */
export function chartLocation(src: ChartSource): Pick<k8s.helm.v4.ChartArgs, "chart" | "version" | "repositoryOpts"> {
    if (src.path) {
        return { chart: src.path };
    }
    return { chart: src.chart, version: src.version, repositoryOpts: { repo: src.repo } };
}
