/**
 * Finds every TSDoc `@example` in the workspace packages' sources (and every ```ts block of the
 * READMEs) and turns each into a module that can be type-checked and run: the example's code as
 * written, preceded, unless it has imports of its own, by imports of the names it uses but does not
 * declare. Names come, in this order, from the packages' public entry points, from the example's own
 * module (for internal helpers), and from example-context.ts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
export const contextModule = join(dirname(fileURLToPath(import.meta.url)), 'example-context.ts');

/** One fenced code block of one `@example`. */
export interface DocExample {
  /** Source file, relative to the repository root. */
  readonly file: string;
  /** The line of the source file where the code starts (1-based). */
  readonly line: number;
  /** The documented declaration. */
  readonly symbol: string;
  /** `packages/core/src/pipeline.ts#createPipeline`, plus `[n]` for a second example. */
  readonly id: string;
  /** The code, without the comment's leading `*`. */
  readonly code: string;
}

/** An importable module and the names it exports. */
interface NameSource {
  readonly specifier: string;
  /** Each exported name, and whether it is only a type. */
  readonly names: ReadonlyMap<string, boolean>;
}

function parse(file: string): ts.SourceFile {
  return ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

/** The package folders under packages/, in a stable order. */
export function packageDirs(): string[] {
  return readdirSync(join(repoRoot, 'packages'), { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => join(repoRoot, 'packages', entry.name))
    .sort();
}

/**
 * Every `@example` code block of every source file of the packages, then every ```ts block of the
 * README files (the repository's and each package's).
 */
export function extractExamples(): DocExample[] {
  const found = packageDirs().flatMap((dir) => [
    ...sourceFiles(join(dir, 'src'))
      .sort()
      .flatMap((file) => examplesOf(parse(file))),
  ]);
  const readmes = [join(repoRoot, 'README.md'), ...packageDirs().map((dir) => join(dir, 'README.md'))];
  for (const readme of readmes) found.push(...markdownExamples(readme));
  const seen = new Map<string, number>();
  return found.map((example) => {
    const n = (seen.get(example.id) ?? 0) + 1;
    seen.set(example.id, n);
    return n === 1 ? example : { ...example, id: `${example.id}[${n}]` };
  });
}

/** The ```ts blocks of a Markdown file, each named after the heading above it. */
function markdownExamples(path: string): DocExample[] {
  const file = relative(repoRoot, path);
  const examples: DocExample[] = [];
  let heading = '(top)';
  let fence: { start: number; code: string[] } | undefined;
  readFileSync(path, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (fence !== undefined) {
        if (/^```\s*$/.test(line)) {
          const symbol = heading;
          examples.push({
            file,
            line: fence.start,
            symbol,
            id: `${file}#${symbol}`,
            code: fence.code.join('\n'),
          });
          fence = undefined;
        } else fence.code.push(line);
        return;
      }
      const title = /^#+\s+(.*)$/.exec(line);
      if (title) heading = (title[1] as string).trim();
      if (/^```(ts|typescript)\s*$/.test(line)) fence = { start: i + 2, code: [] };
    });
  return examples;
}

function declarationName(node: ts.Node): string {
  if (ts.isVariableStatement(node)) return declarationName(node.declarationList.declarations[0] as ts.Node);
  const name = (node as { name?: ts.Node }).name;
  if (name !== undefined && (ts.isIdentifier(name) || ts.isPrivateIdentifier(name))) {
    const parent = node.parent;
    const owner =
      parent !== undefined && (ts.isClassLike(parent) || ts.isInterfaceDeclaration(parent))
        ? `${parent.name?.text ?? '(anonymous)'}.`
        : '';
    return owner + name.text;
  }
  return '(anonymous)';
}

function examplesOf(sf: ts.SourceFile): DocExample[] {
  const file = relative(repoRoot, sf.fileName);
  const found: DocExample[] = [];
  const docs = new Set<number>();
  const visit = (node: ts.Node): void => {
    for (const doc of ts.getJSDocCommentsAndTags(node)) {
      if (!ts.isJSDoc(doc) || docs.has(doc.pos)) continue;
      docs.add(doc.pos);
      found.push(...blocksOf(sf, doc, file, declarationName(node)));
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

/** The fenced blocks of each `@example` section of one doc comment. */
function blocksOf(sf: ts.SourceFile, doc: ts.JSDoc, file: string, symbol: string): DocExample[] {
  const firstLine = sf.getLineAndCharacterOfPosition(doc.getStart(sf)).line + 1;
  const lines = sf.text
    .slice(doc.getStart(sf), doc.end)
    .split('\n')
    .map((line) =>
      line
        .replace(/^\s*\/\*\*\s?/, '')
        .replace(/\s*\*\/\s*$/, '')
        .replace(/^\s*\* ?/, ''),
    );
  const blocks: DocExample[] = [];
  let inExample = false;
  let fence: { start: number; code: string[] } | undefined;
  let fencesInExample = 0;
  const id = `${file}#${symbol}`;
  const endExample = (at: number) => {
    if (inExample && fencesInExample === 0)
      throw new Error(`${file}:${firstLine + at}: an @example of ${symbol} has no \`\`\`ts code block`);
    inExample = false;
  };
  lines.forEach((line, i) => {
    if (fence !== undefined) {
      if (/^```\s*$/.test(line)) {
        blocks.push({ file, line: firstLine + fence.start, symbol, id, code: fence.code.join('\n') });
        fence = undefined;
      } else fence.code.push(line);
      return;
    }
    if (/^@\w+/.test(line)) {
      endExample(i);
      if (line.startsWith('@example')) {
        inExample = true;
        fencesInExample = 0;
      }
      return;
    }
    const open = /^```(\w*)\s*$/.exec(line);
    if (inExample && open) {
      if (!['ts', 'typescript'].includes(open[1] as string))
        throw new Error(`${file}:${firstLine + i}: write the @example of ${symbol} as a \`\`\`ts block`);
      fencesInExample += 1;
      fence = { start: i + 1, code: [] };
    }
  });
  if (fence !== undefined) throw new Error(`${file}: an @example of ${symbol} has an unclosed code block`);
  endExample(lines.length);
  return blocks;
}

/**
 * The names a module exports, and whether each is only a type, read from its syntax; `export *` is
 * refused, since it hides them.
 */
function exportedNames(file: string): Map<string, boolean> {
  const names = new Map<string, boolean>();
  for (const statement of parse(file).statements) {
    if (ts.isExportDeclaration(statement)) {
      if (statement.exportClause === undefined || !ts.isNamedExports(statement.exportClause))
        throw new Error(`${file}: tsdoc-examples cannot list the names of \`export *\``);
      for (const element of statement.exportClause.elements)
        names.set(element.name.text, statement.isTypeOnly || element.isTypeOnly);
      continue;
    }
    const exported = ts.canHaveModifiers(statement)
      ? ts.getModifiers(statement)?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword)
      : false;
    if (!exported) continue;
    if (ts.isVariableStatement(statement)) {
      for (const d of statement.declarationList.declarations)
        if (ts.isIdentifier(d.name)) names.set(d.name.text, false);
    } else {
      const name = (statement as { name?: ts.Node }).name;
      const typeOnly = ts.isInterfaceDeclaration(statement) || ts.isTypeAliasDeclaration(statement);
      if (name !== undefined && ts.isIdentifier(name)) names.set(name.text, typeOnly);
    }
  }
  return names;
}

/** Each public entry point of each package (`@ticketflow/core`, `@ticketflow/core/testing`, ...). */
function entryPoints(): NameSource[] {
  return packageDirs().flatMap((dir) => {
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
      name: string;
      exports: Record<string, unknown>;
    };
    return Object.entries(pkg.exports).flatMap(([subpath, target]) => {
      const source = (target as Record<string, string> | null)?.['ticketflow-source'];
      if (source === undefined) return [];
      return [{ specifier: pkg.name + subpath.slice(1), names: exportedNames(join(dir, source)) }];
    });
  });
}

/** The names an example declares at its top level. */
function declaredNames(code: string): Set<string> {
  const names = new Set<string>();
  const bind = (name: ts.BindingName): void => {
    if (ts.isIdentifier(name)) names.add(name.text);
    else for (const element of name.elements) if (!ts.isOmittedExpression(element)) bind(element.name);
  };
  for (const statement of ts.createSourceFile('example.ts', code, ts.ScriptTarget.ES2022).statements) {
    if (ts.isVariableStatement(statement)) {
      for (const d of statement.declarationList.declarations) bind(d.name);
    } else if (ts.isImportDeclaration(statement)) {
      const clause = statement.importClause;
      if (clause?.name) names.add(clause.name.text);
      const bindings = clause?.namedBindings;
      if (bindings && ts.isNamespaceImport(bindings)) names.add(bindings.name.text);
      if (bindings && ts.isNamedImports(bindings)) for (const e of bindings.elements) names.add(e.name.text);
    } else {
      const name = (statement as { name?: ts.Node }).name;
      if (name !== undefined && ts.isIdentifier(name)) names.add(name.text);
    }
  }
  return names;
}

/** A module for one example: the imports it needs, then its code, as written, from line `header + 1`. */
export interface ExampleModule {
  readonly example: DocExample;
  /** What is type-checked: the imports, then the example exactly as written. */
  readonly text: string;
  /** What is run: the same, with the results the example states checked (see {@link claimsOf}). */
  readonly runText: string;
  /** How many stated results the run checks. */
  readonly claims: number;
  /** Lines added before the example's code (the same in both texts). */
  readonly header: number;
}

export function exampleModule(example: DocExample): ExampleModule {
  const ownModule = join(repoRoot, example.file).replace(/\.ts$/, '');
  // An example with its own imports is complete as written (a reader copies it as it is): none added.
  const selfContained = /^\s*import\s/m.test(example.code);
  const sources: NameSource[] = selfContained
    ? []
    : [
        ...entryPoints(),
        ...(example.file.endsWith('.ts')
          ? [{ specifier: ownModule, names: exportedNames(join(repoRoot, example.file)) }]
          : []),
        { specifier: contextModule.replace(/\.ts$/, ''), names: exportedNames(contextModule) },
      ];
  const declared = declaredNames(example.code);
  const used = new Set(example.code.match(/[A-Za-z_$][\w$]*/g) ?? []);
  const imports = new Map<string, string[]>();
  const taken = new Set<string>();
  for (const { specifier, names } of sources) {
    for (const name of [...used].sort()) {
      if (declared.has(name) || taken.has(name) || !names.has(name)) continue;
      taken.add(name);
      imports.set(specifier, [...(imports.get(specifier) ?? []), names.get(name) ? `type ${name}` : name]);
    }
  }
  const header = [...imports].map(
    ([specifier, names]) => `import { ${names.join(', ')} } from '${specifier}';`,
  );
  if (header.length === 0) header.push('// (no imports)');
  const claims = claimsOf(example.code);
  // On the first line, so that the example keeps its line numbers in both texts.
  const checks = `import { exampleClaims } from '${contextModule.replace(/\.ts$/, '')}';`;
  const runHeader = claims.count === 0 ? header : [`${checks} ${header[0]}`, ...header.slice(1)];
  return {
    example,
    header: header.length,
    text: `${[...header, example.code].join('\n')}\nexport {};\n`,
    runText: `${[...runHeader, claims.code].join('\n')}\nexport {};\n`,
    claims: claims.count,
  };
}

/** A comment that states a value: `// 30000`, `// { bucket: 'analytics' }`, `// [4, 72]`. */
function isValue(node: ts.Expression): boolean {
  if (ts.isParenthesizedExpression(node)) return isValue(node.expression);
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) || ts.isNumericLiteral(node))
    return true;
  if (node.kind === ts.SyntaxKind.TrueKeyword || node.kind === ts.SyntaxKind.FalseKeyword) return true;
  if (node.kind === ts.SyntaxKind.NullKeyword) return true;
  if (ts.isIdentifier(node)) return node.text === 'undefined';
  if (ts.isPrefixUnaryExpression(node))
    return node.operator === ts.SyntaxKind.MinusToken && ts.isNumericLiteral(node.operand);
  if (ts.isArrayLiteralExpression(node)) return node.elements.every(isValue);
  if (ts.isObjectLiteralExpression(node))
    return node.properties.every((p) => ts.isPropertyAssignment(p) && isValue(p.initializer));
  return false;
}

