/**
 * The `squall` command line (SPEC.md, "Command line"), parsed with commander. Client
 * commands connect to `--address` (default $SQUALL_ADDRESS, then 127.0.0.1:7700), print
 * their result as JSON on stdout, and report failures as `error CODE: message` on stderr.
 */
import { Command } from 'commander';
import { type Cloud, connect, type DagCallOptions } from '../client/index.js';
import { type NodeStatus, SQUALL_VERSION } from '../runtime/index.js';
import { type ClusterUpFlags, clusterUpCommand } from './cluster_command.js';
import { CliError, failWith, parseJsonArg, printJson } from './output.js';
import { type StartFlags, startCommand } from './start_command.js';
import { statusText } from './status_text.js';

interface ClientFlags {
  address?: string;
  token?: string;
  timeoutMs?: string;
}

async function withCloud<T>(flags: ClientFlags, use: (cloud: Cloud) => Promise<T>): Promise<T> {
  const options: { token?: string; timeoutMs?: number } = {};
  if (flags.token !== undefined) options.token = flags.token;
  if (flags.timeoutMs !== undefined) options.timeoutMs = positiveInt('timeout-ms', flags.timeoutMs);
  const cloud = await connect(flags.address, options);
  try {
    return await use(cloud);
  } finally {
    cloud.close();
  }
}

function positiveInt(flag: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) {
    throw new CliError('INVALID', `--${flag} needs a positive integer, not ${text}`);
  }
  return value;
}

function clientCommand(program: Command, spec: string, description: string): Command {
  return program
    .command(spec)
    .description(description)
    .option(
      '--address <host:port>',
      'node to talk to; a comma-separated list to fall back on (default $SQUALL_ADDRESS or 127.0.0.1:7700)',
    )
    .option('--token <token>', 'shared secret of the cluster')
    .option('--timeout-ms <ms>', 'request deadline (default 30000)');
}

function addDagCommands(program: Command): void {
  const dag = program.command('dag').description('register, call, list and delete DAGs');
  clientCommand(dag, 'create <name>', 'register a DAG of registered functions')
    .requiredOption(
      '--functions <a,b,c>',
      'the functions, comma-separated (repeat to add more)',
      (value: string, all: string[] | undefined) => [...(all ?? []), value],
    )
    .option(
      '--edge <from:to>',
      'an edge (repeat for more)',
      (value: string, all: string[]) => [...all, value],
      [],
    )
    .action((name: string, flags: ClientFlags & { functions: string[]; edge: string[] }) =>
      withCloud(flags, async (cloud) => {
        const functions = flags.functions.flatMap((list) => list.split(','));
        if (functions.some((f) => f.trim().length === 0))
          throw new CliError(
            'INVALID',
            `--functions ${flags.functions.join(',')} has an empty name`,
          );
        const edges = flags.edge.map((edge) => {
          const [from, to, ...rest] = edge.split(':');
          if (from === undefined || to === undefined || rest.length > 0) {
            throw new CliError('INVALID', `--edge ${edge} is not from:to`);
          }
          return [from, to] as [string, string];
        });
        await cloud.registerDag(name, functions, edges);
        printJson({ ok: true, name, functions, edges });
      }),
    );
  clientCommand(dag, 'call <name>', 'run a DAG; prints the sink result')
    .option('--args <json>', 'caller arguments: {"fn": [args]}', '{}')
    .option('--consistency <mode>', 'lww | repeatable-read | causal')
    .option('--output-key <key>', 'also store the result at this key')
    .action(
      (
        name: string,
        flags: ClientFlags & { args: string; consistency?: string; outputKey?: string },
      ) =>
        withCloud(flags, async (cloud) => {
          const args = parseJsonArg(flags.args, '--args', true) as Record<string, unknown[]>;
          const options: DagCallOptions & { direct?: true } = {};
          if (flags.consistency !== undefined) {
            options.consistency = flags.consistency as NonNullable<DagCallOptions['consistency']>;
          }
          if (flags.outputKey !== undefined) options.outputKey = flags.outputKey;
          printJson(await cloud.callDag(name, args, options));
        }),
    );
  clientCommand(dag, 'list', 'list the registered DAGs').action((flags: ClientFlags) =>
    withCloud(flags, async (cloud) => printJson(await cloud.listDags())),
  );
  clientCommand(dag, 'delete <name>', 'delete a DAG').action((name: string, flags: ClientFlags) =>
    withCloud(flags, async (cloud) => {
      await cloud.deleteDag(name);
      printJson({ ok: true });
    }),
  );
}

