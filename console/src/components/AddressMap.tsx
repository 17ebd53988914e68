/**
 * A subnet's address map (GET /subnets/{id}/map): a grid of up to 16×16 cells, zoomed
 * by click or keyboard — arrows move, Enter opens a cell (a block: one level down;
 * an address: its panel), Backspace or Escape goes one level up — with breadcrumbs.
 */
import { useLayoutEffect, useRef, useState } from 'preact/hooks';
import { path as apiPath, get } from '../api.js';
import { columnsFor, formatPath, levelCidrs } from '../mapPath.js';
import { cellCidr } from '../net.js';
import { big, formatCount } from '../numbers.js';
import type { AddressMap as MapData } from '../types.js';
import { useLoad } from '../useLoad.js';
import { ErrorMessage } from './ErrorMessage.js';
import { cellLabel, Legend, MapCellView } from './MapCellView.js';

export function AddressMap(props: {
  subnetId: string;
  subnetCidr: string;
  path: number[];
  version: number;
  onZoom: (path: number[]) => void;
  onAddress: (ip: string) => void;
  /** Read the map (and the rest of the page) again: counts trail writes by seconds. */
  onRefresh: () => void;
}) {
  const cell = formatPath(props.path);
  const map = useLoad(() => {
    performance.mark('map-load-start');
    return get<MapData>(`${apiPath('subnets', props.subnetId)}/map`, { cell });
  }, [props.subnetId, cell, props.version]);
  const [focus, setFocus] = useState(0);
  const cells = useRef<(HTMLTableCellElement | null)[]>([]);
  /** The level on screen, and where focus goes when the next level arrives. */
  const shown = useRef<string | null | undefined>(undefined);
  const next = useRef<{ index: number; focus: boolean }>({ index: 0, focus: false });
  const data = map.data;

  useLayoutEffect(() => {
    if (data === undefined) return;
    // What the browser tests read: from the request's start to the grid in the DOM.
    performance.measure('map-render', 'map-load-start');
    if (data.cell === shown.current) return; // the same level read again: focus stays
    shown.current = data.cell;
    const index = Math.min(next.current.index, data.cells.length - 1);
    setFocus(index);
    if (next.current.focus) cells.current[index]?.focus();
    next.current = { index: 0, focus: false };
  }, [data]);

  const size = data === undefined ? 1n : big(data.cellSize);
  const columns = columnsFor(data?.cells.length ?? 0);
  const crumbs = levelCidrs(props.subnetCidr, props.path);

  const open = (index: number) => {
    const target = data?.cells[index];
    if (target === undefined) return;
    if (target.state !== undefined) props.onAddress(target.first);
    else {
      next.current = { index: 0, focus: true };
      props.onZoom([...props.path, index]);
    }
  };
  const up = () => {
    if (props.path.length === 0) return;
    next.current = { index: props.path[props.path.length - 1] ?? 0, focus: true };
    props.onZoom(props.path.slice(0, -1));
  };
  const onKey = (event: KeyboardEvent) => {
    const count = data?.cells.length ?? 0;
    const moves: Record<string, number> = {
      ArrowLeft: -1,
      ArrowRight: 1,
      ArrowUp: -columns,
      ArrowDown: columns,
    };
    const move = moves[event.key];
    if (move !== undefined) {
      const next = focus + move;
      if (next >= 0 && next < count) {
        setFocus(next);
        cells.current[next]?.focus();
      }
    } else if (event.key === 'Home' || event.key === 'End') {
      const next = event.key === 'Home' ? 0 : count - 1;
      setFocus(next);
      cells.current[next]?.focus();
    } else if (event.key === 'Enter' || event.key === ' ') open(focus);
    else if (event.key === 'Backspace' || event.key === 'Escape') up();
    else return;
    event.preventDefault();
  };

  return (
    <section class="panel map" aria-labelledby="map-title">
      <div class="panel-head">
        <h2 id="map-title">Address map</h2>
        <button type="button" onClick={props.onRefresh}>
          Refresh map
        </button>
      </div>
      <nav aria-label="Map levels" class="crumbs">
        <ol>
          {crumbs.map((crumb, depth) => (
            <li key={crumb}>
              {depth === crumbs.length - 1 ? (
                <span aria-current="location">{crumb}</span>
              ) : (
                <button
                  type="button"
                  class="link"
                  onClick={() => props.onZoom(props.path.slice(0, depth))}
                >
                  {crumb}
                </button>
              )}
            </li>
          ))}
        </ol>
      </nav>
      <ErrorMessage error={map.error} />
      {data !== undefined ? (
        <>
          <p class="hint">
            {data.cells.length} cells of {formatCount(size)} address{size === 1n ? '' : 'es'}.
            Arrows move, Enter opens, Backspace or Escape goes up.
          </p>
          <table aria-busy={map.loading} class="grid" data-cell={data.cell ?? ''}>
            <caption class="visually-hidden">Address map of {crumbs[crumbs.length - 1]}</caption>
            <tbody>
              {rows(data.cells.length, columns).map((row) => (
                <tr key={row}>
                  {data.cells.slice(row * columns, (row + 1) * columns).map((mapCell) => (
                    <MapCellView
                      key={mapCell.index}
                      cell={mapCell}
                      size={size}
                      label={cellLabel(mapCell, cellCidr(mapCell.first, size), size)}
                      focused={mapCell.index === focus}
                      onActivate={() => {
                        setFocus(mapCell.index);
                        open(mapCell.index);
                      }}
                      onKey={onKey}
                      onFocus={() => setFocus(mapCell.index)}
                      cellRef={(element) => {
                        cells.current[mapCell.index] = element;
                      }}
                    />
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
          <Legend />
        </>
      ) : null}
    </section>
  );
}

const rows = (cells: number, columns: number): number[] =>
  Array.from({ length: Math.ceil(cells / Math.max(1, columns)) }, (_, i) => i);
