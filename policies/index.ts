import { PolicyPack } from "@pulumi/policy";
import { allPolicies } from "./rules";

// Constructing the pack starts its server: keep this file to wiring only (rules.ts is testable).
new PolicyPack("openfaas-gitops", { policies: allPolicies() });
