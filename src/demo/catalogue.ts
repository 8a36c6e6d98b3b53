/**
 * The demo upstream's data: a deterministic movie catalogue in TMDB's shape.
 * Version 2 is "the upstream changed": every 10th movie has a new title and
 * vote count, and five movies are added at the end.
 */
export interface Movie {
  id: number;
  title: string;
  original_language: string;
  release_date: string;
  popularity: number;
  vote_average: number;
  vote_count: number;
  genre_ids: number[];
}

export const ADDED_IN_V2 = 5;

export function movieAt(index: number, version: number): Movie {
  const id = 1000 + index;
  const changed = version >= 2 && index % 10 === 0;
  const year = 1950 + (index % 75);
  return {
    id,
    title: changed ? `Movie ${id} (Director's Cut)` : `Movie ${id}`,
    original_language: ["en", "fr", "ja", "es", "de"][index % 5],
    release_date: `${year}-${String((index % 12) + 1).padStart(2, "0")}-${String((index % 28) + 1).padStart(2, "0")}`,
    popularity: Math.round((10_000 - index * 0.37) * 100) / 100,
    vote_average: Math.round(((index * 7) % 100) / 10) + 0.5,
    vote_count: (index * 13) % 5000 + (changed ? 1 : 0),
    genre_ids: [(index % 19) + 1, ((index * 3) % 19) + 1],
  };
}

export function catalogueSize(base: number, version: number): number {
  return base + (version >= 2 ? ADDED_IN_V2 : 0);
}
