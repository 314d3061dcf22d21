/** What `hecate analyze --kubeconfig` reads from a live cluster, beside the repo (core/ports/prepare.ts has the reader). */

/** A node of the live cluster, as `--kubeconfig` reads it. */
export interface DraftNode {
  name: string;
  role: 'control-plane' | 'worker';
  arch?: 'amd64' | 'arm64';
}

/** The nodes to draft from, and where they were read (for the review list). */
export interface DraftNodes {
  nodes: DraftNode[];
  from: string;
}
