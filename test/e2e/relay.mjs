// Inside the machine: hands each TCP connection to the proxy's Unix socket, shared from the host
// (test/e2e/proxy.ts). Usage: node relay.mjs PORT SOCKET
import net from 'node:net';

const [port, socket] = process.argv.slice(2);
net
  .createServer((client) => {
    const upstream = net.connect(socket);
    client.pipe(upstream).pipe(client);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  })
  .listen(Number(port), '0.0.0.0');
