/**
 * The ports: every effect the engine has on the world, and every observation it decides from, goes through one of
 * these interfaces. One file per family; adapters/ implements them, the composition roots (cli/, operator/) wire
 * them in. Ports return what they observe; core/ decides.
 */
export type * from './analyze.js';
export type * from './chain.js';
export type * from './cluster.js';
export type * from './engine.js';
export type * from './node-access.js';
export type * from './prepare.js';
export type * from './runtime.js';
export * from './seed.js';
export type * from './ups.js';
