// Integer reads from Buffers without bounds checks or method dispatch: the readers call these for
// every record, and plain indexed loads compile to the tightest code V8 has.

/** Unsigned 16-bit big-endian at off. */
export function u16be(b: Uint8Array, off: number): number {
  return (b[off]! << 8) | b[off + 1]!;
}

/** Unsigned 16-bit little-endian at off. */
export function u16le(b: Uint8Array, off: number): number {
  return b[off]! | (b[off + 1]! << 8);
}

/** Unsigned 32-bit big-endian at off. */
export function u32be(b: Uint8Array, off: number): number {
  return ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
}

/** Unsigned 32-bit little-endian at off. */
export function u32le(b: Uint8Array, off: number): number {
  return (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0;
}

/** Unsigned 16-bit in the given byte order. */
export function u16(b: Uint8Array, off: number, le: boolean): number {
  return le ? u16le(b, off) : u16be(b, off);
}

/** Unsigned 32-bit in the given byte order. */
export function u32(b: Uint8Array, off: number, le: boolean): number {
  return le ? u32le(b, off) : u32be(b, off);
}

/** The first bytes of a buffer as hex plus printable ASCII, for error messages about unknown files. */
export function describeBytes(b: Uint8Array, max = 16): string {
  const n = Math.min(max, b.length);
  if (n === 0) return 'the file is empty';
  let hex = '';
  let text = '';
  for (let i = 0; i < n; i++) {
    const c = b[i]!;
    hex += (i ? ' ' : '') + c.toString(16).padStart(2, '0');
    text += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '.';
  }
  return `first bytes ${hex} "${text}"`;
}
