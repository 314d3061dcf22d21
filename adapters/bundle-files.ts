/** BundleFilesPort on the local file system: the Harbor bundle and its manifest on the control host. */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import type { BundleFilesPort } from '../core/ports/prepare.js';
import { expandHome, type PathEnv } from './paths.js';

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

/** Paths may start with `~/` (expanded with `env.HOME`). Hashing streams, so bundles of any size are fine. */
export function localBundleFiles(env: PathEnv = process.env): BundleFilesPort {
  return {
    readText: async (path) => {
      try {
        return await readFile(expandHome(path, env), 'utf8');
      } catch (error) {
        if (isMissing(error)) return undefined;
        throw error;
      }
    },
    sha256: async (path) => {
      const hash = createHash('sha256');
      try {
        await pipeline(createReadStream(expandHome(path, env)), hash);
      } catch (error) {
        if (isMissing(error)) return undefined;
        throw error;
      }
      return hash.digest('hex');
    },
    size: async (path) => {
      try {
        const info = await stat(expandHome(path, env));
        return info.isFile() ? info.size : undefined;
      } catch (error) {
        if (isMissing(error)) return undefined;
        throw error;
      }
    },
  };
}
