/** Subnet pools: the list, and one pool's prefixes as carved/free maps with a carve form. */
import { get, getAll, path } from '../api.js';
import { formatCount, percent } from '../numbers.js';
import { href } from '../route.js';
import type { Pool, Subnet } from '../types.js';
import { useLoad } from '../useLoad.js';
import { CarveForm } from './CarveForm.js';
import { ErrorMessage } from './ErrorMessage.js';
import { PoolMap } from './PoolMap.js';
import { UtilBar } from './UtilBar.js';

export function PoolsPage({ poolId }: { poolId: string | undefined }) {
  return poolId === undefined ? <PoolList /> : <PoolDetail id={poolId} />;
}

function PoolList() {
  const pools = useLoad(() => getAll<Pool>('/subnet-pools'), []);
  return (
    <section aria-labelledby="pools-title">
      <h1 id="pools-title">Subnet pools</h1>
      <ErrorMessage error={pools.error} />
      {pools.data !== undefined && pools.data.length === 0 ? <p>No subnet pools.</p> : null}
      {pools.data !== undefined && pools.data.length > 0 ? (
        <div class="table-wrap">
          <table class="pools">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Prefixes</th>
                <th scope="col">Space</th>
                <th scope="col">Carved</th>
                <th scope="col">Lengths (min / default / max)</th>
              </tr>
            </thead>
            <tbody>
              {pools.data.map((pool) => (
                <tr key={pool.id}>
                  <th scope="row">
                    <a href={href(['pools', pool.id])}>{pool.name ?? pool.id}</a>
                  </th>
                  <td>{pool.prefixes.join(', ')}</td>
                  <td>{pool.space}</td>
                  <td>
                    <UtilBar
                      value={percent(pool.usage.allocatedAddresses, pool.usage.totalAddresses)}
                      label={`Carved share of ${pool.name ?? pool.id}`}
                    />
                  </td>
                  <td>
                    /{pool.minPrefixLength} / /{pool.defaultPrefixLength} / /{pool.maxPrefixLength}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}

function PoolDetail({ id }: { id: string }) {
  const data = useLoad(async () => {
    const [pool, subnets] = await Promise.all([
      get<Pool>(path('subnet-pools', id)),
      getAll<Subnet>('/subnets'),
    ]);
    return { pool, subnets };
  }, [id]);
  const pool = data.data?.pool;
  const carved = (data.data?.subnets ?? []).filter((subnet) => subnet.poolId === id);
  return (
    <section aria-labelledby="pool-title">
      <p>
        <a href={href(['pools'])}>← All pools</a>
      </p>
      <ErrorMessage error={data.error} />
      {pool !== undefined && data.data !== undefined ? (
        <>
          <h1 id="pool-title">{pool.name ?? pool.id}</h1>
          <p>
            Space {pool.space}; {formatCount(pool.usage.allocatedAddresses)} of{' '}
            {formatCount(pool.usage.totalAddresses)} addresses carved into {carved.length} subnet
            {carved.length === 1 ? '' : 's'}.
          </p>
          <div class="subnet-layout">
            <div>
              {pool.prefixes.map((prefix) => (
                <PoolMap
                  key={prefix}
                  prefix={prefix}
                  pool={pool}
                  subnets={data.data?.subnets ?? []}
                />
              ))}
            </div>
            <div class="side">
              <CarveForm pool={pool} onCarved={data.reload} />
            </div>
          </div>
          <section class="panel" aria-labelledby="carved-title">
            <h2 id="carved-title">Carved subnets</h2>
            {carved.length === 0 ? <p>None yet.</p> : null}
            <ul class="carved">
              {carved.map((subnet) => (
                <li key={subnet.id}>
                  <a href={href(['subnets', subnet.id])}>{subnet.cidr}</a>
                  {subnet.name ? ` ${subnet.name}` : ''}
                </li>
              ))}
            </ul>
          </section>
        </>
      ) : null}
    </section>
  );
}
