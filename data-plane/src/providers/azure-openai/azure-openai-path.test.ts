import { azureDeployment } from './azure-openai-path';

describe('azureDeployment', () => {
  it.each([
    ['/openai/deployments/gpt-4o/chat/completions', 'gpt-4o'],
    ['/openai/deployments/gpt-4o%20prod/embeddings', 'gpt-4o prod'],
    ['/openai/deployments/bad%E0%A4%A/chat/completions', 'bad%E0%A4%A'],
    ['/openai/deployments/gpt-4o', 'gpt-4o'],
    ['/deployments/gpt-4/chat/completions', 'gpt-4'], // the service URL ends in /openai
    ['/openai/v1/chat/completions', null],
    ['/openai/deployments', null],
  ])('%s names %p', (path, deployment) => {
    expect(azureDeployment(path)).toBe(deployment);
  });
});
