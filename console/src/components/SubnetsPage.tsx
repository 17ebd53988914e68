/** Spaces and subnets: a searchable table with utilisation, sortable by it. */
import { useMemo, useState } from 'preact/hooks';
import { getAll } from '../api.js';
import { big, formatCount, percent } from '../numbers.js';
import { href } from '../route.js';
import type { Subnet } from '../types.js';
import { useLoad } from '../useLoad.js';
import { ErrorMessage } from './ErrorMessage.js';
import { UtilBar } from './UtilBar.js';
import { useLeasedCounts } from './useLeasedCounts.js';

type Sort = 'cidr' | 'util-desc' | 'util-asc';

/** Rows drawn at once; a search narrows the rest. */
const MAX_ROWS = 100;

const utilisation = (subnet: Subnet) => percent(subnet.usage.allocated, subnet.usage.total);

export function SubnetsPage() {
  const subnets = useLoad(() => getAll<Subnet>('/subnets'), []);
  const [search, setSearch] = useState('');
  const [space, setSpace] = useState('');
  const [sort, setSort] = useState<Sort>('cidr');
  const spaces = useMemo(
    () => [...new Set((subnets.data ?? []).map((subnet) => subnet.space))].sort(),
    [subnets.data],
  );
  const rows = useMemo(() => {
    const needle = search.trim().toLowerCase();
    const matching = (subnets.data ?? []).filter(
      (subnet) =>
        (space === '' || subnet.space === space) &&
        (needle === '' ||
          [subnet.cidr, subnet.name ?? '', subnet.id, subnet.space, subnet.gatewayIp ?? ''].some(
            (field) => field.toLowerCase().includes(needle),
          )),
    );
    if (sort !== 'cidr') {
      const sign = sort === 'util-desc' ? -1 : 1;
      matching.sort((a, b) => sign * (utilisation(a) - utilisation(b)));
    }
    return matching;
  }, [subnets.data, search, space, sort]);
  const shown = rows.slice(0, MAX_ROWS);
  const leased = useLeasedCounts(shown.map((subnet) => subnet.id));
  const nextSort: Sort = sort === 'util-desc' ? 'util-asc' : 'util-desc';

  return (
    <section aria-labelledby="subnets-title">
      <h1 id="subnets-title">Spaces and subnets</h1>
      <div class="toolbar">
        <label>
          Search
          <input
            type="search"
            value={search}
            placeholder="CIDR, name, id, gateway"
            onInput={(event) => setSearch(event.currentTarget.value)}
          />
        </label>
        <label>
          Space
          <select value={space} onChange={(event) => setSpace(event.currentTarget.value)}>
            <option value="">All spaces</option>
            {spaces.map((name) => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
          </select>
        </label>
        <button type="button" onClick={() => subnets.reload()}>
          Refresh
        </button>
      </div>
      <ErrorMessage error={subnets.error} />
      {subnets.loading && subnets.data === undefined ? <p>Loading…</p> : null}
      {subnets.data !== undefined ? (
        <div class="table-wrap">
          <table class="subnets">
            <caption>
              {rows.length === subnets.data.length
                ? `${rows.length} subnets`
                : `${rows.length} of ${subnets.data.length} subnets`}
              {rows.length > MAX_ROWS ? ` (first ${MAX_ROWS} shown: refine the search)` : ''}
            </caption>
            <thead>
              <tr>
                <th scope="col">CIDR</th>
                <th scope="col">Name</th>
                <th scope="col">Space</th>
                <th scope="col">Gateway</th>
                <th
                  scope="col"
                  aria-sort={
                    sort === 'cidr' ? 'none' : sort === 'util-desc' ? 'descending' : 'ascending'
                  }
                >
                  <button type="button" class="link" onClick={() => setSort(nextSort)}>
                    Utilisation {sort === 'util-desc' ? '▼' : sort === 'util-asc' ? '▲' : '↕'}
                  </button>
                </th>
                <th scope="col">Allocated / total</th>
                <th scope="col">Quarantined</th>
                <th scope="col">Leased</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((subnet) => (
                <SubnetRow key={subnet.id} subnet={subnet} leased={leased[subnet.id]} />
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}

function SubnetRow({ subnet, leased }: { subnet: Subnet; leased: bigint | null | undefined }) {
  const value = utilisation(subnet);
  return (
    <tr data-subnet-id={subnet.id}>
      <th scope="row">
        <a href={href(['subnets', subnet.id])}>{subnet.cidr}</a>
      </th>
      <td>{subnet.name ?? ''}</td>
      <td>{subnet.space}</td>
      <td>{subnet.gatewayIp ?? '—'}</td>
      <td>
        <UtilBar value={value} label={`Utilisation of ${subnet.cidr}`} />
      </td>
      <td class="num">
        {formatCount(subnet.usage.allocated)} / {formatCount(subnet.usage.total)}
      </td>
      <td class="num">{formatCount(big(subnet.usage.quarantined))}</td>
      <td class="num">
        {leased === undefined ? '…' : leased === null ? '—' : formatCount(leased)}
      </td>
    </tr>
  );
}
