/** A fixed one-minute window per key, as Postman documents its limit. */
export class RateLimiter {
  private readonly windows = new Map<string, { start: number; used: number }>();

  constructor(
    readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  take(key: string): { allowed: boolean; limit: number; remaining: number; resetSeconds: number } {
    const now = this.now();
    let window = this.windows.get(key);
    if (!window || now - window.start >= 60_000) {
      window = { start: now, used: 0 };
      this.windows.set(key, window);
    }
    const resetSeconds = Math.max(1, Math.ceil((window.start + 60_000 - now) / 1000));
    if (window.used >= this.perMinute) return { allowed: false, limit: this.perMinute, remaining: 0, resetSeconds };
    window.used++;
    return { allowed: true, limit: this.perMinute, remaining: this.perMinute - window.used, resetSeconds };
  }
}
