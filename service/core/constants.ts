// Protocol constants and timings, in one place (DESIGN.md §3.8). Values are ZeroTier One 1.14.1's where we
// interoperate (PROTOCOL-VL1.md gives each one's meaning and where it was checked). Times are milliseconds.
// Other layers append their own sections below; keep one section per concern.

// ---- Versions ----------------------------------------------------------------------------------------------
export const PROTO_VERSION = 12;
/** HELLO with a lower protocol version is dropped without a reply. */
export const PROTO_VERSION_MIN = 4;
/** Peers at or above this version get AES-GMAC-SIV (suite 3); below it (or unknown), Salsa20/12-Poly1305. */
export const PROTO_VERSION_AES = 12;
export const VERSION_MAJOR = 1;
export const VERSION_MINOR = 14;
export const VERSION_REVISION = 1;

// ---- Packet header (PROTOCOL-VL1.md §3.1) ------------------------------------------------------------------
export const PACKET_IDX_IV = 0;
export const PACKET_IDX_DEST = 8;
export const PACKET_IDX_SOURCE = 13;
export const PACKET_IDX_FLAGS = 18;
export const PACKET_IDX_MAC = 19;
export const PACKET_IDX_VERB = 27;
export const PACKET_IDX_PAYLOAD = 28;
/** Header plus verb byte. */
export const PACKET_MIN_LENGTH = 28;

// ---- Flags byte (§3.2) ----------------------------------------------------------------------------------------
export const FLAGS_HOPS_MASK = 0x07;
export const FLAGS_CIPHER_MASK = 0x38;
export const FLAGS_CIPHER_SHIFT = 3;
export const FLAG_FRAGMENTED = 0x40;
/** Legacy "encrypted" bit: set by senders for suite 1 only. */
export const FLAG_ENCRYPTED = 0x80;
/** The bits covered by the MACs (hops excluded so relays may bump them). */
export const FLAGS_AUTHENTICATED_MASK = 0xf8;

export const CIPHER_POLY1305_NONE = 0;
export const CIPHER_SALSA2012_POLY1305 = 1;
export const CIPHER_NONE_TRUSTED_PATH = 2;
export const CIPHER_AES_GMAC_SIV = 3;

// ---- Verb byte (§3.3) -----------------------------------------------------------------------------------------
export const VERB_MASK = 0x1f;
export const VERB_FLAG_COMPRESSED = 0x80;

export const Verb = {
  NOP: 0x00,
  HELLO: 0x01,
  ERROR: 0x02,
  OK: 0x03,
  WHOIS: 0x04,
  RENDEZVOUS: 0x05,
  FRAME: 0x06,
  EXT_FRAME: 0x07,
  ECHO: 0x08,
  MULTICAST_LIKE: 0x09,
  NETWORK_CREDENTIALS: 0x0a,
  NETWORK_CONFIG_REQUEST: 0x0b,
  NETWORK_CONFIG: 0x0c,
  MULTICAST_GATHER: 0x0d,
  MULTICAST_FRAME: 0x0e,
  PUSH_DIRECT_PATHS: 0x10,
  ACK: 0x12,
  QOS_MEASUREMENT: 0x13,
  USER_MESSAGE: 0x14,
  REMOTE_TRACE: 0x15,
  PATH_NEGOTIATION_REQUEST: 0x16,
} as const;
export type Verb = (typeof Verb)[keyof typeof Verb];

const verbNames = new Map<number, string>(Object.entries(Verb).map(([k, v]) => [v, k]));
/** The verb's name as ZeroTier spells it, or `VERB_0x..` for numbers without one. */
export function verbName(v: number): string {
  return verbNames.get(v) ?? `VERB_0x${v.toString(16).padStart(2, '0')}`;
}

