// kube-proxy's partial sync for one changed service: only its chains, from the same generators.
import t from 'tap';
import { iptablesPartialSync, nftablesPartialSync } from '../../src/bench/baselines/partial-sync.js';
import { endpointChain, serviceChain } from '../../src/bench/baselines/kube-proxy-chains.js';
import type { DesiredService } from '../../src/model/desired-services.js';

const web: DesiredService = {
  owner: 'ns/web:http',
  frontend: { address: '10.96.0.10', port: 80, protocol: 'TCP' },
  backends: [
    { address: '10.244.0.21', port: 8080 },
    { address: '10.244.0.22', port: 8080 },
  ],
};

t.test('iptables: the service chain and its endpoint chains, flushed by declaration', async (t) => {
  const text = iptablesPartialSync(web, '10.244.0.0/16');
  const lines = text.trim().split('\n');
  t.equal(lines[0], '*nat');
  t.equal(lines.at(-1), 'COMMIT');
  const svc = serviceChain('ns/web:http', 'tcp');
  t.ok(lines.includes(`:${svc} - [0:0]`));
  t.ok(lines.includes(`:${endpointChain('ns/web:http', 'tcp', '10.244.0.22:8080')} - [0:0]`));
  t.notOk(
    lines.some((l) => l.includes('KUBE-SERVICES') || l.includes('KUBE-POSTROUTING') || l.startsWith(':KUBE-MARK-MASQ')),
    'dispatch and shared chains untouched',
  );
  t.equal(lines.filter((l) => l.includes('-j DNAT')).length, 2);
  t.ok(
    lines.some((l) => l.startsWith(`-A ${svc}`) && l.includes('KUBE-MARK-MASQ')),
    'the masquerade rule of the service chain is part of it',
  );
});

t.test('nftables: the service chain and its endpoint chains, nothing shared', async (t) => {
  const lines = nftablesPartialSync(web).trim().split('\n');
  t.ok(
    lines.every((l) => /kube-proxy (service|endpoint)-[A-Z0-9]{8}-ns\/web\/tcp\/http/.test(l)),
    'only the service’s own chains',
  );
  t.equal(lines.filter((l) => l.startsWith('flush chain')).length, 3, 'service chain and two endpoint chains flushed');
  t.ok(lines.some((l) => l.includes('numgen random mod 2 vmap')));
  t.notOk(
    lines.some((l) => l.includes('element')),
    'the service-ips element stays',
  );
});

t.test('an address that is not one is reported with the service', async (t) => {
  t.throws(() => iptablesPartialSync({ ...web, frontend: { ...web.frontend, address: 'nope' } }), /ns\/web:http: nope/);
});
