// What the deploy files must agree with, read from the TypeScript sources rather than restated here:
// a renamed command, flag, variable or endpoint makes the deploy tests fail.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';
import * as ts from 'typescript';

export const REPO_ROOT = join(__dirname, '../..');

function sourceFile(path: string): ts.SourceFile {
  return ts.createSourceFile(path, readFileSync(join(REPO_ROOT, path), 'utf8'), ts.ScriptTarget.ES2022, true);
}

function visit(node: ts.Node, callback: (node: ts.Node) => void): void {
  callback(node);
  ts.forEachChild(node, (child) => visit(child, callback));
}

/** Non-test TypeScript files under `dir` (relative to the repository root), test helpers excluded. */
function productionSources(dir: string): string[] {
  const files: string[] = [];
  const walk = (absolute: string): void => {
    for (const entry of readdirSync(absolute, { withFileTypes: true })) {
      const path = join(absolute, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== 'testing') walk(path);
      } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) {
        files.push(relative(REPO_ROOT, path));
      }
    }
  };
  walk(join(REPO_ROOT, dir));
  return files;
}

/** The commands `tokengate <command>` dispatches: the string cases of the switch on the first positional argument in cli/main.ts. */
export function cliCommands(): Set<string> {
  const commands = new Set<string>();
  visit(sourceFile('cli/main.ts'), (node) => {
    if (!ts.isSwitchStatement(node) || node.expression.getText() !== 'command') return;
    for (const clause of node.caseBlock.clauses) {
      if (ts.isCaseClause(clause) && ts.isStringLiteral(clause.expression)) commands.add(clause.expression.text);
    }
  });
  return commands;
}

const VARIABLE_NAME = /^[A-Z][A-Z0-9_]*$/;

function isEnvironmentObject(node: ts.Expression): boolean {
  if (ts.isIdentifier(node)) return node.text === 'env';
  return ts.isPropertyAccessExpression(node) && node.name.text === 'env' && ts.isIdentifier(node.expression) && node.expression.text === 'process';
}

/**
 * Environment variables the code under `dirs` reads: `env.X`, `process.env.X`, `env['X']`, a call
 * given both the environment and the literal name (`intVar(env, 'X', …)`), and the values of a
 * flag → variable table (`FLAG_VARIABLES`, `CONTROL_PLANE_FLAGS`), which the CLIs look up by flag.
 */
export function environmentVariablesRead(dirs: readonly string[]): Set<string> {
  const names = new Set<string>();
  for (const file of dirs.flatMap(productionSources)) {
    visit(sourceFile(file), (node) => {
      if (ts.isPropertyAccessExpression(node) && isEnvironmentObject(node.expression) && VARIABLE_NAME.test(node.name.text)) {
        names.add(node.name.text);
      } else if (ts.isElementAccessExpression(node) && isEnvironmentObject(node.expression) && ts.isStringLiteral(node.argumentExpression)) {
        names.add(node.argumentExpression.text);
      } else if (ts.isCallExpression(node) && node.arguments.some(isEnvironmentObject)) {
        for (const argument of node.arguments) {
          if (ts.isStringLiteral(argument) && VARIABLE_NAME.test(argument.text)) names.add(argument.text);
        }
      } else if (ts.isVariableDeclaration(node) && /FLAG/.test(node.name.getText()) && node.initializer && ts.isObjectLiteralExpression(node.initializer)) {
        for (const property of node.initializer.properties) {
          if (ts.isPropertyAssignment(property) && ts.isStringLiteral(property.initializer)) names.add(property.initializer.text);
        }
      }
    });
  }
  return names;
}

