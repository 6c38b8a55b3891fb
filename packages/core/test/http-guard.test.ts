import { describe, expect, it } from 'vitest';
import {
  bearerHeader,
  bearerMatches,
  errorAnswer,
  guardRequest,
  httpServerOptions,
  isLoopbackHost,
  loopbackBindProblem,
  parseBearer,
  redactCredentials,
} from '@backbeat/core';

const req = (method: string, headers: Record<string, string>) => ({
  method,
  url: '/api/v1/tempo',
  headers: { host: '127.0.0.1:8080', ...headers },
});

describe('http guard - one bearer rule for every server', () => {
  it(
    'guard - the scheme is case-insensitive (RFC 7235), spaces or ' + 'tabs separate it, the token has no whitespace',
    () => {
      for (const h of ['Bearer s3cret', 'bearer s3cret', 'BEARER s3cret', 'Bearer \ts3cret', 'Bearer s3cret '])
        expect(parseBearer(h)).toBe('s3cret');
      for (const h of [
        undefined,
        '',
        'Bearer',
        'Bearer ',
        'Basic s3cret',
        'Bearers3cret',
        'Bearer a b',
        'xBearer s3cret',
      ])
        expect(parseBearer(h)).toBeUndefined();
    },
  );

  it('guard - a token matches only exactly (no prefix, no longer token, none without a header)', () => {
    expect(bearerMatches('bearer s3cret', 's3cret')).toBe(true);
    expect(bearerMatches('Bearer s3cre', 's3cret')).toBe(false);
    expect(bearerMatches('Bearer s3crett', 's3cret')).toBe(false);
    expect(bearerMatches(undefined, 's3cret')).toBe(false);
  });

  it('guard - loopback names and addresses agree with and without brackets and ports', () => {
    for (const h of [
      '127.0.0.1',
      '127.1.2.3:8090',
      '::1',
      '[::1]',
      '[::1]:8080',
      'localhost',
      'LOCALHOST:80',
      '::ffff:127.0.0.1',
      '[::ffff:127.0.0.1]:1',
    ]) {
      expect(isLoopbackHost(h), h).toBe(true);
    }
    for (const h of [
      '0.0.0.0',
      '10.0.0.1',
      '::',
      '[::]:80',
      'example.com',
      'localhost.example.com',
      '127.0.0.1.nip.io',
      '',
    ])
      expect(isLoopbackHost(h), h).toBe(false);
  });
});

describe('http guard - browser attacks on a tokenless server', () => {
  it('guard - a foreign Host (DNS rebinding) is refused 403, for reads and for changes', () => {
    for (const method of ['GET', 'POST']) {
      const r = guardRequest(
        req(method, { host: 'rebind.attacker.example:8080', 'content-type': 'application/json' }),
        {},
      );
      expect(r?.status).toBe(403);
      expect(r?.body).toMatchObject({
        error: 'BB_ERR_FORBIDDEN',
        message: expect.stringMatching(/Host "rebind\.attacker\.example:8080" is not a loopback/),
      });
    }
  });

  it('guard - a cross-origin POST is refused 403 whatever its type; Origin null too', () => {
    for (const origin of ['http://attacker.example', 'http://127.0.0.1:9999', 'null']) {
      const r = guardRequest(req('POST', { origin, 'content-type': 'application/json' }), {});
      expect(r?.status, origin).toBe(403);
      expect(r?.body.message).toMatch(/cross-site requests cannot change state/);
    }
  });

  it(
    'guard - a text/plain or form POST (sent by a browser without asking) ' +
      'is refused 415; JSON from the same origin passes',
    () => {
      for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', '']) {
        const r = guardRequest(req('POST', type ? { 'content-type': type } : {}), {});
        expect(r?.status, type).toBe(415);
        expect(r?.body.error).toBe('BB_ERR_UNSUPPORTED_MEDIA_TYPE');
      }
      expect(
        guardRequest(
          req('POST', { 'content-type': 'application/json; charset=utf-8', origin: 'http://127.0.0.1:8080' }),
          {},
        ),
      ).toBeUndefined();
      expect(guardRequest(req('GET', { origin: 'http://attacker.example' }), {})).toBeUndefined();
    },
  );
});

