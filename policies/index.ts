import { PolicyPack } from "@pulumi/policy";
import { allPolicies } from "./all";

// Constructing the pack starts its server: keep this file to wiring only (all.ts and rules/ are testable).
new PolicyPack("openfaas-gitops", { policies: allPolicies() });