/** A comment that states facts: `// batches[0].metrics.total === 2, batches[1].metrics.total === 1`. */
function isComparison(node: ts.Expression): boolean {
  if (ts.isParenthesizedExpression(node)) return isComparison(node.expression);
  if (!ts.isBinaryExpression(node)) return false;
  if (node.operatorToken.kind === ts.SyntaxKind.CommaToken)
    return isComparison(node.left) && isComparison(node.right);
  return node.operatorToken.kind === ts.SyntaxKind.EqualsEqualsEqualsToken;
}

/** The comment's text as one expression, when it parses as one. */
function commentExpression(text: string): ts.Expression | undefined {
  const sf = ts.createSourceFile('claim.ts', `(${text});`, ts.ScriptTarget.ES2022, true);
  const diagnostics = (sf as unknown as { parseDiagnostics: readonly unknown[] }).parseDiagnostics;
  const statement = sf.statements[0];
  if (
    diagnostics.length > 0 ||
    sf.statements.length !== 1 ||
    !statement ||
    !ts.isExpressionStatement(statement)
  )
    return undefined;
  return statement.expression;
}

/** An example's stated results, checked when it runs. */
export interface Claims {
  /** The example's code with each claim turned into a check, on the same lines. */
  readonly code: string;
  /** How many claims it checks. */
  readonly count: number;
}

