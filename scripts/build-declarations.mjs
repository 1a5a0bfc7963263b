#!/usr/bin/env node
// Emits a package's declaration files and declaration maps with tsc, one `.d.ts` per source module
// (dist/pipeline.d.ts, dist/testing/index.d.ts, ...), so "go to definition" lands on readable names
// and, through the maps, in the shipped `src/`. Run from a package folder after tsup: `tsup` builds
// the JavaScript, this builds the types.
//
// Why not tsup's `dts`: it rolls the declarations up with hashed shared chunks and short aliases,
// and writes no declaration maps. Why a transformer: the sources import each other without
// extensions (`./pipeline`), which Node's ESM resolution of the published types (node16/nodenext)
// cannot follow, so relative specifiers are rewritten to `./pipeline.js` or `./testing/index.js`.
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const packageDir = process.cwd();
const srcDir = path.join(packageDir, 'src');
const outDir = path.join(packageDir, 'dist');

const configPath = ts.findConfigFile(packageDir, ts.sys.fileExists, 'tsconfig.json');
if (!configPath) throw new Error(`build-declarations: no tsconfig.json in ${packageDir}`);
const config = ts.readConfigFile(configPath, ts.sys.readFile);
if (config.error) throw new Error(ts.flattenDiagnosticMessageText(config.error.messageText, '\n'));
const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, path.dirname(configPath));

const options = {
  ...parsed.options,
  // Sibling packages resolve to their published types (dist), not to their sources: the workspace's
  // `ticketflow-source` condition would pull their sources into this program.
  customConditions: [],
  noEmit: false,
  declaration: true,
  declarationMap: true,
  emitDeclarationOnly: true,
  sourceMap: false,
  rootDir: srcDir,
  outDir,
};
const program = ts.createProgram({ rootNames: parsed.fileNames, options });

/** `./pipeline` becomes `./pipeline.js`, `./testing` becomes `./testing/index.js`. */
function withExtension(specifier, fromFile) {
  if (!specifier.startsWith('./') && !specifier.startsWith('../')) return specifier;
  if (/\.(js|mjs|cjs|json)$/.test(specifier)) return specifier;
  const target = path.resolve(path.dirname(fromFile), specifier);
  if (existsSync(`${target}.ts`) || existsSync(`${target}.tsx`)) return `${specifier}.js`;
  if (existsSync(target) && statSync(target).isDirectory()) return `${specifier}/index.js`;
  throw new Error(`build-declarations: cannot resolve ${specifier} from ${fromFile}`);
}

/** @type {ts.TransformerFactory<ts.SourceFile | ts.Bundle>} */
const rewriteSpecifiers = (context) => (root) => {
  if (!ts.isSourceFile(root)) return root;
  const fromFile = root.fileName;
  const literal = (node) => context.factory.createStringLiteral(withExtension(node.text, fromFile));
  const visit = (node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      return context.factory.updateImportDeclaration(
        node,
        node.modifiers,
        node.importClause,
        literal(node.moduleSpecifier),
        node.attributes,
      );
    }
    if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      return context.factory.updateExportDeclaration(
        node,
        node.modifiers,
        node.isTypeOnly,
        node.exportClause,
        literal(node.moduleSpecifier),
        node.attributes,
      );
    }
    if (
      ts.isImportTypeNode(node) &&
      ts.isLiteralTypeNode(node.argument) &&
      ts.isStringLiteral(node.argument.literal)
    ) {
      return context.factory.updateImportTypeNode(
        node,
        context.factory.updateLiteralTypeNode(node.argument, literal(node.argument.literal)),
        node.attributes,
        node.qualifier,
        node.typeArguments,
        node.isTypeOf,
      );
    }
    return ts.visitEachChild(node, visit, context);
  };
  return ts.visitEachChild(root, visit, context);
};

const result = program.emit(undefined, undefined, undefined, true, {
  afterDeclarations: [rewriteSpecifiers],
});
const diagnostics = [...ts.getPreEmitDiagnostics(program), ...result.diagnostics];
if (diagnostics.length > 0) {
  const host = {
    getCanonicalFileName: (f) => f,
    getCurrentDirectory: () => packageDir,
    getNewLine: () => '\n',
  };
  console.error(ts.formatDiagnosticsWithColorAndContext(diagnostics, host));
  process.exit(1);
}
const emitted = program.getSourceFiles().filter((f) => f.fileName.startsWith(srcDir)).length;
console.log(`build-declarations: ${emitted} modules -> ${path.relative(packageDir, outDir)}/*.d.ts (+ maps)`);
