export * from './eventually.js';
export * from './private-rabbit.js';
export * from './rabbit.js';
export * from './rabbitmqctl.js';
export * from './s3-proxy.js';
export * from './s3.js';
export * from './tcp-proxy.js';
export * from './ports.js';
