// Reads deploy/ as Docker, docker compose and Kubernetes would: the Dockerfile's final stage, compose
// with its variable interpolation and YAML merge keys, and every Kubernetes object. What each
// Tokengate container runs and sees is brought to one shape, DeployedContainer.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { REPO_ROOT } from './code-facts';

export const DEPLOY_DIR = join(REPO_ROOT, 'deploy');
export const KUBERNETES_DIR = join(DEPLOY_DIR, 'kubernetes');

export type Json = Record<string, unknown>;

export function record(value: unknown, where: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${where}: expected a mapping, got ${JSON.stringify(value)}`);
  return value as Json;
}

export function list(value: unknown, where: string): unknown[] {
  if (!Array.isArray(value)) throw new Error(`${where}: expected a list, got ${JSON.stringify(value)}`);
  return value;
}

export function text(value: unknown, where: string): string {
  if (typeof value !== 'string') throw new Error(`${where}: expected a string, got ${JSON.stringify(value)}`);
  return value;
}

export function strings(value: unknown, where: string): string[] {
  return list(value, where).map((item, i) => text(item, `${where}[${i}]`));
}

/** A scalar as the container would see it (YAML numbers and booleans become their text). */
export function scalar(value: unknown, where: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new Error(`${where}: expected a scalar, got ${JSON.stringify(value)}`);
}

// --- Dockerfile ---------------------------------------------------------------------------------

export interface DockerInstruction {
  readonly keyword: string;
  readonly argument: string;
}

export interface DockerStage {
  readonly base: string;
  readonly name: string | undefined;
  readonly instructions: DockerInstruction[];
}

export function readDockerfile(path = join(DEPLOY_DIR, 'Dockerfile')): DockerStage[] {
  const logical: string[] = [];
  let pending = '';
  for (const raw of readFileSync(path, 'utf8').split('\n')) {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.startsWith('#')) continue; // comment inside a continued instruction
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    logical.push(pending + line);
    pending = '';
  }
  if (pending !== '') logical.push(pending);

  const args = new Map<string, string>();
  const stages: DockerStage[] = [];
  for (const line of logical) {
    const match = /^(\S+)\s*(.*)$/.exec(line);
    if (!match) continue;
    const keyword = match[1].toUpperCase();
    const argument = match[2].trim();
    if (keyword === 'ARG' && stages.length === 0) {
      const [name, value = ''] = argument.split('=');
      args.set(name, value);
    } else if (keyword === 'FROM') {
      const from = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(argument);
      if (!from) throw new Error(`Dockerfile: cannot read "FROM ${argument}"`);
      stages.push({ base: from[1].replace(/\$\{(\w+)\}|\$(\w+)/g, (_m, a: string | undefined, b: string | undefined) => args.get(a ?? b ?? '') ?? ''), name: from[2], instructions: [] });
    } else {
      if (stages.length === 0) throw new Error(`Dockerfile: ${keyword} before the first FROM`);
      stages[stages.length - 1].instructions.push({ keyword, argument });
    }
  }
  return stages;
}

/** `ENV A=1 B=2` (and the legacy `ENV A 1`) of a stage, in order. */
export function stageEnvironment(stage: DockerStage): Map<string, string> {
  const env = new Map<string, string>();
  for (const { keyword, argument } of stage.instructions) {
    if (keyword !== 'ENV') continue;
    if (!argument.includes('=')) {
      const [name, ...value] = argument.split(/\s+/);
      env.set(name, value.join(' '));
      continue;
    }
    for (const pair of argument.match(/\S+="[^"]*"|\S+='[^']*'|\S+/g) ?? []) {
      const equals = pair.indexOf('=');
      env.set(pair.slice(0, equals), pair.slice(equals + 1).replace(/^(["'])(.*)\1$/, '$2'));
    }
  }
  return env;
}

/** The JSON (exec) form of ENTRYPOINT or CMD; the last one of the stage wins. */
export function execForm(stage: DockerStage, keyword: 'ENTRYPOINT' | 'CMD'): string[] {
  const found = stage.instructions.filter((i) => i.keyword === keyword).at(-1);
  if (!found) return [];
  return strings(JSON.parse(found.argument), `Dockerfile ${keyword}`);
}

export interface ImageDefaults {
  readonly entrypoint: string[];
  readonly cmd: string[];
  readonly env: Map<string, string>;
}

export function imageDefaults(stages: DockerStage[]): ImageDefaults {
  const runtime = stages[stages.length - 1];
  return { entrypoint: execForm(runtime, 'ENTRYPOINT'), cmd: execForm(runtime, 'CMD'), env: stageEnvironment(runtime) };
}

// --- env files and compose interpolation ----------------------------------------------------------

/** KEY=VALUE lines of an env file (comments and blank lines skipped). */
export function readEnvFile(path: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const raw of readFileSync(path, 'utf8').split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const equals = line.indexOf('=');
    if (equals <= 0) throw new Error(`${path}: "${line}" is not KEY=VALUE`);
    values.set(line.slice(0, equals), line.slice(equals + 1).replace(/^(["'])(.*)\1$/, '$2'));
  }
  return values;
}

export interface VariableReference {
  readonly name: string;
  /** `${X:-default}` / `${X-default}`. */
  readonly hasDefault: boolean;
  /** `${X:?message}` / `${X?message}`. */
  readonly required: boolean;
}

const INTERPOLATION = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])((?:[^{}]|\{[^{}]*\})*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g;

/** Compose's interpolation of one string; `missing` is told about required variables that are unset. */
export function interpolate(value: string, variables: ReadonlyMap<string, string>, references: VariableReference[] = []): string {
  return value.replace(INTERPOLATION, (whole, braced: string | undefined, colon: string | undefined, operator: string | undefined, operand: string | undefined, bare: string | undefined) => {
    if (whole === '$$') return '$';
    const name = braced ?? bare ?? '';
    references.push({ name, hasDefault: operator === '-', required: operator === '?' });
    const current = variables.get(name);
    const unset = current === undefined || (colon === ':' && current === '');
    if (operator === '-') return unset ? interpolate(operand ?? '', variables, references) : (current ?? '');
    if (operator === '?' && unset) throw new Error(`compose would refuse to start: ${name} is not set (${operand})`);
    return current ?? '';
  });
}

function interpolateTree(value: unknown, variables: ReadonlyMap<string, string>, references: VariableReference[]): unknown {
  if (typeof value === 'string') return interpolate(value, variables, references);
  if (Array.isArray(value)) return value.map((item) => interpolateTree(item, variables, references));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, interpolateTree(item, variables, references)]));
  }
  return value;
}

export interface ComposeProject {
  /** The file after YAML merge keys and interpolation. */
  readonly file: Json;
  readonly services: Map<string, Json>;
  /** Every `${…}` the file uses. */
  readonly references: VariableReference[];
}

export function readCompose(variables: ReadonlyMap<string, string>, path = join(DEPLOY_DIR, 'docker-compose.yml')): ComposeProject {
  const raw = record(parse(readFileSync(path, 'utf8'), { merge: true }), path);
  const references: VariableReference[] = [];
  const file = record(interpolateTree(raw, variables, references), path);
  const services = new Map(Object.entries(record(file.services, 'services')).map(([name, service]) => [name, record(service, `services.${name}`)]));
  return { file, services, references };
}

// --- Kubernetes -----------------------------------------------------------------------------------

export interface KubernetesObject {
  readonly file: string;
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace: string | undefined;
  readonly body: Json;
}

export function kubernetesManifestFiles(): string[] {
  return readdirSync(KUBERNETES_DIR)
    .filter((name) => /\.ya?ml$/.test(name) && name !== 'kustomization.yaml')
    .sort();
}

export function readKubernetesObjects(): KubernetesObject[] {
  const objects: KubernetesObject[] = [];
  for (const file of kubernetesManifestFiles()) {
    for (const [index, document] of parseAllDocuments(readFileSync(join(KUBERNETES_DIR, file), 'utf8')).entries()) {
      if (document.errors.length) throw new Error(`${file} document ${index}: ${document.errors.map((e) => e.message).join('; ')}`);
      const body = document.toJS() as unknown;
      if (body === null) continue;
      const where = `${file} document ${index}`;
      const object = record(body, where);
      const metadata = record(object.metadata, `${where} metadata`);
      objects.push({
        file,
        apiVersion: text(object.apiVersion, `${where} apiVersion`),
        kind: text(object.kind, `${where} kind`),
        name: text(metadata.name, `${where} metadata.name`),
        namespace: metadata.namespace === undefined ? undefined : text(metadata.namespace, `${where} metadata.namespace`),
        body: object,
      });
    }
  }
  return objects;
}

// --- one shape for what a container runs ----------------------------------------------------------

export interface ContainerPort {
  readonly name: string | undefined;
  readonly containerPort: number;
}

export interface DeployedContainer {
  /** e.g. `compose service proxy-a`, `Deployment tokengate-worker container worker`. */
  readonly where: string;
  readonly image: string;
  /** What runs: the override or the image's ENTRYPOINT, then the override or the image's CMD. */
  readonly argv: string[];
  /** Variables set by the deploy file (image defaults not included). */
  readonly env: Map<string, string>;
}

/** Docker and Kubernetes semantics: a new entrypoint drops the image's CMD unless a command is given. */
export function effectiveArgv(image: ImageDefaults, entrypoint: string[] | undefined, command: string[] | undefined): string[] {
  const start = entrypoint ?? image.entrypoint;
  const rest = command ?? (entrypoint === undefined ? image.cmd : []);
  return [...start, ...rest];
}
