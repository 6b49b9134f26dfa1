// The one error type the checkpoint reader throws: every refusal has a kind a caller (the options
// page, a tool) can act on, and a message a person can read. Anything else escaping the reader is
// a bug, which the fuzz tests look for.

export type CheckpointErrorKind =
  /** The bytes are not a zip archive at all (HTML, random bytes, a legacy torch.save file). */
  | 'not-zip'
  /** A zip archive cut short: its directory or an entry runs past the end of the file. */
  | 'truncated'
  /** Sizes, offsets or names that contradict each other or the file. */
  | 'inconsistent'
  /** A declared size or count beyond what any real checkpoint has. */
  | 'too-large'
  /** An entry stored compressed or encrypted (torch.save stores every entry as is). */
  | 'unsupported-entry'
  /** data.pkl is not a pickle this reader understands, or ran into one of its bounds. */
  | 'bad-pickle'
  /** The pickled object holds no dictionary of tensors where a checkpoint keeps one. */
  | 'no-state-dict'
  /** A tensor that cannot be described as a byte range of the file. */
  | 'bad-tensor'
  /** The tensors are not a ConvNeXt this extension can run (names, shapes, dtypes). */
  | 'wrong-model';

export class CheckpointError extends Error {
  override name = 'CheckpointError';
  constructor(
    readonly kind: CheckpointErrorKind,
    message: string,
  ) {
    super(message);
  }
}

/** "what: a, b, c ... and N more", as tools/realfake_ref/checkpoint.py lists names. */
export function listing(what: string, names: readonly string[], limit = 12): string {
  const more = names.length > limit ? ` ... and ${names.length - limit} more` : '';
  return `${what}: ${names.slice(0, limit).join(', ')}${more}`;
}
