import { createServer, type Server } from 'node:http';

export interface ReceivedAlert {
  receivedAt: string;
  body: unknown;
}

/**
 * A local stand-in for a Slack-compatible webhook: it records every alert it is sent, so the
 * demo can show that the drift job really delivered one over HTTP.
 */
export async function startWebhookReceiver(): Promise<{
  url: string;
  alerts: ReceivedAlert[];
  close(): Promise<void>;
}> {
  const alerts: ReceivedAlert[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        body = Buffer.concat(chunks).toString('utf8');
      }
      alerts.push({ receivedAt: new Date().toISOString(), body });
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/alerts`,
    alerts,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
