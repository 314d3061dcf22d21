export * from './images.js';
export * from './progress.js';
export * from './verify.js';
