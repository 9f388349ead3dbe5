import { describe, expect, it } from 'vitest';
import { McError, ExitCode } from '../../src/errors.js';
import { describeTargets, formatHostPort, isLoopback, parseHostPort, parseTargets, serverKeyOf, targetAddresses, targetFor } from '../../src/topology/targets.js';

function usageError(fn: () => unknown, mentions: string[]): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(McError);
    expect((e as McError).exitCode).toBe(ExitCode.usage);
    for (const m of mentions) expect((e as McError).message).toContain(m);
    return;
  }
  throw new Error('expected a usage error');
}

describe('targets', () => {
  it('parses host:port, bare hosts, and bracketed IPv6', () => {
    expect(parseHostPort('new:11311', '--target')).toEqual({ host: 'new', port: 11311 });
    expect(parseHostPort('10.0.0.5', '--target')).toEqual({ host: '10.0.0.5', port: 11211 });
    expect(parseHostPort('[::1]:11211', '--target')).toEqual({ host: '::1', port: 11211 });
    expect(parseHostPort('[2001:DB8:0:0::1]', '--target')).toEqual({ host: '2001:db8::1', port: 11211 });
    expect(formatHostPort({ host: '2001:db8::1', port: 5 })).toBe('[2001:db8::1]:5');
  });

  it('rejects bad addresses with the option and value in the message', () => {
    usageError(() => parseHostPort('::1:11211', '--target'), ['--target', '::1:11211', 'brackets']);
    usageError(() => parseHostPort('host:99999', '--pool'), ['--pool', '99999']);
    usageError(() => parseHostPort('host:abc', '--target'), ['abc']);
    usageError(() => parseHostPort('[::1', '--target'), [']']);
    usageError(() => parseHostPort('[nothost]:1', '--target'), ['IPv6']);
    usageError(() => parseHostPort('', '--target'), ['empty']);
  });

  it('--server values take the serverKey form through the same parser (one host:port grammar)', () => {
    // the form the workload gives captured servers: "a.b.c.d:port", "[v6]:port" (RFC 5952)
    expect(serverKeyOf('10.0.0.1:11211', '--server')).toBe('10.0.0.1:11211');
    expect(serverKeyOf(' 10.0.0.1 ', '--server')).toBe('10.0.0.1:11211');
    expect(serverKeyOf('[2001:DB8:0:0::1]:11311', '--server')).toBe('[2001:db8::1]:11311');
    usageError(() => serverKeyOf('::1:11211', '--server'), ['--server', 'brackets']);
  });

  it('one target for everything', () => {
    const p = parseTargets({ target: ['new:11211'] });
    expect(p).toEqual({ kind: 'single', target: { host: 'new', port: 11211 } });
    expect(targetFor(p, '10.0.0.1:11211')).toEqual({ host: 'new', port: 11211 });
    expect(describeTargets(p)).toEqual([{ target: 'new:11211', from: ['*'] }]);
  });

  it('a mapping per captured server, with IPv6 and an optional fallback', () => {
    const p = parseTargets({ target: ['10.0.0.5:11211=new1:11211', '[fe80::0001]:11211=[::1]:22122', 'spare:11211'] });
    expect(p.kind).toBe('map');
    expect(targetFor(p, '10.0.0.5:11211')).toEqual({ host: 'new1', port: 11211 });
    expect(targetFor(p, '[fe80::1]:11211')).toEqual({ host: '::1', port: 22122 });
    expect(targetFor(p, '10.9.9.9:11211')).toEqual({ host: 'spare', port: 11211 });
    expect(targetFor(parseTargets({ target: ['a:1=b:2'] }), 'c:3')).toBeNull();
    expect(describeTargets(p)).toEqual([
      { target: 'new1:11211', from: ['10.0.0.5:11211'] },
      { target: '[::1]:22122', from: ['[fe80::1]:11211'] },
      { target: 'spare:11211', from: ['*'] },
    ]);
    expect(targetAddresses(p).map(formatHostPort)).toEqual(['new1:11211', '[::1]:22122', 'spare:11211']);
  });

  it('pools with a hash scheme', () => {
    expect(parseTargets({ pool: 'a:11211, b:11212', hash: 'KETAMA' })).toEqual({
      kind: 'pool',
      members: [{ host: 'a', port: 11211 }, { host: 'b', port: 11212 }],
      hash: 'ketama',
    });
    expect(parseTargets({ pool: 'a,b' })).toMatchObject({ hash: 'modulo' });
    for (const h of ['modulo', 'crc32', 'ketama', 'consistent', 'rendezvous']) expect(parseTargets({ pool: 'a,b', hash: h })).toMatchObject({ hash: h });
  });

  it('rejects conflicting or incomplete target options', () => {
    usageError(() => parseTargets({}), ['--target']);
    usageError(() => parseTargets({ pool: 'a,b', target: ['c'] }), ['--pool', '--target']);
    usageError(() => parseTargets({ target: ['c'], hash: 'ketama' }), ['--hash', '--pool']);
    usageError(() => parseTargets({ pool: 'a,b', hash: 'md5' }), ['--hash', 'md5']);
    usageError(() => parseTargets({ pool: 'a,,b' }), ['--pool', 'empty']);
    usageError(() => parseTargets({ pool: 'a:1,a:1' }), ['twice']);
    usageError(() => parseTargets({ target: ['a', 'b'] }), ['second target']);
    usageError(() => parseTargets({ target: ['x:1=a', 'x:1=b'] }), ['mapped twice']);
    usageError(() => parseTargets({ target: ['x:1=[::1'] }), ['--target']);
  });

  it('isLoopback', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', 'LOCALHOST', 'a.localhost', '::ffff:127.0.0.1', '0:0:0:0:0:0:0:1']) expect(isLoopback(h), h).toBe(true);
    for (const h of ['10.0.0.1', '128.0.0.1', '::2', 'example.com', '::ffff:10.0.0.1', 'localhost.example.com']) expect(isLoopback(h), h).toBe(false);
  });
});
