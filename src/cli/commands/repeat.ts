// Repeatable flags (--subnet A --subnet B). No default value, so help shows no "(default: [])";
// actions read them with `?? []`.
export const repeat = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];
