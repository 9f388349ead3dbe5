// Shared bits of the capture tests: run a capture through the pipeline, build a standard exchange.
import { createCapturePipeline } from '../../src/capture/index.js';
import type { CaptureOptions, CaptureStats } from '../../src/capture/types.js';
import { TcpConv } from '../helpers/pcap-writer.js';
import { Recorder } from './recorder.js';

export const REQ = Buffer.from('set k 0 0 5\r\nhello\r\nget k\r\n');
export const RESP = Buffer.from('STORED\r\nVALUE k 0 5\r\nhello\r\nEND\r\n');

/** Runs capture bytes through a pipeline in chunks of `chunk` bytes (whole when omitted). */
export function feed(file: Buffer, opts: Partial<CaptureOptions> = {}, chunk = 0): { rec: Recorder; stats: CaptureStats } {
  const rec = new Recorder();
  const pipe = createCapturePipeline({ serverPorts: [11211], ...opts }, rec, 'test.pcap');
  if (chunk <= 0) pipe.push(file);
  else for (let o = 0; o < file.length; o += chunk) pipe.push(file.subarray(o, o + chunk));
  return { rec, stats: pipe.end() };
}

/** Runs capture bytes split at the given offsets. */
export function feedSplit(file: Buffer, cuts: number[], opts: Partial<CaptureOptions> = {}): { rec: Recorder; stats: CaptureStats } {
  const rec = new Recorder();
  const pipe = createCapturePipeline({ serverPorts: [11211], ...opts }, rec, 'test.pcap');
  let at = 0;
  for (const c of [...cuts, file.length]) {
    pipe.push(file.subarray(at, c));
    at = c;
  }
  return { rec, stats: pipe.end() };
}

/** The IP packets of one complete connection: handshake, REQ, RESP, FIN both ways. */
export function exchange(client = '10.0.0.1', server = '10.0.0.2', cport = 40000, sport = 11211): Buffer[] {
  const c = new TcpConv(client, cport, server, sport);
  return [...c.handshake(), c.send(0, REQ), c.send(1, RESP), c.packet(0, 'A'), c.fin(0), c.fin(1), c.packet(0, 'A')];
}