/** `--flag` → variable of `tokengate data-plane` (FLAG_VARIABLES in data-plane/src/cli-options.ts). */
export function dataPlaneFlags(): Map<string, string> {
  const flags = new Map<string, string>();
  visit(sourceFile('data-plane/src/cli-options.ts'), (node) => {
    if (!ts.isVariableDeclaration(node) || node.name.getText() !== 'FLAG_VARIABLES' || !node.initializer || !ts.isObjectLiteralExpression(node.initializer)) return;
    for (const property of node.initializer.properties) {
      if (ts.isPropertyAssignment(property) && ts.isStringLiteral(property.initializer)) {
        const name = ts.isStringLiteral(property.name) || ts.isIdentifier(property.name) ? property.name.text : property.name.getText();
        flags.set(name, property.initializer.text);
      }
    }
  });
  return flags;
}

/** Every string literal of a source file (e.g. the paths an HTTP server routes). */
export function stringLiterals(path: string): Set<string> {
  const literals = new Set<string>();
  visit(sourceFile(path), (node) => {
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) literals.add(node.text);
  });
  return literals;
}

/** Which variables each kind of process reads. */
export interface VariablesByRole {
  /** control-plane, worker, migrate (one configuration, control-plane/src/config.ts, plus the CLI). */
  readonly controlPlane: Set<string>;
  /** data-plane (data-plane/src/cli-options.ts and the rest of the data plane). */
  readonly dataPlane: Set<string>;
}

export function variablesByRole(): VariablesByRole {
  return {
    controlPlane: environmentVariablesRead(['control-plane/src', 'cli']),
    dataPlane: environmentVariablesRead(['data-plane/src']),
  };
}

function isTypeOnlyImport(node: ts.ImportDeclaration): boolean {
  const clause = node.importClause;
  if (!clause) return false; // `import 'x'` runs x
  if (clause.isTypeOnly) return true;
  if (clause.name) return false;
  const bindings = clause.namedBindings;
  return bindings !== undefined && ts.isNamedImports(bindings) && bindings.elements.length > 0 && bindings.elements.every((e) => e.isTypeOnly);
}

function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/**
 * npm packages loaded when the compiled `entry` runs: follows the value imports, `require()` and
 * `import()` of every module reached from it (type-only imports vanish in the build), and worker
 * scripts named as `<name>.js` next to a `<name>.ts`. Returns package → the first module loading it.
 */
export function packagesLoadedAtRunTime(entry: string): Map<string, string> {
  const builtins = new Set(builtinModules);
  const packages = new Map<string, string>();
  const seen = new Set<string>();
  const queue = [entry];
  const resolveLocal = (from: string, specifier: string): string | undefined => {
    const base = join(REPO_ROOT, from, '..', specifier);
    for (const candidate of [`${base}.ts`, join(base, 'index.ts'), base.replace(/\.js$/, '.ts')]) {
      if (candidate.endsWith('.ts') && existsSync(candidate)) return relative(REPO_ROOT, candidate);
    }
    return undefined; // .json and other data files load no package
  };
  while (queue.length) {
    const file = queue.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    const use = (specifier: string): void => {
      if (specifier.startsWith('.')) {
        const local = resolveLocal(file, specifier);
        if (local) queue.push(local);
      } else if (!specifier.startsWith('node:') && !builtins.has(packageName(specifier))) {
        if (!packages.has(packageName(specifier))) packages.set(packageName(specifier), file);
      }
    };
    visit(sourceFile(file), (node) => {
      if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier) && !isTypeOnlyImport(node)) use(node.moduleSpecifier.text);
      else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier) && !node.isTypeOnly) use(node.moduleSpecifier.text);
      else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference) && ts.isStringLiteral(node.moduleReference.expression)) use(node.moduleReference.expression.text);
      else if (
        ts.isCallExpression(node) &&
        (node.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(node.expression) && node.expression.text === 'require')) &&
        node.arguments.length === 1 &&
        ts.isStringLiteral(node.arguments[0])
      ) {
        use(node.arguments[0].text);
      } else if (ts.isStringLiteral(node) && /^[\w.-]+\.js$/.test(node.text) && existsSync(join(REPO_ROOT, file, '..', node.text.replace(/\.js$/, '.ts')))) {
        use(`./${node.text}`);
      }
    });
  }
  return packages;
}
