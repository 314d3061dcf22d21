/** Small waiting and API-answer helpers shared by the bed's modules. */
import { ApiException } from '@kubernetes/client-node';
import type { Component } from './processes.js';

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `ready` every 100 ms until it holds; fails early, naming the component, when one of them exits. */
export async function waitUntil(
  what: string,
  deadline: number,
  components: readonly Component[],
  ready: () => Promise<boolean>,
): Promise<void> {
  for (;;) {
    const dead = components.find((c) => c.hasExited());
    if (dead) throw new Error(`${dead.name} exited (${await dead.exited}) while waiting for ${what}`);
    if (await ready()) return;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Whether a read succeeds; false on 404, other errors propagate. */
export async function exists(read: () => Promise<unknown>): Promise<boolean> {
  try {
    await read();
    return true;
  } catch (error) {
    if (error instanceof ApiException && error.code === 404) return false;
    throw error;
  }
}

/** Runs a create; an AlreadyExists (409) answer counts as success. */
export async function ignoreConflict(create: () => Promise<unknown>): Promise<void> {
  try {
    await create();
  } catch (error) {
    if (!(error instanceof ApiException) || error.code !== 409) throw error;
  }
}
