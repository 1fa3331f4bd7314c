/**
 * The ingress benchmark's HTTP ceiling: an Express 5 endpoint on the ingress's path that parses
 * the same JSON body (with the same body limit) and answers as the ingress does, without
 * publishing anything. Run as `node --import tsx bench/lib/bare-express.ts <port>`; prints
 * `listening` once it is.
 */
import express from 'express';

const port = Number(process.argv[2]);
const app = express();
app.disable('x-powered-by');
app.set('etag', false);
app.post('/webhook/:source', express.json({ limit: '8mb', type: () => true }), (req, res) => {
  const records = (req.body as { Records?: unknown[] } | undefined)?.Records ?? [];
  res.status(200).json({ accepted: records.length });
});
const server = app.listen(port, '127.0.0.1', () => process.stdout.write('listening\n'));
server.keepAliveTimeout = 65_000;
process.once('SIGTERM', () => server.close(() => process.exit(0)));
