import { UsageTally } from './usage-tally';

describe('UsageTally', () => {
  it('returns the completion text in order across many events (flattened in blocks along the way)', () => {
    const tally = new UsageTally();
    const pieces = Array.from({ length: 1000 }, (_, i) => (i % 7 === 0 ? '' : `${i}é👋|`));
    for (const piece of pieces) tally.addText(piece);
    expect(tally.result().completionText).toBe(pieces.join(''));
  });

  it('reports the prompt tokens seen ahead of the usage only while the final usage is missing', () => {
    const tally = new UsageTally();
    tally.reportedPromptTokens = 12;
    tally.noteModel('gpt-4o-2024-11-20');
    tally.noteModel('later-model');
    expect(tally.result()).toEqual({ usage: null, completionText: '', complete: false, reportedPromptTokens: 12, responseModel: 'gpt-4o-2024-11-20' });
    tally.usage = { promptTokens: 12, completionTokens: 3 };
    expect(tally.result()).toEqual({ usage: { promptTokens: 12, completionTokens: 3 }, completionText: '', complete: false, responseModel: 'gpt-4o-2024-11-20' });
  });
});
