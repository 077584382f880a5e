// Small building blocks over react-aria-components: labelled fields, errors, badges, copy buttons,
// confirmations. Server strings always reach the DOM as React text (never as HTML).
import { useEffect, useRef, useState, type ReactNode } from 'react';
import {
  Button, Dialog, FieldError, Heading, Input, Label, Modal, ModalOverlay, Text, TextArea, TextField,
} from 'react-aria-components';
import { ApiError, errorDetail, errorTitle } from '../api/client';
import { lengthProblem } from './limits';
import { STATUS_NAMES } from './words';

/** Refusals the same request would meet again: retrying cannot help. */
const FINAL_CODES = new Set(['NOT_FOUND', 'FORBIDDEN', 'BAD_USER_INPUT', 'UNAUTHENTICATED']);

/**
 * An error in words. Retry is offered only where it may help (the network, the server); for a refusal
 * that would be repeated (not found, not allowed), the way back is offered instead, when given.
 */
export function ErrorNotice({ error, onRetry, back }: { error: unknown; onRetry?: () => void; back?: { href: string; label: string } }) {
  const final = error instanceof ApiError && FINAL_CODES.has(error.code);
  return (
    <div className="notice error" role="alert">
      <strong>{errorTitle(error)}</strong>
      <span>{errorDetail(error)}</span>
      {onRetry && !final ? <Button className="button secondary" onPress={onRetry}>Retry</Button> : null}
      {back && final ? <a className="button secondary" href={back.href}>{back.label}</a> : null}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return <p className="muted" role="status">Loading {what}…</p>;
}

export interface FieldProps {
  label: string;
  name: string;
  value: string;
  onChange(value: string): void;
  description?: ReactNode;
  /** Shown as the field's error (and marks it invalid). */
  error?: string | null;
  type?: 'text' | 'password' | 'url' | 'number' | 'search';
  isRequired?: boolean;
  placeholder?: string;
  multiline?: boolean;
  autoComplete?: string;
  inputMode?: 'numeric' | 'text';
  /** The server's limit on the value's length: a longer value is pointed out on the field (the form must not send it). */
  maxLength?: number;
}

export function Field(props: FieldProps) {
  const { label, name, value, onChange, description, type = 'text', isRequired, placeholder, multiline, autoComplete, inputMode, maxLength } = props;
  // Not the input's maxLength attribute: that would cut a pasted value silently (a key, a description).
  const error = (maxLength === undefined ? null : lengthProblem(value, maxLength)) ?? props.error;
  return (
    <TextField
      className="field"
      name={name}
      value={value}
      onChange={onChange}
      isRequired={isRequired}
      isInvalid={Boolean(error)}
      validationBehavior="aria"
      type={type === 'number' ? 'text' : type}
      autoComplete={autoComplete ?? 'off'}
      inputMode={inputMode ?? (type === 'number' ? 'numeric' : undefined)}
      data-field={name}
    >
      <Label>{label}</Label>
      {multiline ? <TextArea placeholder={placeholder} rows={3} /> : <Input placeholder={placeholder} spellCheck={false} />}
      {description ? <Text slot="description" className="hint">{description}</Text> : null}
      <FieldError className="field-error">{error}</FieldError>
    </TextField>
  );
}

export function StatusBadge({ status }: { status: string }) {
  return <span className={`badge status-${status.toLowerCase()}`} data-status={status}>{STATUS_NAMES[status] ?? status}</span>;
}

/** Copies text; says so in words (and to screen readers through the live region). */
export function CopyButton({ text, label, className }: { text: string; label: string; className?: string }) {
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle');
  return (
    <Button
      className={`button secondary small ${className ?? ''}`}
      aria-label={state === 'copied' ? `${label}: copied` : label}
      onPress={() => {
        navigator.clipboard.writeText(text).then(() => setState('copied'), () => setState('failed'));
      }}
    >
      <span aria-live="polite">{state === 'copied' ? 'Copied' : state === 'failed' ? 'Copy failed: select the text' : 'Copy'}</span>
    </Button>
  );
}

export interface ConfirmProps {
  title: string;
  children: ReactNode;
  confirmLabel: string;
  isOpen: boolean;
  onCancel(): void;
  onConfirm(): Promise<void> | void;
  danger?: boolean;
}

/** A modal confirmation (role alertdialog), focus trapped; Escape cancels. */
export function ConfirmDialog({ title, children, confirmLabel, isOpen, onCancel, onConfirm, danger }: ConfirmProps) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => { if (isOpen) setError(null); }, [isOpen]);
  return (
    <ModalOverlay className="overlay" isOpen={isOpen} onOpenChange={(open) => { if (!open) onCancel(); }} isDismissable={!busy}>
      <Modal className="modal">
        <Dialog role="alertdialog" className="dialog">
          <Heading slot="title">{title}</Heading>
          <div className="dialog-body">{children}</div>
          {error ? <ErrorNotice error={error} /> : null}
          <div className="actions">
            <Button className="button secondary" onPress={onCancel} isDisabled={busy}>Cancel</Button>
            <Button
              className={`button ${danger ? 'danger' : ''}`}
              isDisabled={busy}
              onPress={() => {
                setBusy(true);
                Promise.resolve(onConfirm()).then(() => setBusy(false), (e: unknown) => { setBusy(false); setError(e); });
              }}
            >{confirmLabel}</Button>
          </div>
        </Dialog>
      </Modal>
    </ModalOverlay>
  );
}

/** After a check stopped a form: focus its first field marked invalid, once the messages are shown. */
export function focusFirstInvalid(form: HTMLElement): void {
  requestAnimationFrame(() => form.querySelector<HTMLElement>('[data-invalid] input, [data-invalid] textarea')?.focus());
}

/** Moves focus to the element once it appears (for results the user must act on, such as keys). */
export function useFocusOnMount<T extends HTMLElement>(): React.RefObject<T | null> {
  const ref = useRef<T>(null);
  useEffect(() => { ref.current?.focus(); }, []);
  return ref;
}

export function Chips({ labels }: { labels: readonly string[] }) {
  if (!labels.length) return null;
  return <ul className="chips" aria-label="Labels">{labels.map((l) => <li key={l} className="chip">{l}</li>)}</ul>;
}
