// Node module hooks that let a plain `node` child process run this repo's TypeScript sources, for
// tests that must kill a real process (vitest transpiles TS in its own workers, a spawned `node`
// does not, and Node 20 cannot strip types). Registered by ts-register.mjs:
//
//   node --import ./test/helpers/ts-register.mjs test/helpers/crash-writer.ts ARGS
//
// resolve: an import of './x.js' (the NodeNext spelling) finds './x.ts' when no x.js exists.
// load:    a .ts file is transpiled with the project's own TypeScript (transpileModule: no type
//          check, one file at a time) into an ES module.

import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export async function resolve(specifier, context, nextResolve) {
  const parent = context.parentURL;
  if (parent?.endsWith('.ts') && specifier.endsWith('.js') && (specifier.startsWith('.') || specifier.startsWith('/'))) {
    const url = new URL(specifier, parent);
    if (!existsSync(fileURLToPath(url))) {
      const tsUrl = new URL(url.href.slice(0, -3) + '.ts');
      if (existsSync(fileURLToPath(tsUrl))) return { url: tsUrl.href, shortCircuit: true };
    }
  }
  return nextResolve(specifier, context);
}

export async function load(url, context, nextLoad) {
  if (!url.startsWith('file:') || !url.endsWith('.ts')) return nextLoad(url, context);
  const source = await readFile(fileURLToPath(url), 'utf8');
  const out = ts.transpileModule(source, {
    fileName: fileURLToPath(url),
    compilerOptions: {
      module: ts.ModuleKind.ESNext,
      target: ts.ScriptTarget.ES2022,
      experimentalDecorators: true,
      sourceMap: false,
      inlineSourceMap: true,
    },
  });
  return { format: 'module', source: out.outputText, shortCircuit: true };
}
