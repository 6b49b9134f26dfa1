// Signs a JPEG or PNG with a C2PA manifest at test time, with @trustnxt/c2pa-ts (a maintained, pure
// TypeScript C2PA implementation) and a throwaway certificate chain made with @peculiar/x509:
// a test CA and an ES256 leaf with the emailProtection EKU that the C2PA certificate profile
// accepts. The manifest declares a `c2pa.created` action with a digital source type.

import * as x509 from '@peculiar/x509';
import { JPEG, PNG } from '@trustnxt/c2pa-ts/asset';
import { CoseAlgorithmIdentifier, type Signer } from '@trustnxt/c2pa-ts/cose';
import { ActionAssertion, ActionType, DataHashAssertion, DigitalSourceType, ManifestStore } from '@trustnxt/c2pa-ts/manifest';

export const TEST_SIGNER_CN = 'Realfake Lens Test Signer';
export const TEST_CLAIM_GENERATOR = 'RealfakeLensTests';

const EC: EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGN: EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };

async function testChain(): Promise<{ leaf: x509.X509Certificate; ca: x509.X509Certificate; key: CryptoKey }> {
  x509.cryptoProvider.set(globalThis.crypto);
  const now = Date.now();
  const validity = { notBefore: new Date(now - 86_400_000), notAfter: new Date(now + 30 * 86_400_000) };
  const caKeys = await crypto.subtle.generateKey(EC, true, ['sign', 'verify']);
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=Realfake Lens Test CA, O=Realfake Lens Tests',
    ...validity,
    keys: caKeys,
    signingAlgorithm: SIGN,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const leafKeys = await crypto.subtle.generateKey(EC, true, ['sign', 'verify']);
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: '02',
    subject: `CN=${TEST_SIGNER_CN}, O=Realfake Lens Tests`,
    issuer: ca.subject,
    ...validity,
    publicKey: leafKeys.publicKey,
    signingKey: caKeys.privateKey,
    signingAlgorithm: SIGN,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.emailProtection]),
      await x509.AuthorityKeyIdentifierExtension.create(ca, false),
      await x509.SubjectKeyIdentifierExtension.create(leafKeys.publicKey),
    ],
  });
  return { leaf, ca, key: leafKeys.privateKey };
}

/** A JPEG (APP11 segments) or PNG (caBX chunk) with a signed C2PA manifest store added. */
export async function signWithC2pa(image: Uint8Array, sourceType: DigitalSourceType = DigitalSourceType.TrainedAlgorithmicMedia): Promise<Uint8Array> {
  const { leaf, ca, key } = await testChain();
  // c2pa-ts's own LocalSigner writes ECDSA signatures DER-encoded, which COSE (and so c2pa-rs)
  // refuses ("EC signature should be in P1363 r|s format"); WebCrypto signs in r|s directly.
  const signer: Signer = {
    algorithm: CoseAlgorithmIdentifier.ES256,
    certificate: leaf,
    chainCertificates: [ca],
    sign: async (payload) => new Uint8Array(await crypto.subtle.sign(SIGN, key, payload as BufferSource)),
  };
  const asset = JPEG.canRead(image) ? new JPEG(image) : new PNG(image);
  const store = new ManifestStore();
  const manifest = store.createManifest({ assetFormat: asset.mimeType, instanceID: 'xmp:iid:realfake-lens-test', defaultHashAlgorithm: 'SHA-256', signer });
  if (manifest.claim) {
    manifest.claim.claimGeneratorName = TEST_CLAIM_GENERATOR;
    manifest.claim.claimGeneratorVersion = '1.0';
  }
  const actions = new ActionAssertion();
  actions.actions.push({ action: ActionType.C2paCreated, digitalSourceType: sourceType, softwareAgent: { name: 'Test Diffusion', version: '2' } });
  manifest.addAssertion(actions);
  const dataHash = DataHashAssertion.create('SHA-256');
  manifest.addAssertion(dataHash);
  await asset.ensureManifestSpace(store.measureSize());
  await dataHash.updateWithAsset(asset);
  await manifest.sign(signer);
  await asset.writeManifestJUMBF(store.getBytes());
  return new Uint8Array(await asset.getDataRange());
}
