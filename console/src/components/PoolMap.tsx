/** One pool prefix as a grid of carved (this pool), taken (other subnets) and free blocks. */

import { columnsFor } from '../mapPath.js';
import { formatCount, percent } from '../numbers.js';
import { poolCells, type SubnetPlace } from '../poolCells.js';
import { href, navigate } from '../route.js';
import type { Pool } from '../types.js';

const PARTS = [
  ['carved', 'Carved from this pool', 'st-allocated', 'C'],
  ['other', 'Held by a subnet not from this pool', 'st-outside', '×'],
  ['free', 'Free to carve', 'st-free', '·'],
] as const;

export function PoolMap(props: { prefix: string; pool: Pool; subnets: readonly SubnetPlace[] }) {
  const cells = poolCells(props.prefix, props.pool, props.subnets);
  const columns = columnsFor(cells.length);
  return (
    <section class="panel map" aria-label={`Pool prefix ${props.prefix}`}>
      <h2>{props.prefix}</h2>
      <p class="hint">
        {cells.length} blocks of {formatCount(cells[0]?.size ?? 0n)} addresses.
      </p>
      <ul
        class="pool-grid"
        aria-label={`Carved and free blocks of ${props.prefix}`}
        style={{ gridTemplateColumns: `repeat(${columns}, minmax(0, 1fr))` }}
      >
        {cells.map((cell) => {
          const label = `${cell.cidr}: ${PARTS.filter(([key]) => cell[key] > 0n)
            .map(([key, text]) => `${formatCount(cell[key])} ${text.toLowerCase()}`)
            .join(
              ', ',
            )}${cell.subnets.length > 0 ? ` (${cell.subnets.map((s) => s.cidr).join(', ')})` : ''}`;
          const only = cell.subnets.length === 1 ? cell.subnets[0] : undefined;
          return (
            <li key={cell.index} class="cell" title={label} data-cidr={cell.cidr}>
              {only !== undefined ? (
                <a
                  class="stack"
                  href={href(['subnets', only.id])}
                  aria-label={label}
                  onClick={(event) => {
                    event.preventDefault();
                    navigate(href(['subnets', only.id]));
                  }}
                >
                  <Segments cell={cell} />
                </a>
              ) : (
                <span class="stack" role="img" aria-label={label}>
                  <Segments cell={cell} />
                </span>
              )}
            </li>
          );
        })}
      </ul>
      <ul class="legend" aria-label="Legend">
        {PARTS.map(([key, text, look, glyph]) => (
          <li key={key}>
            <span class={`swatch ${look}`} aria-hidden="true">
              {glyph}
            </span>
            {text}
          </li>
        ))}
      </ul>
    </section>
  );
}

function Segments({ cell }: { cell: ReturnType<typeof poolCells>[number] }) {
  return (
    <>
      {PARTS.filter(([key]) => cell[key] > 0n).map(([key, , look]) => (
        <span
          key={key}
          class={`seg ${look}`}
          style={{ flexGrow: String(Math.max(percent(cell[key], cell.size), 0.1)) }}
        />
      ))}
    </>
  );
}
