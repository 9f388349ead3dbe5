// Unit formatting: latencies read in the unit they live in (a loopback memcached answers in tens
// of µs; "0 ms" would be a bug), and the other report numbers read as people write them.
import { describe, expect, it } from 'vitest';
import { fmtBytes, fmtClock, fmtDuration, fmtInt, fmtNines, fmtNs, fmtPct, fmtRate, fmtSI, timeUnit } from '../../src/report/format.js';

describe('format', () => {
  it('latency picks ns/µs/ms/s by magnitude and never rounds a µs latency to 0', () => {
    expect(fmtNs(850)).toBe('850 ns');
    expect(fmtNs(42_130)).toBe('42.1 µs');
    expect(fmtNs(999_400)).toBe('999 µs');
    expect(fmtNs(1_250_000)).toBe('1.25 ms');
    expect(fmtNs(3_000_000_000)).toBe('3 s');
    expect(fmtNs(0)).toBe('0');
    for (let ns = 1_000; ns < 1e6; ns *= 1.37) expect(fmtNs(ns)).toMatch(/^[1-9][\d.,]* µs$/);
    expect(timeUnit(45_000).name).toBe('µs');
  });
  it('counts, rates, bytes, ratios and clocks', () => {
    expect(fmtInt(1234567)).toBe('1,234,567');
    expect(fmtSI(950)).toBe('950');
    expect(fmtSI(12_345)).toBe('12.3 k');
    expect(fmtSI(4_500_000)).toBe('4.5 M');
    expect(fmtRate(0.5)).toBe('0.5/s');
    expect(fmtRate(9_998)).toBe('9,998/s');
    expect(fmtRate(2_500_000)).toBe('2.5 M/s');
    expect(fmtBytes(512)).toBe('512 B');
    expect(fmtBytes(1536)).toBe('1.5 KiB');
    expect(fmtBytes(3.2 * 1024 ** 3)).toBe('3.2 GiB');
    expect(fmtPct(0.973)).toBe('97.3 %');
    expect(fmtPct(0.9999)).toBe('99.99 %');
    expect(fmtPct(null)).toBe('–');
    expect(fmtClock(45)).toBe('0:45');
    expect(fmtClock(3723)).toBe('1:02:03');
    expect(fmtDuration(90e9)).toBe('1 min 30 s');
    expect(fmtDuration(3600e9)).toBe('1 h');
    expect(fmtDuration(350e6)).toBe('350 ms');
  });
  it('spectrum labels: 1/(1−p) as percentiles', () => {
    expect([1, 2, 10, 100, 1000, 1e4, 1e6].map(fmtNines)).toEqual(['0%', '50%', '90%', '99%', '99.9%', '99.99%', '99.9999%']);
  });
});
