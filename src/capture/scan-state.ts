// What the pcap and pcapng scanners read and change of the reader (reader.ts implements it): the
// file's byte order and format details, its interfaces, and the reader's few callbacks. Apart from
// the reader so that the scanners and the reader do not import each other.

/** One capture interface: link type and timestamp units (pcap files have exactly one). */
export interface Iface {
  link: number;
  snaplen: number;
  /** Timestamp ticks per second (pcapng if_tsresol; pcap 1e6 or 1e9). */
  units: number;
  /** ns per tick when that is a whole number, else 0 (then fracMul is used with floor). */
  nsPerTick: number;
  fracMul: number;
  offsetSec: number;
  /** Cache of the split of hi·2^32 ticks into seconds and remainder ticks (pcapng). */
  hi: number;
  hiSec: number;
  hiRem: number;
  packets: number;
}

/** A new interface with the given link type, snaplen and ticks per second. */
export function newIface(link: number, snaplen: number, units: number, offsetSec = 0): Iface {
  const perTick = 1e9 / units;
  return {
    link,
    snaplen,
    units,
    nsPerTick: Number.isInteger(perTick) ? perTick : 0,
    fracMul: perTick,
    offsetSec,
    hi: -1,
    hiSec: 0,
    hiRem: 0,
    packets: 0,
  };
}

/** The reader as the record scanners (pcap.ts, pcapng.ts) use it. */
export interface ScanState {
  /** Byte order of the file (pcapng: of the current section). */
  le: boolean;
  nano: boolean;
  /** pcap: the 24-byte file header was read. */
  headerDone: boolean;
  /** pcap record header length: 16, or 24 for the "modified" (Kuznetzov) format. */
  recHdr: number;
  maxCaplen: number;
  ifaces: Iface[];
  ifaceSeen: boolean;
  badBlocks: number;
  stopped: boolean;
  lastSec: number;
  lastFrac: number;
  /** Offers a frame read from the file. */
  emit(ifc: Iface, buf: Buffer, off: number, caplen: number, origlen: number, sec: number, frac: number): void;
  /** Counts an option value that is out of its range. */
  badOption(name: string, what: string): void;
  /** Stops reading at offset off of the current buffer. */
  corrupt(off: number, why: string): void;
  /** A new pcapng section starts. */
  retire(): void;
}
