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

/** Whether a budget switched on must set a maximum: a service budget or default quota without one limits nothing. */
export interface BudgetRules {
  /** The service budget and the default connection quota: yes. A connection's own quota: no (empty exempts the connection). */
  requireMaximum?: boolean;
}

export const MISSING_MAXIMUM = 'Enter at least one maximum (total, prompt or completion tokens), or switch this budget off.';

/** A message per field that is not a positive whole number (empty is fine: unlimited), and a missing maximum where one is required. */
export function draftProblems(draft: RateLimitDraft, rules: BudgetRules = {}): Partial<Record<'maxPromptTokens' | 'maxCompletionTokens' | 'maxTotalTokens', string>> {
  const problems: Partial<Record<'maxPromptTokens' | 'maxCompletionTokens' | 'maxTotalTokens', string>> = {};
  if (!draft.enabled) return problems;
  const keys = ['maxPromptTokens', 'maxCompletionTokens', 'maxTotalTokens'] as const;
  for (const key of keys) {
    const value = parseMax(draft[key]);
    if (value !== null && (!Number.isSafeInteger(value) || value < 1)) problems[key] = rules.requireMaximum ? 'Enter a positive whole number.' : 'Enter a positive whole number, or leave empty for unlimited.';
  }
  if (rules.requireMaximum && keys.every((key) => parseMax(draft[key]) === null)) problems.maxTotalTokens = MISSING_MAXIMUM;
  return problems;
}

export function RateLimitFields({ legend, idPrefix, draft, onChange, serverError, enableLabel, requireMaximum, showMissing }: {
  legend: string; idPrefix: string; draft: RateLimitDraft; onChange(draft: RateLimitDraft): void; serverError?: { field: string; message: string } | null; enableLabel: string;
  /** A maximum is required (see BudgetRules); the message shows once the user tried to go on (showMissing), not as soon as the box is ticked. */
  requireMaximum?: boolean; showMissing?: boolean;
}) {
  const problems = draftProblems(draft, { requireMaximum });
  if (problems.maxTotalTokens === MISSING_MAXIMUM && !showMissing) delete problems.maxTotalTokens;
  const placeholder = requireMaximum ? 'no maximum' : 'unlimited';
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
          <Field label="Max total tokens" name={`${idPrefix}-total`} type="number" value={draft.maxTotalTokens} onChange={(v) => set({ maxTotalTokens: v })} error={errorOf('maxTotalTokens')} placeholder={placeholder} />
          <Field label="Max prompt tokens" name={`${idPrefix}-prompt`} type="number" value={draft.maxPromptTokens} onChange={(v) => set({ maxPromptTokens: v })} error={errorOf('maxPromptTokens')} placeholder={placeholder} />
          <Field label="Max completion tokens" name={`${idPrefix}-completion`} type="number" value={draft.maxCompletionTokens} onChange={(v) => set({ maxCompletionTokens: v })} error={errorOf('maxCompletionTokens')} placeholder={placeholder} />
          <Checkbox className="checkbox" isSelected={!draft.enforce} onChange={(shadow) => set({ enforce: !shadow })}>
            <span className="box" aria-hidden="true" />Shadow mode: count, never refuse
          </Checkbox>
        </div>
      ) : null}
    </fieldset>
  );
}

export function hasProblems(draft: RateLimitDraft, rules: BudgetRules = {}): boolean {
  return Object.keys(draftProblems(draft, rules)).length > 0;
}

/** The rules of a service budget and of a default connection quota. */
export const SERVICE_BUDGET: BudgetRules = { requireMaximum: true };
