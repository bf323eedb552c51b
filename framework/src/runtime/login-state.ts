import type { LoginState } from "../connector.js";
import type { CredentialBox } from "../credentials.js";
import type { Store } from "../store/types.js";

/** The store namespace of a login's state: cleared with the login (`Logins.logout`). */
export function loginStateNamespace(network: string, loginId: string): string {
  return `login:${network}:${loginId}`;
}

/**
 * `ctx.loginState(loginId)`: a login's records in the store, each sealed on its own (AES-GCM
 * under the framework's key), so the store never holds an identity key, a session or a token
 * in clear, and one record is read or written without touching the others. Durable when a
 * call resolves, because the store's writes are.
 */
export function sealedLoginState(
  store: Store,
  box: CredentialBox,
  network: string,
  loginId: string,
): LoginState {
  const ns = loginStateNamespace(network, loginId);
  return {
    get: async (key) => {
      const sealed = await store.kvGet<string>(ns, key);
      return sealed === null ? null : (box.open(sealed) as string);
    },
    set: (key, value) => store.kvSet(ns, key, box.seal(value)),
    delete: (key) => store.kvDelete(ns, key),
    list: async (prefix) =>
      (await store.kvList<string>(ns, prefix)).map(({ key, value }) => ({
        key,
        value: box.open(value) as string,
      })),
  };
}
