// Editing a token budget (service rate limit, default connection quota or a connection's own quota).
import { Checkbox } from 'react-aria-components';
import { Field } from './controls';

export interface RateLimitDraft { enabled: boolean; timeUnit: 'MINUTE' | 'HOUR' | 'DAY'; maxPromptTokens: string; maxCompletionTokens: string; maxTotalTokens: string; enforce: boolean }

interface RateLimitLike { timeUnit: 'MINUTE' | 'HOUR' | 'DAY'; maxPromptTokens?: number | null; maxCompletionTokens?: number | null; maxTotalTokens?: number | null; enforce?: boolean }

export function draftOf(limit: RateLimitLike | null | undefined): RateLimitDraft {
  return {
    enabled: Boolean(limit),
    timeUnit: limit?.timeUnit ?? 'HOUR',
    maxPromptTokens: limit?.maxPromptTokens?.toString() ?? '',
    maxCompletionTokens: limit?.maxCompletionTokens?.toString() ?? '',
    maxTotalTokens: limit?.maxTotalTokens?.toString() ?? '',
    enforce: limit?.enforce ?? true,
  };
}

function parseMax(text: string): number | null {
  const t = text.replace(/[,_\s]/g, '');
  return t ? Number(t) : null;
}

/** The GraphQL input, or null when the budget is switched off. */
export function inputOf(draft: RateLimitDraft) {
  if (!draft.enabled) return null;
  return {
    timeUnit: draft.timeUnit,
    maxPromptTokens: parseMax(draft.maxPromptTokens),
    maxCompletionTokens: parseMax(draft.maxCompletionTokens),
    maxTotalTokens: parseMax(draft.maxTotalTokens),
    enforce: draft.enforce,
  };
}

/** A message per field that is not a positive whole number (empty is fine: unlimited). */
export function draftProblems(draft: RateLimitDraft): Partial<Record<'maxPromptTokens' | 'maxCompletionTokens' | 'maxTotalTokens', string>> {
  const problems: Partial<Record<'maxPromptTokens' | 'maxCompletionTokens' | 'maxTotalTokens', string>> = {};
  if (!draft.enabled) return problems;
  for (const key of ['maxPromptTokens', 'maxCompletionTokens', 'maxTotalTokens'] as const) {
    const value = parseMax(draft[key]);
    if (value !== null && (!Number.isSafeInteger(value) || value < 1)) problems[key] = 'Enter a positive whole number, or leave empty for unlimited.';
  }
  return problems;
}

export function RateLimitFields({ legend, idPrefix, draft, onChange, serverError, enableLabel }: {
  legend: string; idPrefix: string; draft: RateLimitDraft; onChange(draft: RateLimitDraft): void; serverError?: { field: string; message: string } | null; enableLabel: string;
}) {
  const problems = draftProblems(draft);
  const set = (patch: Partial<RateLimitDraft>) => onChange({ ...draft, ...patch });
  const errorOf = (key: 'maxPromptTokens' | 'maxCompletionTokens' | 'maxTotalTokens') => problems[key] ?? (serverError?.field === key ? serverError.message : null);
  return (
    <fieldset className="budget" data-budget={idPrefix}>
      <legend>{legend}</legend>
      <Checkbox className="checkbox" isSelected={draft.enabled} onChange={(enabled) => set({ enabled })}>
        <span className="box" aria-hidden="true" />{enableLabel}
      </Checkbox>
      {draft.enabled ? (
        <div className="grid">
          <label className="field">
            <span>Window</span>
            <select id={`${idPrefix}-unit`} value={draft.timeUnit} onChange={(e) => set({ timeUnit: e.target.value as RateLimitDraft['timeUnit'] })}>
              <option value="MINUTE">Per minute</option><option value="HOUR">Per hour</option><option value="DAY">Per day</option>
            </select>
          </label>
          <Field label="Max total tokens" name={`${idPrefix}-total`} type="number" value={draft.maxTotalTokens} onChange={(v) => set({ maxTotalTokens: v })} error={errorOf('maxTotalTokens')} placeholder="unlimited" />
          <Field label="Max prompt tokens" name={`${idPrefix}-prompt`} type="number" value={draft.maxPromptTokens} onChange={(v) => set({ maxPromptTokens: v })} error={errorOf('maxPromptTokens')} placeholder="unlimited" />
          <Field label="Max completion tokens" name={`${idPrefix}-completion`} type="number" value={draft.maxCompletionTokens} onChange={(v) => set({ maxCompletionTokens: v })} error={errorOf('maxCompletionTokens')} placeholder="unlimited" />
          <Checkbox className="checkbox" isSelected={!draft.enforce} onChange={(shadow) => set({ enforce: !shadow })}>
            <span className="box" aria-hidden="true" />Shadow mode: count, never refuse
          </Checkbox>
        </div>
      ) : null}
    </fieldset>
  );
}

export function hasProblems(draft: RateLimitDraft): boolean {
  return Object.keys(draftProblems(draft)).length > 0;
}
