/** A subnet's allocations, a page at a time, each with a Release button. */
import { useState } from 'preact/hooks';
import { get, path } from '../api.js';
import { href } from '../route.js';
import type { Allocation, Page } from '../types.js';
import { useLoad } from '../useLoad.js';
import { ErrorMessage } from './ErrorMessage.js';
import { useRelease } from './useRelease.js';

const PAGE = 100;

export function AllocationsTable(props: {
  subnetId: string;
  version: number;
  onChanged: () => void;
}) {
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const cursor = cursors[cursors.length - 1];
  const page = useLoad(
    () =>
      get<Page<Allocation>>(`${path('subnets', props.subnetId)}/allocations`, {
        limit: PAGE,
        cursor,
      }),
    [props.subnetId, cursor, props.version],
  );
  const release = useRelease(props.subnetId, props.onChanged);
  const items = page.data?.items ?? [];
  return (
    <section class="panel" aria-labelledby="allocations-title">
      <h2 id="allocations-title">Allocations</h2>
      <ErrorMessage error={page.error ?? release.error} />
      {release.released !== undefined ? (
        <p class="success" role="status">
          Released {release.released}
        </p>
      ) : null}
      {release.dialog}
      {items.length === 0 && !page.loading ? <p>No allocations.</p> : null}
      {items.length > 0 ? (
        <div class="table-wrap">
          <table class="allocations">
            <thead>
              <tr>
                <th scope="col">Address</th>
                <th scope="col">Owner</th>
                <th scope="col">Lease until</th>
                <th scope="col">Since</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((allocation) => (
                <tr key={allocation.ip} data-ip={allocation.ip}>
                  <th scope="row">
                    <a href={href(['subnets', props.subnetId], { ip: allocation.ip })}>
                      {allocation.ip}
                    </a>
                  </th>
                  <td>{allocation.owner ?? ''}</td>
                  <td>{allocation.expiresAt ?? '—'}</td>
                  <td>{allocation.createdAt}</td>
                  <td>
                    <button
                      type="button"
                      class="danger"
                      aria-label={`Release ${allocation.ip}`}
                      onClick={() => release.ask(allocation.ip)}
                    >
                      Release
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <div class="pager">
        {cursors.length > 1 ? (
          <button type="button" onClick={() => setCursors(cursors.slice(0, -1))}>
            Previous page
          </button>
        ) : null}
        {page.data?.nextCursor ? (
          <button
            type="button"
            onClick={() => setCursors([...cursors, page.data?.nextCursor ?? undefined])}
          >
            Next page
          </button>
        ) : null}
      </div>
    </section>
  );
}
