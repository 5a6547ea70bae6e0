/** Account status for the CLI: the core's secret-free status of an account (also used by embedded hosts). */
export { type AccountStatus, accountStatus, allAccounts } from "@baton/core";
