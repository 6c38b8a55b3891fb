/**
 * @backbeat/testing/internal: the harness's own parts that are not its API (the network
 * namespaces NetCluster makes and sweeps), for the harness's tests.
 */
export { missingForNetns, sweepOrphans, listNetns, NETNS_PREFIX } from './netns.js';
