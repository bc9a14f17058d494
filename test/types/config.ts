/*
 * driverOptions leaves out what Strongbox sets itself: TLS, automatic encryption and the BSON
 * options that change how values are written or read. createClient refuses the same names at
 * run time (test/client/createClient.test.ts goes through STRONGBOX_DRIVER_OPTIONS, which the
 * compiler keeps equal to this type). Checked by tsc.
 */
import type { StrongboxConfig } from '../../src/index';

type DriverOptions = NonNullable<StrongboxConfig['driverOptions']>;

export const allowed: DriverOptions = { maxPoolSize: 20, serverSelectionTimeoutMS: 5000, appName: 'app' };
// @ts-expect-error undefined is written as null, as the driver does by default
export const ignoreUndefined: DriverOptions = { ignoreUndefined: true };
// @ts-expect-error Strongbox reads stored values itself
export const promoteLongs: DriverOptions = { promoteLongs: false };
// @ts-expect-error TLS is configured under tls
export const tlsInsecure: DriverOptions = { tlsInsecure: true };
// @ts-expect-error encryption follows the models
export const autoEncryption: DriverOptions = { autoEncryption: { keyVaultNamespace: 'a.b', kmsProviders: {} } };
