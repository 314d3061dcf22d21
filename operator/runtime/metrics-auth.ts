/**
 * Who may scrape /metrics, decided by the API server as controller-runtime's metrics filter
 * (`filters.WithAuthenticationAndAuthorization`) and kube-rbac-proxy decide it: the bearer token goes to a TokenReview,
 * the user it names to a SubjectAccessReview for `get` on the non-resource URL `/metrics`. Grant it with the
 * ClusterRole hecate-metrics-reader (manifests/metrics-auth-rbac.yaml).
 *
 * Answers are cached by the token's SHA-256 (never the token itself): an authenticated token 1 min, a refused one
 * 10 s; an allowed user 5 min, a denied one 30 s (controller-runtime's and the apiserver's delegated defaults). A
 * review that cannot be asked (the API is down) answers 503 and is not cached.
 */
import { createHash } from 'node:crypto';
import { AuthenticationV1Api, AuthorizationV1Api, type KubeConfig } from '@kubernetes/client-node';

export type AccessDecision =
  | { allowed: true; user: string }
  | { allowed: false; status: 401 | 403 | 503; reason: string; user?: string };

/** The check in front of /metrics. `authorization` is the request's Authorization header. */
export interface MetricsAccess {
  check(authorization: string | undefined): Promise<AccessDecision>;
}

export interface ReviewedUser {
  username: string;
  uid?: string | undefined;
  groups?: string[] | undefined;
  extra?: Record<string, string[]> | undefined;
}

/** The two reviews, as the API server answers them. Throwing means the review could not be asked. */
export interface ReviewPort {
  authenticate(token: string): Promise<{ user: ReviewedUser } | { error: string }>;
  authorize(
    user: ReviewedUser,
    attributes: { path: string; verb: string },
  ): Promise<{ allowed: boolean; reason: string }>;
}

export interface AuthorizerOptions {
  /** Milliseconds since some origin; default Date.now. */
  now?: () => number;
  /** Most cache entries of each kind (default 1000); the oldest goes first. */
  maxEntries?: number;
}

const TTL = { authenticated: 60_000, unauthenticated: 10_000, allowed: 300_000, denied: 30_000 } as const;
const ATTRIBUTES = { path: '/metrics', verb: 'get' } as const;

export class MetricsAuthorizer implements MetricsAccess {
  private readonly users = new Expiring<{ user: ReviewedUser } | { error: string }>();
  private readonly verdicts = new Expiring<{ allowed: boolean; reason: string }>();
  private readonly now: () => number;
  private readonly max: number;

  constructor(
    private readonly reviews: ReviewPort,
    options: AuthorizerOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.max = options.maxEntries ?? 1_000;
  }

  async check(authorization: string | undefined): Promise<AccessDecision> {
    const token = bearerToken(authorization);
    if (!token) return { allowed: false, status: 401, reason: 'no bearer token' };
    const key = createHash('sha256').update(token).digest('hex');
    let identity = this.users.get(key, this.now());
    if (!identity) {
      try {
        identity = await this.reviews.authenticate(token);
      } catch (error) {
        return { allowed: false, status: 503, reason: `the TokenReview failed: ${messageOf(error)}` };
      }
      const ttl = 'user' in identity ? TTL.authenticated : TTL.unauthenticated;
      this.users.set(key, identity, this.now() + ttl, this.max);
    }
    if (!('user' in identity)) return { allowed: false, status: 401, reason: identity.error };
    const user = identity.user;
    const userKey = JSON.stringify([user.username, user.uid, user.groups, user.extra]);
    let verdict = this.verdicts.get(userKey, this.now());
    if (!verdict) {
      try {
        verdict = await this.reviews.authorize(user, ATTRIBUTES);
      } catch (error) {
        const reason = `the SubjectAccessReview failed: ${messageOf(error)}`;
        return { allowed: false, status: 503, reason, user: user.username };
      }
      this.verdicts.set(userKey, verdict, this.now() + (verdict.allowed ? TTL.allowed : TTL.denied), this.max);
    }
    if (verdict.allowed) return { allowed: true, user: user.username };
    const reason = `${user.username} may not get /metrics${verdict.reason ? `: ${verdict.reason}` : ''}`;
    return { allowed: false, status: 403, reason, user: user.username };
  }
}

/** `Bearer <token>` (the scheme in any case); undefined for anything else. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}

/** The reviews on the API server, as the operator's ServiceAccount (it needs `create` on both kinds). */
export function kubeReviews(kc: KubeConfig): ReviewPort {
  const authn = kc.makeApiClient(AuthenticationV1Api);
  const authz = kc.makeApiClient(AuthorizationV1Api);
  return {
    authenticate: async (token) => {
      const review = await authn.createTokenReview({ body: { spec: { token } } });
      const status = review.status;
      if (!status?.authenticated || !status.user?.username) {
        return { error: status?.error ? `the token was refused: ${status.error}` : 'the token was refused' };
      }
      const { username, uid, groups, extra } = status.user;
      return { user: { username, uid, groups, extra } };
    },
    authorize: async (user, attributes) => {
      const review = await authz.createSubjectAccessReview({
        body: {
          spec: {
            user: user.username,
            uid: user.uid,
            groups: user.groups,
            extra: user.extra,
            nonResourceAttributes: attributes,
          },
        },
      });
      return { allowed: review.status?.allowed === true, reason: review.status?.reason ?? '' };
    },
  };
}

function messageOf(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'number' ? `HTTP ${code}` : error instanceof Error ? error.message : String(error);
}

/** A small map whose entries expire; insertion order doubles as age for eviction. */
class Expiring<T> {
  private readonly entries = new Map<string, { value: T; until: number }>();

  get(key: string, now: number): T | undefined {
    const entry = this.entries.get(key);
    if (entry && entry.until > now) return entry.value;
    if (entry) this.entries.delete(key);
    return undefined;
  }

  set(key: string, value: T, until: number, max: number): void {
    this.entries.delete(key);
    this.entries.set(key, { value, until });
    while (this.entries.size > max) this.entries.delete(this.entries.keys().next().value as string);
  }
}
