/**
 * Bundles a module for `deploy` on the client, where its imports can be resolved: one
 * CommonJS script (the form `loadModule` evaluates on a node) with the module's relative
 * imports and every npm package the client can resolve inlined. Node built-ins, and bare
 * imports the client cannot resolve, stay `require()` calls, to be satisfied by packages
 * installed on the nodes.
 *
 * Invariants: `exports` lists exactly the module's ES export names; any esbuild error is one
 * ValidationError whose message carries `file:line:column` (column 1-based) and esbuild's
 * text; nothing is written to disk.
 *
 * Why two builds: esbuild's metafile lists an output's export names only for ESM output, and
 * the node needs CommonJS, so an ESM build (metafile only) runs next to the CJS build; esbuild
 * runs them in parallel. The inline source map leaves out the sources' text (the node needs
 * only the mappings to report user lines) and names the entry by its base name, because the
 * node resolves map sources against the module's own path (see module_loader.ts).
 */
import path from 'node:path';
import {
  type BuildFailure,
  type BuildOptions,
  build,
  type Loader,
  type Message,
  type OutputFile,
  type Plugin,
  stop,
} from 'esbuild';
import { ValidationError } from '../errors.js';

/**
 * Ends esbuild's service process (a later bundle starts it again). A node that deployed its
 * examples at start keeps no idle bundler processes for the rest of its life.
 */
export function stopBundler(): Promise<void> {
  return stop();
}

export type BundleInput = (
  | { source: string; filename?: string | undefined; resolveDir?: string | undefined }
  | { file: string }
) & {
  /** Append an inline source map so stack traces on the node name user lines (default true). */
  sourcemap?: boolean | undefined;
};

export interface BundleOutput {
  code: string;
  exports: string[];
  filename: string;
}

/** The name a source gets when the caller gives none; TypeScript, a superset for our purposes. */
const DEFAULT_FILENAME = 'module.ts';
const OUTPUT_NAME = 'squall-bundle.js';

interface Entry {
  options: BuildOptions;
  filename: string;
  /** The entry as it appears in the source map's `sources` before we rename it. */
  mapSource: string;
}

export async function bundleModule(input: BundleInput): Promise<BundleOutput> {
  const entry = describeEntry(input);
  const common: BuildOptions = {
    ...entry.options,
    bundle: true,
    platform: 'node',
    target: 'node20',
    write: false,
    logLevel: 'silent',
    plugins: [keepUnresolvedExternal],
  };
  const sourcemap = input.sourcemap ?? true;
  let esm: { metafile?: { outputs: Record<string, { exports: string[] }> } | undefined };
  let cjs: { outputFiles?: OutputFile[] | undefined };
  try {
    [esm, cjs] = await Promise.all([
      build({ ...common, format: 'esm', metafile: true }),
      build({
        ...common,
        format: 'cjs',
        sourcemap: sourcemap ? 'external' : false,
        sourcesContent: false,
      }),
    ]);
  } catch (error) {
    throw bundleError(error, entry.filename);
  }
  const exports = Object.values(esm.metafile?.outputs ?? {}).flatMap((output) => output.exports);
  const code = assembleCode(cjs.outputFiles ?? [], entry);
  return { code, exports: [...new Set(exports)].sort(), filename: entry.filename };
}

function describeEntry(input: BundleInput): Entry {
  if ('file' in input) {
    if (typeof input.file !== 'string' || input.file === '') {
      throw new ValidationError('bundle: `file` must be a path');
    }
    const absolute = path.resolve(input.file);
    const relative = path.relative(process.cwd(), absolute);
    const filename = relative.startsWith('..') || path.isAbsolute(relative) ? absolute : relative;
    const outfile = path.join(path.dirname(absolute), OUTPUT_NAME);
    return {
      options: { entryPoints: [absolute], outfile },
      filename,
      mapSource: path.basename(absolute),
    };
  }
  if (typeof input.source !== 'string') throw new ValidationError('bundle: `source` must be text');
  const filename = input.filename ?? DEFAULT_FILENAME;
  const resolveDir = path.resolve(
    input.resolveDir ?? (input.filename === undefined ? '.' : path.dirname(input.filename)),
  );
  const stdin = {
    contents: input.source,
    sourcefile: filename,
    loader: loaderFor(filename),
    resolveDir,
  };
  return {
    options: { stdin, outfile: path.join(resolveDir, OUTPUT_NAME) },
    filename,
    mapSource: filename,
  };
}

function loaderFor(filename: string): Loader {
  switch (path.extname(filename).toLowerCase()) {
    case '.js':
    case '.mjs':
    case '.cjs':
      return 'js';
    case '.jsx':
      return 'jsx';
    case '.tsx':
      return 'tsx';
    default:
      return 'ts';
  }
}

/**
 * Bare imports that the client cannot resolve are left as `require()` for the node. Other
 * imports fall through to esbuild's own resolution (which also externalises built-ins).
 */
const keepUnresolvedExternal: Plugin = {
  name: 'squall-keep-unresolved-external',
  setup(pluginBuild) {
    const probing = Symbol('probing');
    pluginBuild.onResolve({ filter: /^[^./]/ }, async (args) => {
      if (args.pluginData === probing || path.isAbsolute(args.path)) return undefined;
      const found = await pluginBuild.resolve(args.path, {
        kind: args.kind,
        importer: args.importer,
        resolveDir: args.resolveDir,
        namespace: args.namespace,
        pluginData: probing,
      });
      return found.errors.length > 0 ? { path: args.path, external: true } : undefined;
    });
  },
};

/** The CJS script, with its source map (if any) renamed and inlined. */
function assembleCode(files: OutputFile[], entry: Entry): string {
  const script = files.find((file) => !file.path.endsWith('.map'));
  if (script === undefined) throw new Error('esbuild produced no script');
  const mapFile = files.find((file) => file.path.endsWith('.map'));
  if (mapFile === undefined) return script.text;
  const map = JSON.parse(mapFile.text) as { sources: string[] };
  const entryName = path.basename(entry.filename);
  map.sources = map.sources.map((source) => (source === entry.mapSource ? entryName : source));
  const encoded = Buffer.from(JSON.stringify(map)).toString('base64');
  return `${script.text}//# sourceMappingURL=data:application/json;base64,${encoded}\n`;
}

function bundleError(error: unknown, filename: string): ValidationError {
  if (!isBuildFailure(error)) {
    const message = error instanceof Error ? error.message : String(error);
    return new ValidationError(`cannot bundle ${filename}: ${message}`);
  }
  const details = error.errors.map((message) => formatMessage(message, filename)).join('\n');
  return new ValidationError(`cannot bundle ${filename}: ${details}`);
}

function isBuildFailure(error: unknown): error is BuildFailure {
  return error instanceof Error && Array.isArray((error as Partial<BuildFailure>).errors);
}

/** esbuild puts stdin in the empty namespace and names it after its resolveDir: use ours. */
function formatMessage(message: Message, filename: string): string {
  const at = message.location;
  if (at === null) return message.text;
  const file = at.namespace === '' ? filename : at.file;
  const position = `${file}:${at.line}:${at.column + 1}`;
  return `${position}: ${message.text}\n    ${at.line} | ${at.lineText}`;
}
