// Network configuration (PROTOCOL-VL2.md §1, §3, §4): one entry point for five modules, one concept each:
//   network-id.ts         IDs, statuses and types, config flags and limits
//   config-dictionary.ts  the NetworkConfig dictionary codec
//   config-request.ts     the NETWORK_CONFIG_REQUEST payload and its metadata dictionary
//   config-chunks.ts      the signed config chunks and the member-side reassembler
//   adhoc-network.ts      ad-hoc (ff…) networks
// Import from here or from the module itself.
//
// Exported API (stable; the controller imports it):
//   IDs:     networkController(nwid) → Address; makeNetworkId(controller, n24) → bigint;
//            networkIdToString(nwid) → 16 hex; parseNetworkId(text) → bigint | undefined;
//            portDeviceName(nwid) → 'zt…'
//   Enums:   NetworkStatus (+ NetworkStatusName, networkStatusName()), NetworkType (+ networkTypeName()),
//            CONFIG_FLAG, SPECIALIST, CONFIG_VERSION, DEFAULT_* / MIN_MTU / MAX_MTU / MAX_* limits
//   Config:  interface NetworkConfig, Route, Dns, SsoConfig; defaultNetworkConfig(networkId, issuedTo)
//            encodeNetworkConfig(cfg) → Dictionary      (key order of the 1.14.1 controller; byte-exact)
//            networkConfigBytes(cfg) → Uint8Array
//            decodeNetworkConfig(bytes | Dictionary) → Vl2Decoded<NetworkConfig>   (member-side rules)
//            networkConfigEquals(a, b) → boolean
//   Ad-hoc:  isAdhocNetworkId(nwid), adhocNetworkConfig(nwid, self, now) → NetworkConfig | 'not-found' | undefined
//   Request: interface ConfigRequest, RequestMetadata; encodeConfigRequest(req) → payload;
//            decodeConfigRequest(payload) → Vl2Decoded<ConfigRequest>;
//            buildRequestMetadata(opts?) → Dictionary; parseRequestMetadata(dict | bytes) → RequestMetadata
//   Chunks:  CONFIG_CHUNK_MAX_DATA (9740), interface ConfigChunk;
//            makeConfigChunks(networkId, dictBytes, updateId, signer: Identity, flags?) → Uint8Array[] (chunk bytes)
//            encodeConfigChunk(fields, signer) → Uint8Array; decodeConfigChunk(bytes) → Vl2Decoded<ConfigChunk>
//            verifyConfigChunk(chunk, controller: Identity) → boolean
//            encodeConfigAck(networkId, updateId) → the 16 bytes after `08 <pkt id>` of the OK(ECHO) ack
//            class ConfigReassembler(networkId): accept(chunkBytes, source, packetId, controller?) → ChunkResult
//              ('incomplete' | 'complete' { dictionary, updateId } | 'need-identity' { address } | 'dropped' { reason })
//            decodeConfigAck(data)
export * from './adhoc-network.js';
export * from './config-chunks.js';
export * from './config-dictionary.js';
export * from './config-request.js';
export * from './network-id.js';
