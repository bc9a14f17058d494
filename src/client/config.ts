import type { Environment, StrongboxConfig } from '../config/strongboxConfig';

export const DEFAULT_KEY_VAULT_NAMESPACE = 'encryption.__keyVault';

export function resolveEnvironment(config: Pick<StrongboxConfig, 'environment'>): Environment {
  return config.environment ?? (process.env.NODE_ENV === 'production' ? 'production' : 'development');
}
