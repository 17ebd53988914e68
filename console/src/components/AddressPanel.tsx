/** One address of a subnet: its state, its allocation, its history; allocate or release it. */
import { useState } from 'preact/hooks';
import { type ApiError, get, path, request } from '../api.js';
import { occupancyOf, STATES } from '../states.js';
import type { AddressLookupItem, HistoryEntry, Page } from '../types.js';
import { useLoad } from '../useLoad.js';
import { ErrorMessage } from './ErrorMessage.js';
import { useRelease } from './useRelease.js';

export function AddressPanel(props: {
  subnetId: string;
  ip: string;
  version: number;
  onChanged: () => void;
  onClose: () => void;
}) {
  const lookup = useLoad(async () => {
    const found = await get<{ items: AddressLookupItem[] }>(path('addresses', props.ip));
    return found.items.find((item) => item.subnetId === props.subnetId);
  }, [props.subnetId, props.ip, props.version]);
  const history = useLoad(
    () =>
      get<Page<HistoryEntry>>(
        `${path('subnets', props.subnetId, 'allocations', props.ip)}/history`,
        { limit: 20 },
      ),
    [props.subnetId, props.ip, props.version],
  );
  const release = useRelease(props.subnetId, props.onChanged);
  const [allocateError, setAllocateError] = useState<ApiError | undefined>();
  const allocate = async () => {
    setAllocateError(undefined);
    try {
      await request('POST', `${path('subnets', props.subnetId)}/allocations`, {
        body: { ip: props.ip },
      });
      props.onChanged();
    } catch (caught) {
      setAllocateError(caught as ApiError);
    }
  };
  const item = lookup.data;
  const allocation = item?.allocation ?? null;
  const occupancy =
    item === undefined ? undefined : occupancyOf(item.state, allocation?.expiresAt != null);
  return (
    <section class="panel address" aria-labelledby="address-title">
      <div class="panel-head">
        <h2 id="address-title">{props.ip}</h2>
        <button type="button" onClick={props.onClose} aria-label="Close the address panel">
          Close
        </button>
      </div>
      <ErrorMessage error={lookup.error ?? allocateError ?? release.error} />
      {release.dialog}
      {item === undefined && !lookup.loading ? <p>This subnet does not hold {props.ip}.</p> : null}
      {item !== undefined && occupancy !== undefined ? (
        <dl class="facts">
          <dt>State</dt>
          <dd data-testid="address-state">
            <span class={`swatch st-${occupancy}`} aria-hidden="true">
              {STATES[occupancy].glyph}
            </span>{' '}
            {item.state} — {STATES[occupancy].label}
            {item.availableAt === undefined ? '' : `, available at ${item.availableAt}`}
          </dd>
          <dt>In the pools</dt>
          <dd>{item.inPools ? 'yes' : 'no'}</dd>
          {allocation !== null ? (
            <>
              <dt>Owner</dt>
              <dd>{allocation.owner ?? '—'}</dd>
              <dt>Allocated</dt>
              <dd>
                {allocation.createdAt}
                {allocation.createdBy ? ` by ${allocation.createdBy}` : ''}
              </dd>
              <dt>Lease until</dt>
              <dd>{allocation.expiresAt ?? 'no lease'}</dd>
              {allocation.macAddress ? (
                <>
                  <dt>MAC</dt>
                  <dd>{allocation.macAddress}</dd>
                </>
              ) : null}
            </>
          ) : null}
        </dl>
      ) : null}
      <div class="actions">
        {item?.state === 'ALLOCATED' ? (
          <button type="button" class="danger" onClick={() => release.ask(props.ip)}>
            Release {props.ip}
          </button>
        ) : null}
        {item !== undefined && item.state !== 'ALLOCATED' ? (
          <button type="button" onClick={() => void allocate()}>
            Allocate {props.ip}
          </button>
        ) : null}
      </div>
      <h3>History</h3>
      <ErrorMessage error={history.error} />
      {history.data !== undefined && history.data.items.length === 0 ? (
        <p>No history recorded for this address.</p>
      ) : null}
      {history.data !== undefined && history.data.items.length > 0 ? (
        <ol class="history">
          {history.data.items.map((entry) => (
            <li key={`${entry.at}-${entry.action}-${entry.requestId}`}>
              <time>{entry.at}</time> <strong>{entry.action}</strong> by {entry.actor}
              {entry.owner ? ` (owner ${entry.owner})` : ''}
            </li>
          ))}
        </ol>
      ) : null}
    </section>
  );
}
