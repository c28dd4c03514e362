// Where socklb's build artifacts and shipped files are, found from the package root so the
// same answer holds whether code runs compiled (dist/src/...) or from source under tests.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findPackageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`socklb cannot find its package.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

export const PACKAGE_ROOT = findPackageRoot();

/** Compiled BPF objects (npm run build:bpf). */
export const bpfObjectPath = (name: string): string => join(PACKAGE_ROOT, 'dist', 'bpf', `${name}.bpf.o`);

/** Compiled entry-point scripts the lab starts in pods (npm run build:ts). */
export const labScriptPath = (name: string): string => join(PACKAGE_ROOT, 'dist', 'src', 'lab', `${name}.js`);

/** Compiled load tools (src/bench/tools, npm run build:tools). */
export const benchToolPath = (name: string): string => join(PACKAGE_ROOT, 'dist', 'tools', name);

export const CLI_PATH = join(PACKAGE_ROOT, 'dist', 'src', 'cli', 'main.js');

/** The demo's services (deploy/examples/demo.yaml). */
export const DEMO_SERVICES_FILE = join(PACKAGE_ROOT, 'deploy', 'examples', 'demo.yaml');