export const ErrorCode = {
  NONE: 0x00,
  INVALID_REQUEST: 0x01,
  BAD_PROTOCOL_VERSION: 0x02,
  OBJ_NOT_FOUND: 0x03,
  IDENTITY_COLLISION: 0x04,
  UNSUPPORTED_OPERATION: 0x05,
  NEED_MEMBERSHIP_CERTIFICATE: 0x06,
  NETWORK_ACCESS_DENIED: 0x07,
  UNWANTED_MULTICAST: 0x08,
  NETWORK_AUTHENTICATION_REQUIRED: 0x09,
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

// ---- Sizes (§3.4) ---------------------------------------------------------------------------------------------
/** Default UDP payload MTU: the largest datagram sent unless a physical-path MTU is configured. */
export const DEFAULT_PHYSMTU = 1432;
export const MIN_PHYSMTU = 1400;
export const MAX_PHYSMTU = 10324;
/** Largest assembled packet; larger datagrams or reassemblies are dropped. */
export const MAX_PACKET_LENGTH = 10024;
/** Largest payload after the verb byte once decompressed. */
export const MAX_PAYLOAD_LENGTH = MAX_PACKET_LENGTH - PACKET_MIN_LENGTH;
/** LZ4 is tried only for payloads (after the verb) longer than this, and kept only if strictly smaller. */
export const COMPRESSION_MIN_PAYLOAD = 64;

// ---- Fragments (§3.5) -----------------------------------------------------------------------------------------
export const FRAGMENT_IDX_PACKET_ID = 0;
export const FRAGMENT_IDX_DEST = 8;
export const FRAGMENT_IDX_INDICATOR = 13;
export const FRAGMENT_IDX_NUMBERS = 14;
export const FRAGMENT_IDX_HOPS = 15;
export const FRAGMENT_IDX_PAYLOAD = 16;
export const FRAGMENT_INDICATOR = 0xff;
export const FRAGMENT_HEADER_LENGTH = 16;
/** Pieces per packet accepted, head included (the 4-bit wire field would allow 16). */
export const MAX_PACKET_FRAGMENTS = 7;
/** Datagrams of exactly this length are legacy LAN beacons; anything else this short or shorter is ignored. */
export const BEACON_LENGTH = 13;
export const MIN_DATAGRAM_LENGTH = 17;

// ---- Queues, relaying, reassembly (§3.5, §8.5, §8.7) -----------------------------------------------------
export const RX_QUEUE_SIZE = 32;
export const TX_QUEUE_SIZE = 32;
export const RX_QUEUE_TIMEOUT = 5000;
export const TX_QUEUE_TIMEOUT = 5000;
/** Our reassembly timeout for incomplete fragment sets (1.14.1 has none; it relies on slot reuse). */
export const FRAGMENT_REASSEMBLY_TIMEOUT = 5000;
export const RELAY_MAX_HOPS = 3;
export const WHOIS_RETRY_DELAY = 500;
export const MIN_UNITE_INTERVAL = 30000;
export const TRUST_EXPIRATION = 600000;

// ---- Peers and paths (§8.1) -----------------------------------------------------------------------------------
export const PING_CHECK_INTERVAL = 5000;
export const PEER_PING_PERIOD = 60000;
export const PATH_HEARTBEAT_PERIOD = 14000;
export const PATH_ALIVE_TIMEOUT = 19000;
export const PEER_PATH_EXPIRATION = 243000;
export const PEER_ACTIVITY_TIMEOUT = 500000;
export const HOUSEKEEPING_PERIOD = 30000;
/**
 * A peer restored from the peer cache is sent HELLO at its cached paths on every ping check until one answers,
 * for this long (netcon's; ZeroTier One tries once, when the peer is first looked up).
 */
export const PEER_RESTORE_CONTACT_WINDOW = 120000;
export const UPSTREAM_HELLO_INTERVAL = PATH_HEARTBEAT_PERIOD * 16;
export const ALWAYS_CONTACT_HELLO_INTERVAL = PATH_HEARTBEAT_PERIOD * 2;
export const IDENTITY_VALIDATION_GATE = 2000;
export const WHOIS_ANSWER_GATE = 100;
export const ECHO_ANSWER_GATE = 166;
export const PATH_HELLO_GATE = 1000;
export const PUSH_DIRECT_PATHS_INTERVAL_RELAYED = 15000;
export const PUSH_DIRECT_PATHS_INTERVAL_DIRECT = 120000;
export const PUSH_DIRECT_PATHS_CUTOFF_TIME = 30000;
export const PUSH_DIRECT_PATHS_CUTOFF_LIMIT = 8;
export const PUSH_DIRECT_PATHS_MAX_PER_SCOPE_AND_FAMILY = 8;
export const MEMORIZED_PATH_RETRY = 30000;
export const SELF_AWARENESS_ENTRY_TIMEOUT = 600000;
export const MIN_BACKGROUND_TASK_DEADLINE = 60;
export const BEACON_REPLY_GATE = 2500;

// ---- Physical addresses ("InetAddress" binary form, §6.2) ---------------------------------------------------
export const INETADDR_TYPE_NIL = 0x00;
export const INETADDR_TYPE_IPV4 = 0x04;
export const INETADDR_TYPE_IPV6 = 0x06;

// ---- Worlds (§7) ----------------------------------------------------------------------------------------------
export const WORLD_TYPE_PLANET = 0x01;
export const WORLD_TYPE_MOON = 0x7f;
export const WORLD_ID_EARTH = 149604618;
/** USER_MESSAGE type IDs up to this value are reserved for ZeroTier. */
export const USER_MESSAGE_TYPE_RESERVED_MAX = 65535;
