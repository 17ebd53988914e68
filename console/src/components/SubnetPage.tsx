/** One subnet: its facts, its address map, one address's panel, allocate, allocations. */
import { useState } from 'preact/hooks';
import { get, path } from '../api.js';
import { formatPath, parsePath } from '../mapPath.js';
import { formatCount, percent } from '../numbers.js';
import { href, navigate, type Route } from '../route.js';
import type { Subnet } from '../types.js';
import { useLoad } from '../useLoad.js';
import { AddressMap } from './AddressMap.js';
import { AddressPanel } from './AddressPanel.js';
import { AllocateForm } from './AllocateForm.js';
import { AllocationsTable } from './AllocationsTable.js';
import { ErrorMessage } from './ErrorMessage.js';
import { UtilBar } from './UtilBar.js';

export function SubnetPage({ id, route }: { id: string; route: Route }) {
  const [version, setVersion] = useState(0);
  const changed = () => setVersion((v) => v + 1);
  const subnet = useLoad(() => get<Subnet>(path('subnets', id)), [id, version]);
  const cellPath = parsePath(route.query.get('cell'));
  const ip = route.query.get('ip') ?? undefined;
  const go = (next: { cell?: number[]; ip?: string | undefined }) =>
    navigate(
      href(['subnets', id], {
        cell: formatPath(next.cell ?? cellPath),
        ip: 'ip' in next ? next.ip : ip,
      }),
    );
  const s = subnet.data;
  return (
    <section aria-labelledby="subnet-title">
      <p>
        <a href={href([])}>← All subnets</a>
      </p>
      <ErrorMessage error={subnet.error} />
      {s !== undefined ? (
        <>
          <h1 id="subnet-title">
            {s.cidr} {s.name ? <span class="muted">{s.name}</span> : null}
          </h1>
          <dl class="facts inline-facts">
            <dt>Space</dt>
            <dd>{s.space}</dd>
            <dt>Gateway</dt>
            <dd>{s.gatewayIp ?? '—'}</dd>
            <dt>Pools</dt>
            <dd>
              {s.allocationPools.length === 0
                ? 'none'
                : s.allocationPools.map((pool) => `${pool.start}–${pool.end}`).join(', ')}
            </dd>
            <dt>Usage</dt>
            <dd>
              <UtilBar
                value={percent(s.usage.allocated, s.usage.total)}
                label={`Utilisation of ${s.cidr}`}
              />{' '}
              {formatCount(s.usage.allocated)} of {formatCount(s.usage.total)} allocated,{' '}
              {formatCount(s.usage.outsidePools)} outside the pools
              {s.usage.quarantined === undefined
                ? ''
                : `, ${formatCount(s.usage.quarantined)} quarantined`}
            </dd>
            <dt>Id</dt>
            <dd>
              <code>{s.id}</code>
            </dd>
          </dl>
          <div class="subnet-layout">
            <AddressMap
              subnetId={id}
              subnetCidr={s.cidr}
              path={cellPath}
              version={version}
              onZoom={(cell) => go({ cell })}
              onAddress={(address) => go({ ip: address })}
              onRefresh={changed}
            />
            <div class="side">
              {ip !== undefined ? (
                <AddressPanel
                  key={ip}
                  subnetId={id}
                  ip={ip}
                  version={version}
                  onChanged={changed}
                  onClose={() => go({ ip: undefined })}
                />
              ) : null}
              <AllocateForm key={ip ?? ''} subnet={s} ip={ip} onAllocated={changed} />
            </div>
          </div>
          <AllocationsTable subnetId={id} version={version} onChanged={changed} />
        </>
      ) : null}
    </section>
  );
}
