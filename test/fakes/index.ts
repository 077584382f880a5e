// Wire-exact fake provider upstreams for end-to-end tests (see recorder.ts for the shared behaviour).
export * from './recorder';
export * from './content-coding';
export * from './openai';
export * from './openai-responses';
export * from './azure-openai';
export * from './anthropic';
export * from './mistral';
export * from './bedrock';
export * from './sigv4';
export * from './mistral-sdk';
export * from './wire';
export * from './raw-http';
export * from './openai-realtime';
