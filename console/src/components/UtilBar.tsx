/** A utilisation bar with its percentage as text; a <meter> carries the value for assistive tech. */
export function UtilBar({ value, label }: { value: number; label: string }) {
  const level = value >= 90 ? 'high' : value >= 70 ? 'warn' : 'ok';
  return (
    <span class="util">
      <meter class="visually-hidden" aria-label={label} min={0} max={100} value={value} />
      <span class={`util-bar util-${level}`} aria-hidden="true">
        <span class="util-fill" style={{ width: `${Math.min(100, value)}%` }} />
      </span>
      <span class="util-text">{value.toFixed(1)}%</span>
    </span>
  );
}
