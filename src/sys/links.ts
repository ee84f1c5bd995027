// weft's mark on the links it creates: ifalias `weft:<owner id>`. Ownership is decided by mark and
// record, never by name prefix (design.md). Reading and deleting links is LinkOps' job.

/** The mark weft puts on every link it creates: ifalias `weft:<owner id>`. */
export const WEFT_ALIAS_PREFIX = 'weft:';

/** Owner id from a weft mark, or undefined for links weft did not mark. */
export function ownerOfAlias(alias: string | undefined): string | undefined {
  return alias?.startsWith(WEFT_ALIAS_PREFIX) ? alias.slice(WEFT_ALIAS_PREFIX.length) : undefined;
}
