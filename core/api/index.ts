export * from './conditions.js';
export * from './meta.js';
export * from './plan.js';
export * from './powerevent.js';
export * from './powerplan.js';
export * from './progress.js';
export * from './validate.js';
