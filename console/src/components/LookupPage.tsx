/** Where an address, a MAC or an owner is: GET /addresses/{ip} or /allocations?…. */
import { get, getAll, path } from '../api.js';
import { lookupKind } from '../lookupKind.js';
import { href } from '../route.js';
import { occupancyOf, STATES } from '../states.js';
import type { AddressLookupItem, Allocation, Subnet } from '../types.js';
import { useLoad } from '../useLoad.js';
import { ErrorMessage } from './ErrorMessage.js';

export function LookupPage({ query }: { query: string }) {
  const kind = lookupKind(query);
  const found = useLoad(async () => {
    if (kind === 'address') {
      const result = await get<{ items: AddressLookupItem[] }>(path('addresses', query));
      return { found: 'addresses' as const, items: result.items };
    }
    const allocations = await getAll<Allocation>(
      '/allocations',
      kind === 'mac' ? { macAddress: query } : { owner: query },
    );
    const subnets = await getAll<Subnet>('/subnets');
    const cidrs = new Map(subnets.map((subnet) => [subnet.id, subnet.cidr]));
    return { found: 'allocations' as const, allocations, cidrs };
  }, [query]);
  const data = found.data;
  return (
    <section aria-labelledby="lookup-title">
      <h1 id="lookup-title">
        Lookup: <code>{query}</code> <span class="muted">({kind})</span>
      </h1>
      <ErrorMessage error={found.error} />
      {found.loading ? <p>Looking…</p> : null}
      {data?.found === 'addresses' ? (
        data.items.length === 0 ? (
          <p>No subnet holds {query}.</p>
        ) : (
          <table class="lookup">
            <thead>
              <tr>
                <th scope="col">Subnet</th>
                <th scope="col">Space</th>
                <th scope="col">State</th>
                <th scope="col">Owner</th>
              </tr>
            </thead>
            <tbody>
              {data.items.map((item) => {
                const occupancy = occupancyOf(item.state, item.allocation?.expiresAt != null);
                return (
                  <tr key={item.subnetId}>
                    <th scope="row">
                      <a href={href(['subnets', item.subnetId], { ip: query })}>{item.cidr}</a>
                    </th>
                    <td>{item.space}</td>
                    <td>
                      <span class={`swatch st-${occupancy}`} aria-hidden="true">
                        {STATES[occupancy].glyph}
                      </span>{' '}
                      {item.state}
                    </td>
                    <td>{item.allocation?.owner ?? '—'}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )
      ) : null}
      {data?.found === 'allocations' ? (
        data.allocations.length === 0 ? (
          <p>No allocations for {query}.</p>
        ) : (
          <table class="lookup">
            <thead>
              <tr>
                <th scope="col">Address</th>
                <th scope="col">Subnet</th>
                <th scope="col">Owner</th>
                <th scope="col">MAC</th>
                <th scope="col">Lease until</th>
              </tr>
            </thead>
            <tbody>
              {data.allocations.map((allocation) => (
                <tr key={`${allocation.subnetId}/${allocation.ip}`}>
                  <th scope="row">
                    <a href={href(['subnets', allocation.subnetId], { ip: allocation.ip })}>
                      {allocation.ip}
                    </a>
                  </th>
                  <td>{data.cidrs.get(allocation.subnetId) ?? allocation.subnetId}</td>
                  <td>{allocation.owner ?? '—'}</td>
                  <td>{allocation.macAddress ?? '—'}</td>
                  <td>{allocation.expiresAt ?? '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )
      ) : null}
    </section>
  );
}
