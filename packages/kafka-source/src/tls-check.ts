import { existsSync, readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { connect, rootCertificates } from 'node:tls';
import { TicketflowError } from '@ticketflow/core';

/**
 * CA bundles librdkafka probes on Linux when no CA is given (its `ssl.ca.location=probe` list): the
 * check trusts these as well as Node's own roots, so that it never refuses a broker the client accepts.
 */
const SYSTEM_CA_BUNDLES = [
  '/etc/pki/tls/certs/ca-bundle.crt',
  '/etc/ssl/certs/ca-bundle.crt',
  '/etc/pki/tls/certs/ca-bundle.trust.crt',
  '/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem',
  '/etc/ssl/ca-bundle.pem',
  '/etc/pki/tls/cacert.pem',
  '/etc/ssl/cert.pem',
  '/etc/ssl/cacert.pem',
  '/etc/certs/ca-certificates.crt',
  '/etc/ssl/certs/ca-certificates.crt',
  '/usr/local/etc/openssl/cert.pem',
  '/usr/local/etc/openssl@1.1/cert.pem',
  '/opt/homebrew/etc/openssl@3/cert.pem',
  '/opt/homebrew/etc/openssl@1.1/cert.pem',
];

const readable = (path: string) => {
  try {
    return existsSync(path) && statSync(path).isFile() ? readFileSync(path, 'utf8') : undefined;
  } catch {
    return undefined;
  }
};

/** The CAs librdkafka would trust under `config`; `undefined` when the check cannot tell (a CA folder). */
function trustedCas(config: Readonly<Record<string, unknown>>): string[] | undefined {
  const pem = config['ssl.ca.pem'];
  if (typeof pem === 'string' && pem.length > 0) return [pem];
  const location = config['ssl.ca.location'];
  if (typeof location === 'string' && location !== 'probe' && location.length > 0) {
    const text = readable(location);
    return text === undefined ? undefined : [text];
  }
  const cas = [...rootCertificates];
  const system = SYSTEM_CA_BUNDLES.map(readable).find((text) => text !== undefined);
  if (system !== undefined) cas.push(system);
  const extra = process.env.NODE_EXTRA_CA_CERTS;
  if (extra) {
    const text = readable(extra);
    if (text !== undefined) cas.push(text);
  }
  return cas;
}

const isOff = (v: unknown) => v === false || v === 'false' || v === 'none' || v === '';

/** The one-line error of a broker certificate that failed verification, naming the fix. */
export function certificateError(
  code: string,
  host: string,
  context: string,
  brokers: string,
): TicketflowError {
  const flags = { retriable: false, fatal: true };
  const at = `${context}: TLS certificate verification failed for the brokers at ${brokers}`;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID' || code === 'HOSTNAME_MISMATCH') {
    return new TicketflowError(
      'AUTHENTICATION_FAILED',
      `${at} (${code}: the certificate is not issued for ${host}): connect by a host name the certificate lists`,
      flags,
    );
  }
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
    return new TicketflowError(
      'AUTHENTICATION_FAILED',
      `${at} (${code}): the brokers' certificate is outside its validity dates, renew it (or check this machine's clock)`,
      flags,
    );
  }
  return new TicketflowError(
    'AUTHENTICATION_FAILED',
    `${at} (${code}: their certificate is not signed by a CA this client trusts): give the CA that signed it with KAFKA_SSL_CA or --ssl-ca (tls.ca in code)`,
    flags,
  );
}

/** Handshakes with one broker; resolves with its verification error code, `null` when trusted, `undefined` when unknown. */
function handshake(
  host: string,
  port: number,
  ca: string[],
  checkHost: boolean,
  timeoutMs: number,
): Promise<string | null | undefined> {
  return new Promise((resolve) => {
    const socket = connect({
      host,
      port,
      ca,
      rejectUnauthorized: false,
      ...(isIP(host) === 0 ? { servername: host } : {}),
      ...(checkHost ? {} : { checkServerIdentity: () => undefined }),
    });
    const done = (result: string | null | undefined) => {
      clearTimeout(timer);
      socket.removeAllListeners();
      socket.on('error', () => {});
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    timer.unref();
    socket.once('secureConnect', () =>
      done(socket.authorized ? null : String(socket.authorizationError ?? 'UNABLE_TO_VERIFY')),
    );
    // Unreachable, not TLS, or refused for another reason: the client itself reports those.
    socket.once('error', () => done(undefined));
  });
}

/**
 * Before a client connects over TLS, checks the brokers' certificates the way librdkafka will (same CA,
 * same host-name check), so that an unknown CA fails at once with one line that names the certificate
 * verification and the fix, instead of librdkafka's "ssl error" retried until the connect timeout.
 * Does nothing without TLS, without verification, or when the client's settings cannot be mirrored (a
 * CA folder). Only a certificate that fails verification is reported: an unreachable broker, or any
 * other handshake failure, is left to the client. Tries the bootstrap brokers in order until one
 * answers, within `timeoutMs` in all.
 *
 * @throws {TicketflowError} `AUTHENTICATION_FAILED`, not retriable, when a broker's certificate fails
 *   verification.
 */
export async function checkBrokerCertificates(
  config: Readonly<Record<string, unknown>>,
  context: string,
  timeoutMs = 3_000,
): Promise<void> {
  const protocol = String(config['security.protocol'] ?? 'plaintext').toLowerCase();
  if (protocol !== 'ssl' && protocol !== 'sasl_ssl') return;
  if (isOff(config['enable.ssl.certificate.verification'])) return;
  const ca = trustedCas(config);
  if (ca === undefined) return;
  const checkHost = !isOff(config['ssl.endpoint.identification.algorithm'] ?? 'https');
  const brokers = String(config['bootstrap.servers'] ?? '');
  const deadline = Date.now() + timeoutMs;
  for (const broker of brokers.split(',')) {
    const match = /^\[?([^\]]+?)\]?:(\d+)$/.exec(broker.trim());
    const remaining = deadline - Date.now();
    if (match === null || remaining <= 0) continue;
    const [, host, port] = match as unknown as [string, string, string];
    const result = await handshake(host, Number(port), ca, checkHost, remaining);
    if (result === null) return;
    if (result !== undefined) throw certificateError(result, host, context, brokers);
  }
}