/**
 * Turns the results an example states in a comment into checks: an expression statement followed,
 * on its line or the next, by `// <value>` must evaluate to that value (deep equality); a comment of
 * `===` comparisons must hold once the statement has run. Comments in prose are left alone.
 */
export function claimsOf(code: string): Claims {
  const sf = ts.createSourceFile('example.ts', code, ts.ScriptTarget.ES2022, true);
  const edits: Array<{ at: number; text: string }> = [];
  let count = 0;
  for (const statement of sf.statements) {
    const after = /^[ \t]*(?:\r?\n[ \t]*)?\/\/[ \t]*([^\n]*)/.exec(code.slice(statement.end));
    const stated = after?.[1]?.trim();
    const claim = stated ? commentExpression(stated) : undefined;
    if (stated === undefined || claim === undefined) continue;
    const label = JSON.stringify(stated);
    if (ts.isExpressionStatement(statement) && isValue(claim)) {
      const expression = statement.expression;
      edits.push({ at: expression.getStart(sf), text: 'exampleClaims.equal(' });
      edits.push({ at: expression.end, text: `, ${stated}, ${label})` });
      count += 1;
    } else if (isComparison(claim)) {
      edits.push({ at: statement.end, text: ` exampleClaims.hold([${stated}], ${label});` });
      count += 1;
    }
  }
  let out = code;
  for (const edit of edits.sort((a, b) => b.at - a.at))
    out = out.slice(0, edit.at) + edit.text + out.slice(edit.at);
  return { code: out, count };
}