function addStartCommand(program: Command): void {
  program
    .command('start')
    .description('run a node in this process until SIGINT/SIGTERM')
    .option('--host <host>', 'address to listen on (default 127.0.0.1)')
    .option(
      '--advertise-host <host>',
      'address other nodes and clients reach this node at (default: --host; for 0.0.0.0, the first external IPv4)',
    )
    .option('--port <port>', 'client and peer port; 0 picks a free one (default 7700)')
    .option('--http-port <port|off>', 'HTTP gateway port, or off (default: --port + 80, so 7780)')
    .option('--join <host:port,...>', 'seed nodes of a cluster to join')
    .option('--executors <n>', 'executor threads (default: CPU cores)')
    .option('--data-dir <dir>', 'durable storage folder (default: memory only)')
    .option('--fsync <policy>', 'always | interval | never (default interval, every 100 ms)')
    .option('--replication <n>', 'copies of each key')
    .option('--cache-mb <n>', 'size of the shared cache segment in MiB (default 256)')
    .option('--token <token>', 'shared secret every client and peer must present')
    .option('--executor-memory-mb <n>', 'heap limit of each executor thread (default 1024)')
    .option('--call-timeout-ms <ms>', 'deadline of calls that name none (default 60000)')
    .option('--gossip-interval-ms <ms>', 'how often owners send changed keys (default 100)')
    .option('--probe-interval-ms <ms>', 'how often a node probes a member (default 500)')
    .option('--suspicion-timeout-ms <ms>', 'suspect to dead after this long (default 2500)')
    .option('--spin-us <us>', 'stay awake this long for a lone call; 0 = never (default 100)')
    .option('--examples', 'deploy the bundled examples/ too')
    .action((flags: StartFlags) => startCommand(flags));
}

function addClusterCommand(program: Command): void {
  program
    .command('cluster')
    .description('a local multi-process cluster')
    .command('up')
    .description('start N nodes on consecutive ports, joined into one cluster')
    .option('--nodes <n>', 'how many nodes (default 3)')
    .option('--base-port <port>', 'port of the first node; HTTP on port+80 (default 7700)')
    .option('--data-dir <dir>', 'durable storage: node i uses DIR/node-i')
    .option('--replication <n>', 'copies of each key')
    .option('--executors <n>', 'executor threads per node')
    .option('--token <token>', 'shared secret of the cluster')
    .option('--spin-us <us>', 'stay awake for a lone call (default 0: the nodes share cores)')
    .action((flags: ClusterUpFlags) => clusterUpCommand(flags));
}

function buildProgram(): Command {
  const program = new Command('squall')
    .description('stateful functions-as-a-service for TypeScript')
    .version(SQUALL_VERSION, '-V, --version', 'print the version');
  program.exitOverride();
  // Usage errors (a missing argument, an unknown command or option) speak like every other
  // error: one line `error INVALID: ...`. Subcommands added below inherit this.
  program.configureOutput({
    outputError: (text, write) =>
      write(
        `error INVALID: ${text
          .replace(/^error: /, '')
          .replace(/\s*\n\s*/g, ' ')
          .trim()}\n`,
      ),
  });
  addStartCommand(program);
  addClusterCommand(program);
  addDagCommands(program);
  clientCommand(program, 'deploy <file>', 'register every exported function of a module').action(
    (file: string, flags: ClientFlags) =>
      withCloud(flags, async (cloud) => printJson(await cloud.deployFile(file))),
  );
  clientCommand(program, 'call <name> [args...]', 'call a function with JSON arguments').action(
    (name: string, args: string[], flags: ClientFlags) =>
      withCloud(flags, async (cloud) => {
        const values = args.map((a, i) => parseJsonArg(a, `argument ${i + 1}`));
        printJson(await cloud.call(name, values));
      }),
  );
  clientCommand(program, 'get <key>', 'read a key (NOT_FOUND if it is not set)').action(
    (key: string, flags: ClientFlags) =>
      withCloud(flags, async (cloud) => {
        const value = await cloud.get(key);
        // As over HTTP (404): a key never set is not the JSON null a key may hold.
        if (value === undefined)
          throw new CliError('NOT_FOUND', `key ${JSON.stringify(key)} is not set`);
        printJson(value);
      }),
  );
  clientCommand(program, 'put <key> <json>', 'write a key').action(
    (key: string, json: string, flags: ClientFlags) =>
      withCloud(flags, async (cloud) => {
        await cloud.put(key, parseJsonArg(json, 'the value'));
        printJson({ ok: true });
      }),
  );
  clientCommand(program, 'status', 'show the cluster as this node sees it')
    .option('--json', 'print the full status as JSON')
    .action((flags: ClientFlags & { json?: boolean }) =>
      withCloud(flags, async (cloud) => {
        const status: NodeStatus = await cloud.status();
        if (flags.json) printJson(status);
        else process.stdout.write(statusText(status));
      }),
    );
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    const code = (error as { code?: string }).code;
    // Help asked for (--help), or the version: success. Help shown because a command was
    // missing (`squall`, `squall dag`) is 'commander.help' with exit code 1: a usage error.
    if (code === 'commander.helpDisplayed' || code === 'commander.version') return;
    if (code === 'commander.help') process.exit((error as { exitCode?: number }).exitCode ?? 0);
    if (typeof code === 'string' && code.startsWith('commander.')) {
      process.exit((error as { exitCode?: number }).exitCode ?? 1);
    }
    failWith(error);
  }
}