describe('http guard - a server with a token', () => {
  it(
    'guard - any Host is served; a change needs the token (401 with ' +
      'WWW-Authenticate) and passes with it whatever its type',
    () => {
      expect(guardRequest(req('GET', { host: 'pulse.internal:8080' }), { token: 't' })).toBeUndefined();
      const none = guardRequest(req('POST', { host: 'pulse.internal:8080', 'content-type': 'application/json' }), {
        token: 't',
      });
      expect(none).toMatchObject({
        status: 401,
        headers: { 'www-authenticate': 'Bearer' },
        body: { error: 'BB_ERR_UNAUTHORIZED' },
      });
      expect(
        guardRequest(req('POST', { host: 'pulse.internal:8080', authorization: 'bearer t' }), { token: 't' }),
      ).toBeUndefined();
      const cross = guardRequest(
        req('POST', { host: 'pulse.internal:8080', authorization: 'Bearer t', origin: 'http://attacker.example' }),
        { token: 't' },
      );
      expect(cross?.status).toBe(403);
    },
  );
});

describe('http guard - limits and error answers', () => {
  it('guard - every server gets request, header, idle and body limits', () => {
    const o = httpServerOptions({ requestTimeoutMs: 500 });
    expect(o).toMatchObject({ requestTimeout: 500, bodyLimit: 65536, http: { headersTimeout: 500 } });
    expect(o.connectionTimeout).toBeGreaterThan(0);
  });

  it('guard - fastify errors become registered codes', () => {
    expect(errorAnswer({ statusCode: 413, message: 'Request body is too large' })).toMatchObject({
      status: 413,
      body: { error: 'BB_ERR_BODY_TOO_LARGE' },
    });
    expect(
      errorAnswer({ statusCode: 400, validation: [], message: 'body/tempo_bpm must be number' }).body.message,
    ).toBe('body: tempo_bpm must be number');
    expect(errorAnswer({ message: 'boom' })).toEqual({
      status: 500,
      body: { error: 'BB_ERR_INTERNAL', message: 'internal error' },
    });
  });
});

describe('redact - credentials in URLs', () => {
  it('redact - passwords and lone tokens of every URL in a text are masked; other text is kept', () => {
    expect(redactCredentials('nats://alice:s3cret@10.0.0.1:4222')).toBe('nats://alice:***@10.0.0.1:4222');
    expect(redactCredentials('cannot connect to nats://tok3n@a:4222,tls://bob:pw@b:4222 (x)')).toBe(
      'cannot connect to nats://***@a:4222,tls://bob:***@b:4222 (x)',
    );
    expect(redactCredentials('{"nats":"nats://u:p%40ss@h:1"}')).toBe('{"nats":"nats://u:***@h:1"}');
    expect(redactCredentials('nats://127.0.0.1:4222 and mail@example.com')).toBe(
      'nats://127.0.0.1:4222 and mail@example.com',
    );
  });
});

describe('http guard - what clients send and where servers listen', () => {
  it('bearerHeader - the header a client sends parses back to its token; none without a token', () => {
    expect(bearerHeader(undefined)).toEqual({});
    expect(bearerHeader('')).toEqual({});
    const h = bearerHeader('s3cret');
    expect(parseBearer(h.authorization)).toBe('s3cret');
    expect(bearerMatches(h.authorization, 's3cret')).toBe(true);
  });

  it('loopbackBindProblem - without a token only loopback addresses ([::1] too); with one, any', () => {
    for (const host of ['127.0.0.1', '::1', '[::1]', 'localhost'])
      expect(loopbackBindProblem('x', host, undefined), host).toBeUndefined();
    expect(loopbackBindProblem('the admin API', '0.0.0.0', undefined)).toBe(
      "without --admin-token the admin API listens on loopback only (127.0.0.1 or ::1), got '0.0.0.0'",
    );
    expect(loopbackBindProblem('x', '::', undefined)).toMatch(/loopback only/);
    expect(loopbackBindProblem('x', '0.0.0.0', 't0ken')).toBeUndefined();
  });
});
