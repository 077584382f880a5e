// Names the control plane uses for the tokengate.v1 messages, all taken from the types generated from
// the proto (proto/generated, `node proto/generate-types.js`) for proto/loader-options.json: snake_case
// keys, uint64 as decimal strings when decoded, enums as names. The control plane builds encodable
// messages (the types without `__Output`) and reads decoded ones (`__Output`).
import type { BackendAuth } from '../../../proto/generated/tokengate/v1/BackendAuth';
import type { ConsumerKey } from '../../../proto/generated/tokengate/v1/ConsumerKey';
import type { ControlPlaneMessage as ControlPlaneMessageEncodable } from '../../../proto/generated/tokengate/v1/ControlPlaneMessage';
import type { DataPlaneMessage__Output } from '../../../proto/generated/tokengate/v1/DataPlaneMessage';
import type { Provider__Output } from '../../../proto/generated/tokengate/v1/Provider';
import type { RateLimitPolicy } from '../../../proto/generated/tokengate/v1/RateLimitPolicy';
import type { Service } from '../../../proto/generated/tokengate/v1/Service';
import type { Snapshot } from '../../../proto/generated/tokengate/v1/Snapshot';
import type { SnapshotDelta } from '../../../proto/generated/tokengate/v1/SnapshotDelta';
import type { TimeUnit__Output } from '../../../proto/generated/tokengate/v1/TimeUnit';
import type { UsageRecord__Output } from '../../../proto/generated/tokengate/v1/UsageRecord';

export type ProtoProvider = Provider__Output;
export type ProtoTimeUnit = TimeUnit__Output;
export type SnapshotBackendAuth = BackendAuth;
export type SnapshotRateLimit = RateLimitPolicy;
export type SnapshotService = Service;
export type SnapshotConsumerKey = ConsumerKey;
/** A snapshot as the control plane builds it: revision as a number (encode accepts numbers for uint64). */
export type BuiltSnapshot = Snapshot & { revision: number; services: SnapshotService[]; consumer_keys: SnapshotConsumerKey[] };
export type BuiltDelta = SnapshotDelta & { base_revision: number; revision: number; upserted_services: SnapshotService[]; removed_service_ids: string[]; upserted_keys: SnapshotConsumerKey[]; removed_key_hashes: string[] };
/** What a proxy sends, as decoded. */
export type DataPlaneMessage = DataPlaneMessage__Output;
export type UsageRecordMessage = UsageRecord__Output;
/** What the control plane writes. */
export type ControlPlaneMessage = ControlPlaneMessageEncodable;
