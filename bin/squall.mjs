#!/usr/bin/env node
// The `squall` command. In a checkout (src/ present, tsx installed) it runs the TypeScript
// sources directly, so `npm start` works right after `npm install`; an installed package
// runs the compiled dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const source = new URL('../src/cli/main.ts', import.meta.url);
const compiled = new URL('../dist/cli/main.js', import.meta.url);

async function load() {
  if (existsSync(fileURLToPath(source))) {
    try {
      const { register } = await import('tsx/esm/api');
      register();
      return import(source.href);
    } catch (error) {
      if (!existsSync(fileURLToPath(compiled))) throw error;
    }
  }
  return import(compiled.href);
}

const { main } = await load();
await main(process.argv.slice(2));
