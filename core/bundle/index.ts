export * from './images.js';
export * from './manifest.js';
export * from './platform.js';
export * from './progress.js';
export * from './verify.js';
