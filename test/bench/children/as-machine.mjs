/**
 * Runs another child script of the benchmark as one "machine" of a store shared by many machines: sets
 * BATON_MACHINE_ID (the name baton gives this process's machine in events and claims) before the script loads baton.
 * Usage: node as-machine.mjs MACHINE_ID SCRIPT ARGS…   (SCRIPT sees `node SCRIPT ARGS…` in process.argv)
 */
const [machine, script, ...args] = process.argv.slice(2);
process.env.BATON_MACHINE_ID = machine;
process.argv = [process.argv[0], script, ...args];
await import(script);
