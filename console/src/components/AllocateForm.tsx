/** Allocate from the page: random, sequential (with a count) or one specific address. */
import { useState } from 'preact/hooks';
import { type ApiError, path, request } from '../api.js';
import { href } from '../route.js';
import type { Allocation, Subnet } from '../types.js';
import { ErrorMessage } from './ErrorMessage.js';

type Mode = 'random' | 'sequential' | 'specific';

export function AllocateForm(props: {
  subnet: Subnet;
  /** Pre-filled specific address (from the map). */
  ip?: string | undefined;
  onAllocated: () => void;
}) {
  const [mode, setMode] = useState<Mode>(props.ip === undefined ? 'random' : 'specific');
  const [ip, setIp] = useState(props.ip ?? '');
  const [count, setCount] = useState('1');
  const [owner, setOwner] = useState('');
  const [ttl, setTtl] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | undefined>();
  const [done, setDone] = useState<Allocation[] | undefined>();

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    setDone(undefined);
    // Numbers typed into the form go as numbers; the API refuses "2" for 2.
    const body: Record<string, unknown> = {};
    if (mode === 'specific') body.ip = ip.trim();
    else {
      body.strategy = mode;
      if (count.trim() !== '' && count.trim() !== '1') body.count = Number(count);
    }
    if (owner.trim() !== '') body.owner = owner.trim();
    if (ttl.trim() !== '') body.ttlSeconds = Number(ttl);
    try {
      const result = await request<{ allocations: Allocation[] }>(
        'POST',
        `${path('subnets', props.subnet.id)}/allocations`,
        { body },
      );
      setDone(result.allocations);
      props.onAllocated();
    } catch (caught) {
      setError(caught as ApiError);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="panel allocate" onSubmit={submit} aria-labelledby="allocate-title">
      <h2 id="allocate-title">Allocate</h2>
      <fieldset>
        <legend>How</legend>
        {(['random', 'sequential', 'specific'] as const).map((value) => (
          <label key={value} class="inline">
            <input
              type="radio"
              name="mode"
              value={value}
              checked={mode === value}
              onChange={() => setMode(value)}
            />
            {value === 'specific' ? 'specific address' : value}
          </label>
        ))}
      </fieldset>
      {mode === 'specific' ? (
        <label>
          Address
          <input
            name="ip"
            value={ip}
            required
            autocomplete="off"
            onInput={(event) => setIp(event.currentTarget.value)}
          />
        </label>
      ) : (
        <label>
          Count (1–100)
          <input
            name="count"
            type="number"
            min={1}
            max={100}
            value={count}
            onInput={(event) => setCount(event.currentTarget.value)}
          />
        </label>
      )}
      <label>
        Owner
        <input
          name="owner"
          value={owner}
          onInput={(event) => setOwner(event.currentTarget.value)}
        />
      </label>
      <label>
        Lease in seconds (empty: no lease)
        <input
          name="ttlSeconds"
          type="number"
          min={60}
          value={ttl}
          onInput={(event) => setTtl(event.currentTarget.value)}
        />
      </label>
      <button type="submit" disabled={busy}>
        {busy ? 'Allocating…' : 'Allocate'}
      </button>
      <ErrorMessage error={error} />
      {done !== undefined ? (
        <p class="success" role="status">
          Allocated{' '}
          {done.map((allocation, i) => (
            <span key={allocation.ip}>
              {i > 0 ? ', ' : ''}
              <a href={href(['subnets', props.subnet.id], { ip: allocation.ip })}>
                {allocation.ip}
              </a>
            </span>
          ))}
        </p>
      ) : null}
    </form>
  );
}
