/**
 * One cell of the address map. A cell of many addresses is a stacked bar of its
 * counts (allocated, leased, quarantined, free, and the rest: outside the pools or
 * reserved); a cell of one address is its state's colour, pattern and letter.
 */
import { big, formatCount, percent } from '../numbers.js';
import { LEGEND_ORDER, type Occupancy, occupancyOf, STATES } from '../states.js';
import type { MapCell } from '../types.js';

export function cellSegments(cell: MapCell, size: bigint): [Occupancy, bigint][] {
  const allocated = big(cell.allocated);
  const leased = big(cell.leased);
  const quarantined = big(cell.quarantined);
  const free = big(cell.free);
  const rest = size - allocated - leased - quarantined - free;
  return [
    ['allocated', allocated],
    ['leased', leased],
    ['quarantined', quarantined],
    ['free', free],
    ['outside', rest > 0n ? rest : 0n],
  ];
}

export function cellLabel(cell: MapCell, cidr: string, size: bigint): string {
  if (cell.state !== undefined) {
    return `${cell.first}: ${STATES[occupancyOf(cell.state, big(cell.leased) > 0n)].label}`;
  }
  const parts = cellSegments(cell, size)
    .filter(([, count]) => count > 0n)
    .map(([state, count]) => `${formatCount(count)} ${STATES[state].label.toLowerCase()}`);
  return `${cidr}: ${parts.join(', ')}`;
}

export function MapCellView(props: {
  cell: MapCell;
  size: bigint;
  label: string;
  focused: boolean;
  onActivate: () => void;
  onKey: (event: KeyboardEvent) => void;
  onFocus: () => void;
  cellRef: (element: HTMLTableCellElement | null) => void;
}) {
  const { cell, size } = props;
  const single = cell.state !== undefined;
  const occupancy = single ? occupancyOf(cell.state ?? 'FREE', big(cell.leased) > 0n) : undefined;
  return (
    <td
      ref={props.cellRef}
      tabIndex={props.focused ? 0 : -1}
      aria-label={props.label}
      title={props.label}
      data-index={cell.index}
      data-state={occupancy}
      class={`cell${single ? ` one st-${occupancy}` : ''}`}
      onClick={props.onActivate}
      onKeyDown={props.onKey}
      onFocus={props.onFocus}
    >
      <div class="cell-box">
        {occupancy !== undefined ? (
          <span class="glyph" aria-hidden="true">
            {STATES[occupancy].glyph}
          </span>
        ) : (
          <span class="stack" aria-hidden="true">
            {cellSegments(cell, size)
              .filter(([, count]) => count > 0n)
              .map(([state, count]) => (
                <span
                  key={state}
                  class={`seg st-${state}`}
                  style={{ flexGrow: String(Math.max(percent(count, size), 0.1)) }}
                />
              ))}
          </span>
        )}
      </div>
    </td>
  );
}

export function Legend() {
  return (
    <ul class="legend" aria-label="Legend">
      {LEGEND_ORDER.map((state) => (
        <li key={state}>
          <span class={`swatch st-${state}`} aria-hidden="true">
            {STATES[state].glyph}
          </span>
          {STATES[state].label}
        </li>
      ))}
    </ul>
  );
}
