import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

// The Kubernetes manifests under deploy/, read and rendered the way `kubectl apply -k` would for
// what the kustomizations use (resources, strategic-merge patches, images, namespace), and the
// environment a container would get from them. No cluster or kustomize binary is needed.

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const DEPLOY = 'deploy';

export const read = (relative: string): string => readFileSync(path.join(ROOT, relative), 'utf8');

export type Labels = Readonly<Record<string, string>>;

export interface Manifest {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly labels?: Labels;
  };
  readonly [field: string]: unknown;
}

export interface Kustomization {
  readonly namespace?: string;
  readonly resources?: readonly string[];
  readonly patches?: readonly { readonly path?: string }[];
  readonly images?: readonly {
    readonly name: string;
    readonly newName?: string;
    readonly newTag?: string;
  }[];
  readonly [field: string]: unknown;
}

/** Every YAML file under `relative`, as repository paths. */
export function yamlFiles(relative: string): string[] {
  return readdirSync(path.join(ROOT, relative)).flatMap((entry) => {
    const child = path.posix.join(relative, entry);
    if (statSync(path.join(ROOT, child)).isDirectory()) return yamlFiles(child);
    return /\.ya?ml$/.test(entry) ? [child] : [];
  });
}

export function documents(file: string): unknown[] {
  return parseAllDocuments(read(file)).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]?.message ?? ''}`);
    return doc.toJS() as unknown;
  });
}

export function kustomization(dir: string): Kustomization {
  return documents(`${dir}/kustomization.yaml`)[0] as Kustomization;
}

/** The manifests a kustomization lists from its own files and the bases it includes, unpatched. */
export function manifests(dir: string): Manifest[] {
  return (kustomization(dir).resources ?? []).flatMap((resource) => {
    const target = path.posix.normalize(path.posix.join(dir, resource));
    if (existsSync(path.join(ROOT, target, 'kustomization.yaml'))) return manifests(target);
    return documents(target).filter((doc) => doc !== null) as Manifest[];
  });
}

/** The documents of a kustomization's patch files. */
export function patchDocuments(dir: string): Manifest[] {
  return (kustomization(dir).patches ?? []).flatMap((p) =>
    documents(`${dir}/${p.path ?? ''}`),
  ) as Manifest[];
}

/**
 * What `kubectl kustomize <dir>` renders, for the features deploy/ uses: bases rendered first,
 * then this directory's patches (strategic merge: maps merge, lists of named items merge by
 * `name`, other lists are replaced), image overrides and the namespace.
 */
export function render(dir: string): Manifest[] {
  const k = kustomization(dir);
  let objects = (k.resources ?? []).flatMap((resource) => {
    const target = path.posix.normalize(path.posix.join(dir, resource));
    if (existsSync(path.join(ROOT, target, 'kustomization.yaml'))) return render(target);
    return documents(target).filter((doc) => doc !== null) as Manifest[];
  });
  for (const patch of patchDocuments(dir)) {
    const index = objects.findIndex(
      (m) => m.kind === patch.kind && m.metadata.name === patch.metadata.name,
    );
    if (index < 0)
      throw new Error(`${dir}: patch of a missing ${patch.kind}/${patch.metadata.name}`);
    objects = objects.map((m, i) => (i === index ? (merge(m, patch) as Manifest) : m));
  }
  return objects.map((m) => {
    const withImages = retag(m, k.images ?? []) as Manifest;
    if (k.namespace === undefined || m.kind === 'Namespace') return withImages;
    return { ...withImages, metadata: { ...withImages.metadata, namespace: k.namespace } };
  });
}

function merge(base: unknown, patch: unknown): unknown {
  if (Array.isArray(base) && Array.isArray(patch)) {
    const named = (items: unknown[]) =>
      items.every((item) => typeof (item as { name?: unknown } | null)?.name === 'string');
    if (!named(base) || !named(patch)) return patch;
    const result: { name: string }[] = (base as { name: string }[]).slice();
    for (const item of patch as { name: string }[]) {
      const at = result.findIndex((existing) => existing.name === item.name);
      if (at < 0) result.push(item);
      else result[at] = merge(result[at], item) as { name: string };
    }
    return result;
  }
  if (isMap(base) && isMap(patch)) {
    const result: Record<string, unknown> = { ...base };
    for (const [key, value] of Object.entries(patch)) result[key] = merge(base[key], value);
    return result;
  }
  return patch;
}

function isMap(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function retag(value: unknown, images: Kustomization['images'] & object): unknown {
  if (Array.isArray(value)) return value.map((item) => retag(item, images));
  if (!isMap(value)) return value;
  const result: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    if (key === 'image' && typeof inner === 'string') {
      const [name = '', tag] = inner.split(':');
      const override = images.find((image) => image.name === name);
      result[key] =
        override === undefined
          ? inner
          : `${override.newName ?? name}:${override.newTag ?? tag ?? 'latest'}`;
    } else {
      result[key] = retag(inner, images);
    }
  }
  return result;
}

// --- the workload model ---------------------------------------------------------------------

export interface KeyRef {
  readonly name: string;
  readonly key: string;
}

export interface EnvVar {
  readonly name: string;
  readonly value?: string;
  readonly valueFrom?: { readonly secretKeyRef?: KeyRef; readonly configMapKeyRef?: KeyRef };
}

export interface Probe {
  readonly httpGet?: { readonly path: string; readonly port: string | number };
}

export interface Container {
  readonly name: string;
  readonly image: string;
  readonly args?: readonly string[];
  readonly env?: readonly EnvVar[];
  readonly envFrom?: readonly {
    readonly prefix?: string;
    readonly configMapRef?: { readonly name: string };
    readonly secretRef?: { readonly name: string };
  }[];
  readonly ports?: readonly { readonly name?: string; readonly containerPort: number }[];
  readonly readinessProbe?: Probe;
  readonly livenessProbe?: Probe;
  readonly lifecycle?: {
    readonly preStop?: {
      readonly exec?: { readonly command: readonly string[] };
      readonly sleep?: { readonly seconds: number };
    };
  };
  readonly resources?: {
    readonly requests?: Readonly<Record<string, string>>;
    readonly limits?: Readonly<Record<string, string>>;
  };
  readonly securityContext?: {
    readonly allowPrivilegeEscalation?: boolean;
    readonly readOnlyRootFilesystem?: boolean;
    readonly runAsNonRoot?: boolean;
    readonly runAsUser?: number;
    readonly capabilities?: { readonly drop?: readonly string[] };
  };
}

export interface PodSpec {
  readonly terminationGracePeriodSeconds?: number;
  readonly enableServiceLinks?: boolean;
  readonly securityContext?: { readonly runAsNonRoot?: boolean; readonly runAsUser?: number };
  readonly containers: readonly Container[];
}

export interface Deployment extends Manifest {
  readonly spec: {
    readonly replicas?: number;
    readonly selector: { readonly matchLabels: Labels };
    readonly template: {
      readonly metadata: { readonly labels: Labels; readonly annotations?: Labels };
      readonly spec: PodSpec;
    };
  };
}

export interface ConfigMap extends Manifest {
  readonly data?: Readonly<Record<string, string>>;
}

export interface Secret extends Manifest {
  readonly data?: Readonly<Record<string, string>>;
  readonly stringData?: Readonly<Record<string, string>>;
}

export function secretValues(secret: Secret): Record<string, string> {
  const decoded = Object.entries(secret.data ?? {}).map(
    ([key, value]) => [key, Buffer.from(value, 'base64').toString('utf8')] as const,
  );
  return { ...Object.fromEntries(decoded), ...secret.stringData };
}

export function findIn<T extends Manifest = Manifest>(
  objects: readonly Manifest[],
  kind: string,
  name: string,
): T {
  const found = objects.find((m) => m.kind === kind && m.metadata.name === name);
  if (found === undefined) throw new Error(`no ${kind} ${name}`);
  return found as T;
}

/** Where each variable of a container comes from, in Kubernetes' order (env beats envFrom). */
export interface Variable {
  readonly value: string;
  readonly from: 'configMap' | 'secret' | 'literal';
}

/**
 * The variables a container gets, as the kubelet builds them: envFrom first, then env in order,
 * a literal's `$(NAME)` expanded from what is defined before it (`$$` escapes a dollar).
 */
export function containerVariables(
  container: Container,
  objects: readonly Manifest[],
): Map<string, Variable> {
  const variables = new Map<string, Variable>();
  for (const source of container.envFrom ?? []) {
    const [values, from] =
      source.configMapRef !== undefined
        ? [
            findIn<ConfigMap>(objects, 'ConfigMap', source.configMapRef.name).data ?? {},
            'configMap' as const,
          ]
        : [
            secretValues(findIn<Secret>(objects, 'Secret', source.secretRef?.name ?? '')),
            'secret' as const,
          ];
    for (const [key, value] of Object.entries(values)) {
      variables.set(`${source.prefix ?? ''}${key}`, { value, from });
    }
  }
  for (const variable of container.env ?? []) {
    const secretRef = variable.valueFrom?.secretKeyRef;
    const configRef = variable.valueFrom?.configMapKeyRef;
    if (secretRef !== undefined) {
      const value = secretValues(findIn<Secret>(objects, 'Secret', secretRef.name))[secretRef.key];
      if (value === undefined) throw new Error(`${variable.name}: no key ${secretRef.key}`);
      variables.set(variable.name, { value, from: 'secret' });
    } else if (configRef !== undefined) {
      const value = findIn<ConfigMap>(objects, 'ConfigMap', configRef.name).data?.[configRef.key];
      if (value === undefined) throw new Error(`${variable.name}: no key ${configRef.key}`);
      variables.set(variable.name, { value, from: 'configMap' });
    } else {
      const value = (variable.value ?? '').replace(
        /\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g,
        (match, name?: string) =>
          name === undefined ? '$' : (variables.get(name)?.value ?? match),
      );
      variables.set(variable.name, { value, from: 'literal' });
    }
  }
  return variables;
}

export function containerEnv(
  container: Container,
  objects: readonly Manifest[],
): Record<string, string> {
  return Object.fromEntries(
    [...containerVariables(container, objects)].map(([name, { value }]) => [name, value]),
  );
}

/** The one Deployment of `objects` whose container runs `s3relay <command>`. */
export function workloadIn(
  objects: readonly Manifest[],
  command: string,
): { deployment: Deployment; container: Container } {
  const matches = objects
    .filter((m): m is Deployment => m.kind === 'Deployment')
    .flatMap((deployment) =>
      deployment.spec.template.spec.containers
        .filter((c) => c.args?.[0] === command)
        .map((container) => ({ deployment, container })),
    );
  if (matches.length !== 1) throw new Error(`${matches.length} Deployments run ${command}`);
  return matches[0] as { deployment: Deployment; container: Container };
}
