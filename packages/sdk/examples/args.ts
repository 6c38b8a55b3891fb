/** Tiny flag reader shared by the examples: --nats URL --cluster ID --beats N. */
export function exampleArgs(): { nats: string; cluster: string; beats: number } {
  const get = (name: string, fallback: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
  };
  return {
    nats: get('nats', 'nats://127.0.0.1:4222'),
    cluster: get('cluster', 'chorus-aus-01'),
    beats: Number(get('beats', '8')),
  };
}
