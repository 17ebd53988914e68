/** Carve a subnet from a pool, previewing the CIDR the carve would take (GET …/next-cidr). */
import { useState } from 'preact/hooks';
import { type ApiError, get, path, request } from '../api.js';
import { href } from '../route.js';
import type { Pool, Subnet } from '../types.js';
import { useLoad } from '../useLoad.js';
import { ErrorMessage } from './ErrorMessage.js';

export function CarveForm({ pool, onCarved }: { pool: Pool; onCarved: () => void }) {
  const [length, setLength] = useState(pool.defaultPrefixLength);
  const [name, setName] = useState('');
  const [version, setVersion] = useState(0);
  const [error, setError] = useState<ApiError | undefined>();
  const [carved, setCarved] = useState<Subnet | undefined>();
  const preview = useLoad(
    () =>
      get<{ cidr: string }>(`${path('subnet-pools', pool.id)}/next-cidr`, { prefixLength: length }),
    [pool.id, length, version],
  );
  const lengths = Array.from(
    { length: pool.maxPrefixLength - pool.minPrefixLength + 1 },
    (_, i) => pool.minPrefixLength + i,
  );
  const carve = async (event: Event) => {
    event.preventDefault();
    setError(undefined);
    setCarved(undefined);
    try {
      const body: Record<string, unknown> = { prefixLength: length };
      if (name.trim() !== '') body.name = name.trim();
      setCarved(
        await request<Subnet>('POST', `${path('subnet-pools', pool.id)}/subnets`, { body }),
      );
      setVersion((v) => v + 1);
      onCarved();
    } catch (caught) {
      setError(caught as ApiError);
    }
  };
  return (
    <form class="panel" onSubmit={carve} aria-labelledby="carve-title">
      <h2 id="carve-title">Carve a subnet</h2>
      <label>
        Prefix length
        <select
          name="prefixLength"
          value={String(length)}
          onChange={(event) => setLength(Number(event.currentTarget.value))}
        >
          {lengths.map((value) => (
            <option key={value} value={String(value)}>
              /{value}
            </option>
          ))}
        </select>
      </label>
      <label>
        Name
        <input name="name" value={name} onInput={(event) => setName(event.currentTarget.value)} />
      </label>
      <p aria-live="polite">
        Next CIDR:{' '}
        <output data-testid="next-cidr">
          {preview.loading ? '…' : (preview.data?.cidr ?? 'none')}
        </output>
      </p>
      <ErrorMessage error={preview.error} />
      <button type="submit">Carve</button>
      <ErrorMessage error={error} />
      {carved !== undefined ? (
        <p class="success" role="status">
          Carved <a href={href(['subnets', carved.id])}>{carved.cidr}</a>
        </p>
      ) : null}
    </form>
  );
}
