// Finds the images worth judging: <img> elements rendered at least the minimum size, using
// currentSrc so srcset/picture resolve to the file the user actually sees.

export interface Candidate {
  image: HTMLImageElement;
  url: string;
}

function usableUrl(image: HTMLImageElement): string | null {
  const url = image.currentSrc || image.src;
  if (!url) return null;
  return /^(https?:|data:image\/)/i.test(url) ? url : null;
}

/** Images not yet asked about (or whose source changed), in document order. */
export function findCandidates(
  asked: WeakMap<HTMLImageElement, string>,
  minSize: number,
): Candidate[] {
  const found: Candidate[] = [];
  for (const image of Array.from(document.images)) {
    const url = usableUrl(image);
    if (!url || asked.get(image) === url) continue;
    const rect = image.getBoundingClientRect();
    if (rect.width < minSize || rect.height < minSize) continue;
    found.push({ image, url });
  }
  return found;
}
