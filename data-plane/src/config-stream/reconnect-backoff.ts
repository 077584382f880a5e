// Exponential back-off with jitter for re-opening the config stream.

export interface BackoffOptions {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialDelayMs: 100, maxDelayMs: 10_000 };

/**
 * Delays double from initialDelayMs up to maxDelayMs; each is drawn uniformly from its upper half
 * ("equal jitter") so a fleet of proxies cut off together does not reconnect in lockstep, while a
 * proxy never waits less than half the nominal delay.
 */
export class ReconnectBackoff {
  private attempt = 0;

  constructor(
    private readonly options: BackoffOptions = DEFAULT_BACKOFF,
    private readonly random: () => number = Math.random,
  ) {}

  nextDelayMs(): number {
    const nominal = Math.min(this.options.maxDelayMs, this.options.initialDelayMs * 2 ** Math.min(this.attempt, 30));
    this.attempt += 1;
    return Math.round(nominal / 2 + (this.random() * nominal) / 2);
  }

  reset(): void {
    this.attempt = 0;
  }
}
