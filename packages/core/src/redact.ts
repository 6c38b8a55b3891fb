/**
 * Credentials never reach a log line or an error message (docs/spec.md §10 Security): the
 * user information of every URL in a text is masked, whatever the scheme (nats, tls, ws,
 * http ...). `nats://alice:s3cret@host` becomes `nats://alice:***@host`, `nats://tok@host`
 * becomes `nats://***@host`.
 */

const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#@"'<>\\]*)@/gi;

/** `text` with the password (or lone token) of every URL in it replaced by `***`. */
export function redactCredentials(text: string): string {
  return text.replace(URL_USERINFO, (_m, scheme: string, info: string) => {
    const colon = info.indexOf(':');
    return `${scheme}${colon < 0 ? '***' : `${info.slice(0, colon)}:***`}@`;
  });
}
