import { cpus, loadavg, totalmem, release } from 'node:os';

export interface Machine {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  os: string;
  /** 1-minute load average when the run started: other processes on the machine disturb timings. */
  loadAverageAtStart: number;
}

export interface Versions {
  node: string;
  mongodbDriver: string;
  mongooseDriver: string;
  mongoose: string;
  binding: string;
  libmongocrypt: string;
  server: string;
}

export function machine(): Machine {
  const list = cpus();
  return {
    cpuModel: list[0]?.model ?? 'unknown',
    cores: list.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os: `${process.platform} ${release()}`,
    loadAverageAtStart: loadavg()[0],
  };
}

/* eslint-disable @typescript-eslint/no-require-imports */
export function versions(server: string): Versions {
  const version = (pkg: string) => (require(`${pkg}/package.json`) as { version: string }).version;
  const mongooseDriver = require(require.resolve('mongodb/package.json', { paths: [require.resolve('mongoose')] })) as { version: string };
  return {
    node: process.version,
    mongodbDriver: version('mongodb'),
    mongooseDriver: mongooseDriver.version,
    mongoose: version('mongoose'),
    binding: version('mongodb-client-encryption'),
    libmongocrypt: String((require('mongodb-client-encryption').MongoCrypt as { libmongocryptVersion: string }).libmongocryptVersion),
    server,
  };
}
