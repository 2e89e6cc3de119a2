/**
 * A duration as a clock reading for progress lines: `mm:ss`, or `h:mm:ss` from one hour; `--:--` when the
 * duration is unknown (not finite or negative, e.g. an ETA before the first step). Rounded to the second.
 */
export function formatClock(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return `${h > 0 ? `${h}:` : ''}${String(m).padStart(2, '0')}:${String(r).padStart(2, '0')}`;
}
