// The machine has no network; an image build in it reaches Debian's mirror through this proxy, as
// hosts behind a corporate proxy do (`http_proxy`, which `podman build` hands to every RUN). It
// listens on a Unix socket in the directory the machine shares, where relay.mjs, inside the
// machine, hands it each TCP connection. Plain HTTP to Debian's mirrors only: nothing else leaves.
import net from 'node:net';

const ALLOWED = /^(deb|security)\.debian\.org$/;

export function startProxy(socketPath: string): net.Server {
  const server = net.createServer((client) => {
    client.once('data', (head: Buffer) => {
      const request = head.toString('latin1');
      const host = /\r\nHost: ([^:\r\n]+)(?::(\d+))?\r\n/i.exec(request);
      if (!/^[A-Z]+ http:\/\//.test(request) || !host || !ALLOWED.test(host[1] as string)) {
        client.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n');
        return;
      }
      const upstream = net.connect(Number(host[2] ?? 80), host[1] as string, () => {
        upstream.write(head);
        client.pipe(upstream).pipe(client);
      });
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    });
  });
  server.listen(socketPath);
  // The test process ends when the scenario does, whether or not the machine asked for more.
  server.unref();
  return server;
}
