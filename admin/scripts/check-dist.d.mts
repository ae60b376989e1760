/** Problems that make a portal build load something from another origin (empty: clean). */
export function checkDist(dist: string): string[];
export const INERT: { re: RegExp; why: string }[];
