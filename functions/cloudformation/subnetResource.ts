/**
 * `Custom::IpamSubnet`: carves a subnet from a subnet pool. A carve first writes down
 * the block it is about to take (a plan record), so a retry looks at that block and
 * finds the subnet there if the carve committed.
 */
import { SubnetNotFoundError, SubnetOverlapError } from '../../shared/errors.js';
import { parseCidr } from '../../shared/net/address.js';
import {
  carveSubnet,
  getPool,
  onSubnetDeleted,
  previewNextCidr,
} from '../../shared/pools/index.js';
import type { IpamContext } from '../../shared/store/context.js';
import type { Subnet } from '../../shared/subnets/subnet.js';
import {
  deleteSubnet,
  findOverlap,
  loadSubnet,
  updateSubnet,
} from '../../shared/subnets/subnets.js';
import { parseSubnetProperties, type SubnetSpec } from './properties.js';
import type { PlanRecord, ProviderRecord, ProviderRecords } from './records.js';
import type { CustomResourceRequest, CustomResourceResult, RequestRef } from './request.js';
import type { ResourceType } from './resource.js';
import { isGone, subnetResult, viewOf } from './results.js';
import { CFN_TAGS, cfnTags, mergedTags, sameTags } from './tags.js';

/** Carves that lose their planned block to a concurrent carve before giving up. */
const CARVE_ATTEMPTS = 10;

export class SubnetResource implements ResourceType<SubnetSpec> {
  constructor(
    private readonly ctx: IpamContext,
    private readonly records: ProviderRecords,
  ) {}

  parse(raw: unknown, ref: RequestRef): SubnetSpec {
    return parseSubnetProperties(raw, ref);
  }

  async create(
    spec: SubnetSpec,
    request: CustomResourceRequest,
    ref: RequestRef,
    records: readonly ProviderRecord[],
  ): Promise<CustomResourceResult> {
    const pool = await getPool(this.ctx, spec.poolId);
    const plan = records.find(
      (r): r is PlanRecord => r.kind === 'plan' && r.requestKey === ref.requestKey,
    );
    const ours = (subnet: Subnet) =>
      subnet.tags[CFN_TAGS.request] === ref.requestKey ||
      (subnet.id === request.PhysicalResourceId &&
        subnet.tags[CFN_TAGS.resource] === ref.resourceKey);
    /** Ours: the subnet; someone else's: 'taken'; nothing there: 'free'. */
    const lookAt = async (cidr: string): Promise<Subnet | 'taken' | 'free'> => {
      const holder = await findOverlap(this.ctx, pool.space, parseCidr(cidr));
      if (holder === undefined) return 'free';
      const subnet = await loadSubnet(this.ctx, holder.subnetId).catch((error: unknown) => {
        if (error instanceof SubnetNotFoundError) return undefined;
        throw error;
      });
      if (subnet === undefined) return 'free';
      return ours(subnet) ? subnet : 'taken';
    };
    const found = async (subnet: Subnet) =>
      subnet.id === request.PhysicalResourceId
        ? this.updateInPlace(subnet.id, spec, ref)
        : subnetResult(viewOf(subnet));

    let cidr = spec.cidr ?? plan?.cidr;
    if (cidr !== undefined) {
      // An earlier attempt of this request may have carved it already.
      const there = await lookAt(cidr);
      if (typeof there !== 'string') return found(there);
      if (there === 'taken' && spec.cidr === undefined) cidr = undefined;
    }
    for (let attempt = 1; ; attempt++) {
      cidr ??= (await previewNextCidr(this.ctx, pool.id, spec.prefixLength)).cidr;
      if (spec.cidr === undefined) await this.records.putPlan(ref, cidr, pool.space);
      try {
        const subnet = await carveSubnet(this.ctx, pool.id, {
          cidr,
          name: spec.name,
          tags: { ...spec.tags, ...cfnTags(ref) },
          reuseDelaySeconds: spec.reuseDelaySeconds,
        });
        return subnetResult(subnet);
      } catch (error) {
        if (!(error instanceof SubnetOverlapError)) throw error;
        // A duplicate delivery of this request won the block, or another carve did.
        const there = await lookAt(cidr);
        if (typeof there !== 'string') return found(there);
        if (spec.cidr !== undefined || attempt >= CARVE_ATTEMPTS) throw error;
        cidr = undefined;
      }
    }
  }

  async updateInPlace(
    physicalId: string,
    spec: SubnetSpec,
    ref: RequestRef,
  ): Promise<CustomResourceResult> {
    const current = await loadSubnet(this.ctx, physicalId);
    const tags = mergedTags(spec.tags, current.tags, ref);
    if (
      current.name === spec.name &&
      sameTags(current.tags, tags) &&
      current.reuseDelaySeconds === spec.reuseDelaySeconds
    ) {
      return subnetResult(viewOf(current));
    }
    return subnetResult(
      await updateSubnet(this.ctx, physicalId, {
        name: spec.name,
        tags,
        reuseDelaySeconds: spec.reuseDelaySeconds,
      }),
    );
  }

  async isOurs(physicalId: string, ref: RequestRef): Promise<boolean> {
    return (await loadSubnet(this.ctx, physicalId)).tags[CFN_TAGS.resource] === ref.resourceKey;
  }

  async remove(physicalId: string): Promise<void> {
    await deleteSubnet(this.ctx, physicalId, onSubnetDeleted).catch((error: unknown) => {
      if (!isGone(error)) throw error;
    });
  }

  /** Deletes the subnet the request carved: at its planned block (or Cidr), tagged with its key. */
  async undo(
    props: Record<string, unknown>,
    mine: readonly ProviderRecord[],
    requestKey: string,
  ): Promise<void> {
    const plan = mine.find((r): r is PlanRecord => r.kind === 'plan');
    const cidr = plan?.cidr ?? (typeof props.Cidr === 'string' ? props.Cidr : undefined);
    if (cidr === undefined) return;
    const space =
      plan?.space ??
      (typeof props.PoolId === 'string'
        ? (await getPool(this.ctx, props.PoolId)).space
        : undefined);
    if (space === undefined) return;
    const holder = await findOverlap(this.ctx, space, parseCidr(cidr));
    if (holder === undefined) return;
    const subnet = await loadSubnet(this.ctx, holder.subnetId);
    if (subnet.tags[CFN_TAGS.request] === requestKey)
      await deleteSubnet(this.ctx, subnet.id, onSubnetDeleted);
  }
}
