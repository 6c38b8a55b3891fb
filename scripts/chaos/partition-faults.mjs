/** The faults the partition chaos run applies: isolations, a client-port cut, a flap, a one-way cut. */

/** The fault's own duration: part of the fault, not a wait for a condition. */
const hold = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * The faults of the partition chaos run, in order. `net` is the NetCluster; `leaderHost()` finds
 * the pulse holding the lease; `placeStreams(want, host)` moves stream leaders onto or off a host;
 * `beatStreamOff(host)` waits until the beat stream is led from another host.
 * Each `run` returns the hosts in the minority.
 */
export function partitionFaults({ net, leaderHost, placeStreams, beatStreamOff, log }) {
  return [
    {
      name: 'a',
      title: "leader's host isolated 10 s",
      run: async () => {
        const l = await leaderHost();
        await placeStreams(false, l.host);
        log(`(a) isolating ${net.hosts[l.host].name} (leader ${l.id}, term ${l.term}) for 10 s`);
        await net.isolate(l.host);
        await hold(10_000);
        await net.heal();
        return { minority: [l.host] };
      },
    },
    {
      name: 'b',
      title: "follower's host isolated 10 s",
      run: async () => {
        const l = await leaderHost();
        const h = l.host === 0 ? 1 : 0;
        log(
          `(b) isolating ${net.hosts[h].name} (the follower pulse's host; leader ${l.id} on ${net.hosts[l.host].name}) for 10 s`,
        );
        await net.isolate(h);
        await hold(10_000);
        await net.heal();
        return { minority: [h] };
      },
    },
    {
      name: 'b2',
      title: "follower's host isolated 10 s, its node leading lease+state",
      run: async () => {
        const l = await leaderHost();
        const h = l.host === 0 ? 1 : 0;
        // Where the leader's placement lets them be (off its own server); the beat stream it keeps elsewhere.
        await placeStreams(true, h);
        await beatStreamOff(h);
        log(
          `(b2) isolating ${net.hosts[h].name} (the follower pulse's host, leading the lease and state streams; ` +
            `leader ${l.id} on ${net.hosts[l.host].name}) for 10 s`,
        );
        await net.isolate(h);
        await hold(10_000);
        await net.heal();
        return { minority: [h] };
      },
    },
    {
      name: 'c',
      title: "clients cut from the leader's NATS node 10 s",
      run: async () => {
        const l = await leaderHost();
        log(
          `(c) cutting tcp port 4222 on ${net.hosts[l.host].name} (leader ${l.id}) for 10 s: its clients lose it, routes stay`,
        );
        await net.cutPort(l.host, 4222);
        await hold(10_000);
        await net.heal();
        return { minority: [l.host] };
      },
    },
    {
      name: 'c2',
      title: "leader's host isolated 10 s, its node leading lease+state",
      run: async () => {
        const l = await leaderHost();
        await placeStreams(true, l.host);
        log(
          `(c2) isolating ${net.hosts[l.host].name} (leader ${l.id}, term ${l.term}; its node leads the lease and state streams) for 10 s`,
        );
        await net.isolate(l.host);
        await hold(10_000);
        await net.heal();
        return { minority: [l.host] };
      },
    },
    {
      name: 'd',
      title: "flapping: leader's host isolated 5 s, healed, again 5 s",
      run: async () => {
        const l = await leaderHost();
        await placeStreams(false, l.host);
        log(`(d) isolating ${net.hosts[l.host].name} (leader ${l.id}) 5 s, heal, 1 s, isolate again 5 s`);
        await net.isolate(l.host);
        await hold(5000);
        await net.heal();
        await hold(1000);
        await net.isolate(l.host);
        await hold(5000);
        await net.heal();
        return { minority: [l.host] };
      },
    },
    {
      name: 'e',
      title: "one way: leader's host sends nothing 10 s",
      run: async () => {
        const l = await leaderHost();
        await placeStreams(false, l.host);
        log(`(e) dropping what ${net.hosts[l.host].name} (leader ${l.id}) sends, for 10 s; it still receives`);
        for (const h of net.hosts) if (h.index !== l.host) await net.cutOneWay(l.host, h.index);
        await hold(10_000);
        await net.heal();
        return { minority: [l.host] };
      },
    },
  ];
}
