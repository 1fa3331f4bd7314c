import { cpus, freemem, loadavg, release, totalmem, type } from 'node:os';
import amqp from 'amqplib';

/** What a benchmark ran on: every ratio is only comparable between runs on similar machines. */
export interface MachineInfo {
  readonly cores: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly freeMemoryGiB: number;
  /** 1-minute load average when the run started: > cores means someone else was busy too. */
  readonly loadAverage1m: number;
  readonly os: string;
  readonly node: string;
  readonly rabbitmq: string;
}

const GIB = 1024 ** 3;

/** Describes this machine and the broker at `amqpUrl` (its version from the AMQP handshake). */
export async function machineInfo(amqpUrl: string): Promise<MachineInfo> {
  return {
    cores: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: round1(totalmem() / GIB),
    freeMemoryGiB: round1(freemem() / GIB),
    loadAverage1m: round1(loadavg()[0] ?? 0),
    os: `${type()} ${release()}`,
    node: process.version,
    rabbitmq: await rabbitVersion(amqpUrl),
  };
}

async function rabbitVersion(url: string): Promise<string> {
  try {
    const connection = await amqp.connect(url, { timeout: 5000 });
    const properties = (connection.connection as { serverProperties?: { version?: unknown } })
      .serverProperties;
    await connection.close();
    return typeof properties?.version === 'string' ? properties.version : 'unknown';
  } catch (err) {
    throw new Error(`RabbitMQ does not answer at ${redact(url)}: ${String(err)}`);
  }
}

function redact(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

/** One decimal. */
export function round1(value: number): number {
  return Math.round(value * 10) / 10;
}
