/**
 * The three ways an endpoint's upstream answers that the metrics tests need side by side: a
 * real mTLS server of the test PKI (calls succeed), one presenting a certificate of another PKI
 * (every handshake fails `upstream_cert_untrusted`), and a port that refuses connections.
 */
import { createTestPki, type TestPki } from './pki.js'
import { refusingPort } from './peers.js'
import { startMtlsServer, type RunningServer } from './tls-server.js'

export interface UpstreamKinds {
  /** The PKI the gateway's bundles and the serving upstream use. */
  readonly pki: TestPki
  readonly serving: RunningServer
  readonly untrusted: RunningServer
  /** A port on 127.0.0.1 that refuses connections. */
  readonly refusing: number
  /** Stops both servers and removes both PKIs. */
  close(): Promise<void>
}

/** Starts the serving and the untrusted upstream; each requires the test PKI's client certificate. */
export async function startUpstreamKinds(): Promise<UpstreamKinds> {
  const pki = await createTestPki()
  const stranger = await createTestPki()
  const serving = await startMtlsServer({ cert: pki.file('server-chain.crt'), key: pki.file('server.key'), ca: pki.file('root.crt') })
  const untrusted = await startMtlsServer({ cert: stranger.file('server-chain.crt'), key: stranger.file('server.key'), ca: pki.file('root.crt') })
  return {
    pki, serving, untrusted, refusing: await refusingPort(),
    async close() {
      await serving.close()
      await untrusted.close()
      pki.cleanup()
      stranger.cleanup()
    },
  }
}
