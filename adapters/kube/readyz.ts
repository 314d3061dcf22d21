import * as https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import type { ApiPort } from '../../core/ports/index.js';

/** ApiPort: GET /readyz with the kubeconfig's credentials and a short timeout. */
export class KubeReadyz implements ApiPort {
  constructor(
    private readonly kc: KubeConfig,
    private readonly timeoutMs = 3_000,
  ) {}

  async ping(signal?: AbortSignal): Promise<void> {
    const server = this.kc.getCurrentCluster()?.server;
    if (!server) throw new Error('the kubeconfig names no server');
    const options: https.RequestOptions = { method: 'GET', timeout: this.timeoutMs, ...(signal ? { signal } : {}) };
    await this.kc.applyToHTTPSOptions(options);
    await new Promise<void>((resolve, reject) => {
      const request = https.request(new URL('/readyz', server), options, (response) => {
        response.resume();
        if (response.statusCode === 200) resolve();
        else reject(new Error(`${server}/readyz answered ${response.statusCode}`));
      });
      request.on('timeout', () =>
        request.destroy(new Error(`${server}/readyz did not answer in ${this.timeoutMs} ms`)),
      );
      request.on('error', reject);
      request.end();
    });
  }
}
