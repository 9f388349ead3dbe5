// A StreamSink for tests: keeps every event as a line of text, and each direction's bytes.
import type { CloseReason, Dir, StreamSink, TcpFlowInfo, UdpDatagram } from '../../src/capture/types.js';

export interface RecordedFlow {
  info: TcpFlowInfo;
  /** Per direction: bytes and gap markers in order. */
  parts: [(Buffer | number)[], (Buffer | number)[]];
  close?: { ts: number; reason: CloseReason };
}

/** Records everything a capture pipeline emits. */
export class Recorder implements StreamSink {
  readonly log: string[] = [];
  readonly flows = new Map<number, RecordedFlow>();
  readonly datagrams: (Omit<UdpDatagram, 'payload'> & { payload: Buffer })[] = [];
  lastTs = -Infinity;
  tsWentBack = 0;

  private ts(t: number): void {
    if (t < this.lastTs) this.tsWentBack++;
  }

  open(flow: TcpFlowInfo): void {
    this.flows.set(flow.id, { info: flow, parts: [[], []] });
    this.log.push(`open ${flow.id} ${flow.client.addr}:${flow.client.port} > ${flow.server.addr}:${flow.server.port} t=${flow.startNs} syn=${flow.synSeen} by=${flow.serverBy}`);
  }
  data(flowId: number, dir: Dir, data: Buffer, tsNs: number): void {
    this.flows.get(flowId)!.parts[dir].push(Buffer.from(data));
    this.log.push(`data ${flowId}.${dir} ${data.toString('hex')} t=${tsNs}`);
  }
  gap(flowId: number, dir: Dir, bytes: number, tsNs: number): void {
    this.flows.get(flowId)!.parts[dir].push(bytes);
    this.log.push(`gap ${flowId}.${dir} ${bytes} t=${tsNs}`);
  }
  close(flowId: number, tsNs: number, reason: CloseReason): void {
    this.flows.get(flowId)!.close = { ts: tsNs, reason };
    this.log.push(`close ${flowId} ${reason} t=${tsNs}`);
  }
  datagram(d: UdpDatagram): void {
    this.datagrams.push({ ...d, payload: Buffer.from(d.payload) });
    this.log.push(`udp ${d.client.addr}:${d.client.port} ${d.dir} ${d.server.addr}:${d.server.port} ${d.payload.toString('hex')} t=${d.tsNs}`);
  }

  /** Bytes of one direction with gaps, as text: "abc<gap 3>def", "<gap ?>" for an unknown size. */
  text(flowId: number, dir: Dir): string {
    return this.flows
      .get(flowId)!
      .parts[dir].map((p) => (typeof p === 'number' ? `<gap ${p < 0 ? '?' : p}>` : p.toString('latin1')))
      .join('');
  }

  /** Bytes of one direction, gaps left out. */
  bytes(flowId: number, dir: Dir): Buffer {
    return Buffer.concat(this.flows.get(flowId)!.parts[dir].filter((p): p is Buffer => typeof p !== 'number'));
  }

  /** Flows in open order. */
  get list(): RecordedFlow[] {
    return [...this.flows.values()];
  }
}
