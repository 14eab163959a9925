// The browser side of the passkey ceremonies: the server's options are JSON with
// base64url binary fields; navigator.credentials wants ArrayBuffers and answers them.
const enc = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const dec = (s) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4)), (c) => c.charCodeAt(0));

export const supported = () => !!(window.PublicKeyCredential && navigator.credentials);

export async function create(options) {
  const pk = structuredClone(options.publicKey);
  pk.challenge = dec(pk.challenge);
  pk.user.id = dec(pk.user.id);
  for (const c of pk.excludeCredentials || []) c.id = dec(c.id);
  const cred = await navigator.credentials.create({ publicKey: pk });
  const r = cred.response;
  return {
    id: cred.id, rawId: enc(cred.rawId), type: cred.type,
    authenticatorAttachment: cred.authenticatorAttachment || undefined,
    response: {
      clientDataJSON: enc(r.clientDataJSON), attestationObject: enc(r.attestationObject),
      transports: r.getTransports ? r.getTransports() : [],
    },
    clientExtensionResults: cred.getClientExtensionResults(),
  };
}

export async function get(options) {
  const pk = structuredClone(options.publicKey);
  pk.challenge = dec(pk.challenge);
  for (const c of pk.allowCredentials || []) c.id = dec(c.id);
  const cred = await navigator.credentials.get({ publicKey: pk, mediation: options.mediation || undefined });
  const r = cred.response;
  return {
    id: cred.id, rawId: enc(cred.rawId), type: cred.type,
    authenticatorAttachment: cred.authenticatorAttachment || undefined,
    response: {
      clientDataJSON: enc(r.clientDataJSON), authenticatorData: enc(r.authenticatorData),
      signature: enc(r.signature), userHandle: r.userHandle ? enc(r.userHandle) : undefined,
    },
    clientExtensionResults: cred.getClientExtensionResults(),
  };
}
