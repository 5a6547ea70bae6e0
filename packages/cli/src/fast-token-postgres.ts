/**
 * The fast path of `baton token REF` on a PostgreSQL store shared by many machines (BATON_STORE): one connection, one
 * query, the secret opened with the store key (`@baton/adapters/postgres-token`) — loaded only when BATON_STORE is
 * set. Anything unusual answers "not handled" and the full CLI takes over (launcher.ts).
 */
import { fastPostgresToken } from "@baton/adapters/postgres-token";

/** Prints the token of `baton token REF` and resolves true when the fast path applies; false hands over. */
export const tryPostgresToken = async (ref: string, env: NodeJS.ProcessEnv = process.env): Promise<boolean> => {
  const token = await fastPostgresToken(ref, env);
  if (token === undefined) return false;
  process.stdout.write(`${token}\n`);
  return true;
};
