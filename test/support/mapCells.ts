/** The four counts of an address map cell (API.md "Address map"), for comparing cells. */
export const counts = (cell: {
  allocated: unknown;
  leased: unknown;
  quarantined: unknown;
  free: unknown;
}) => ({
  allocated: cell.allocated,
  leased: cell.leased,
  quarantined: cell.quarantined,
  free: cell.free,
});
