// memcached's UDP frame header (protocol.txt "UDP protocol"): 8 bytes before the text payload.

export interface UdpFrame {
  requestId: number;
  seq: number;
  total: number;
  body: Buffer;
}

/** Splits a memcached UDP datagram into its frame header and body; null when too short or inconsistent. */
export function parseUdpFrame(payload: Buffer): UdpFrame | null {
  if (payload.length < 8) return null;
  const seq = payload.readUInt16BE(2);
  const total = payload.readUInt16BE(4);
  if (total === 0 || seq >= total) return null;
  return { requestId: payload.readUInt16BE(0), seq, total, body: payload.subarray(8) };
}
