import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import {
  imageHelperState,
  normalizeImageRef,
  powerOffHelperState,
} from '../../../adapters/node-access/helper-pod-status.js';

const pod = (phase: string, state: object | undefined, extra: object = {}): V1Pod =>
  ({
    status: { phase, ...(state ? { containerStatuses: [{ name: 'helper', state }] } : {}), ...extra },
  }) as V1Pod;

describe('powerOffHelperState', () => {
  it.each([
    ['Pending', undefined, {}, 'pending'],
    ['Pending', { waiting: { reason: 'ContainerCreating' } }, {}, 'pending'],
    ['Running', { running: {} }, {}, 'running'],
    ['Succeeded', { terminated: { exitCode: 0 } }, {}, 'done'],
    ['Failed', { terminated: { exitCode: 143 } }, {}, 'done'],
    ['Failed', { terminated: { exitCode: 137 } }, {}, 'done'],
    ['Failed', { terminated: { exitCode: 1, reason: 'Error' } }, {}, 'failed'],
    ['Pending', { waiting: { reason: 'ImagePullBackOff', message: 'no route' } }, {}, 'failed'],
    ['Failed', undefined, { reason: 'DeadlineExceeded' }, 'failed'],
  ])('given phase %s and container %j, then %s', (phase, state, extra, kind) => {
    expect(powerOffHelperState(pod(phase, state, extra)).kind).toBe(kind);
  });

  it('names the exit code and the reason of a failed helper', () => {
    const state = powerOffHelperState(
      pod('Failed', { terminated: { exitCode: 1, reason: 'Error', message: 'nsenter: Operation not permitted' } }),
    );
    expect(state).toEqual({ kind: 'failed', message: 'exit code 1 (Error: nsenter: Operation not permitted)' });
  });
});

describe('imageHelperState', () => {
  it.each([
    ['Running', { running: {} }, 'done'],
    ['Succeeded', { terminated: { exitCode: 0 } }, 'done'],
    ['Failed', { terminated: { exitCode: 128, reason: 'StartError' } }, 'done'],
    ['Pending', { waiting: { reason: 'ErrImagePull' } }, 'failed'],
    ['Pending', { waiting: { reason: 'ContainerCreating' } }, 'pending'],
  ])('given phase %s and container %j, then %s', (phase, state, kind) => {
    expect(imageHelperState(pod(phase, state)).kind).toBe(kind);
  });
});

describe('normalizeImageRef', () => {
  it.each([
    ['busybox:1.37', 'docker.io/library/busybox:1.37'],
    ['busybox', 'docker.io/library/busybox:latest'],
    ['ghcr.io/bstein/hecate-helper:0.1', 'ghcr.io/bstein/hecate-helper:0.1'],
    ['bstein/helper:1', 'docker.io/bstein/helper:1'],
    ['localhost:5000/x', 'localhost:5000/x:latest'],
    ['busybox@sha256:abc', 'docker.io/library/busybox@sha256:abc'],
  ])('%s → %s', (image, full) => {
    expect(normalizeImageRef(image)).toBe(full);
  });
});
