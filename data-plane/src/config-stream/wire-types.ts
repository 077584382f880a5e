// Names the data plane uses for the tokengate.v1 messages, all taken from the types generated from the
// proto (proto/generated, `node proto/generate-types.js`) for the loader options in
// proto/loader-options.json: snake_case keys, uint64 as decimal strings, enums as names, proto3 defaults
// filled in, absent sub-messages as null, a virtual `message`/`auth` field naming the set oneof member.
// `…__Output` types are what decoding yields; the others are what encoding accepts.
import type { ApiKeyAuth__Output } from '../../../proto/generated/tokengate/v1/ApiKeyAuth';
import type { AwsSigV4Auth__Output } from '../../../proto/generated/tokengate/v1/AwsSigV4Auth';
import type { BackendAuth__Output } from '../../../proto/generated/tokengate/v1/BackendAuth';
import type { ConsumerKey__Output } from '../../../proto/generated/tokengate/v1/ConsumerKey';
import type { ControlPlaneMessage as ControlPlaneMessageEncodable, ControlPlaneMessage__Output } from '../../../proto/generated/tokengate/v1/ControlPlaneMessage';
import type { DataPlaneMessage as DataPlaneMessageEncodable, DataPlaneMessage__Output } from '../../../proto/generated/tokengate/v1/DataPlaneMessage';
import type { Hello__Output } from '../../../proto/generated/tokengate/v1/Hello';
import type { Provider__Output } from '../../../proto/generated/tokengate/v1/Provider';
import type { RateLimitPolicy__Output } from '../../../proto/generated/tokengate/v1/RateLimitPolicy';
import type { Service__Output } from '../../../proto/generated/tokengate/v1/Service';
import type { Snapshot__Output } from '../../../proto/generated/tokengate/v1/Snapshot';
import type { SnapshotAck__Output } from '../../../proto/generated/tokengate/v1/SnapshotAck';
import type { SnapshotDelta__Output } from '../../../proto/generated/tokengate/v1/SnapshotDelta';
import type { SnapshotNack__Output } from '../../../proto/generated/tokengate/v1/SnapshotNack';
import type { SnapshotRequest__Output } from '../../../proto/generated/tokengate/v1/SnapshotRequest';
import type { TimeUnit__Output } from '../../../proto/generated/tokengate/v1/TimeUnit';
import type { UsageAck__Output } from '../../../proto/generated/tokengate/v1/UsageAck';
import type { UsageBatch__Output } from '../../../proto/generated/tokengate/v1/UsageBatch';
import type { UsageRecord__Output } from '../../../proto/generated/tokengate/v1/UsageRecord';

export type ProviderName = Provider__Output;
export type TimeUnitName = TimeUnit__Output;

/** uint64 fields travel as decimal strings (longs: String); encode accepts strings too. */
export type Uint64String = string;

export type HelloMessage = Hello__Output;
export type SnapshotAckMessage = SnapshotAck__Output;
export type SnapshotNackMessage = SnapshotNack__Output;
export type SnapshotRequestMessage = SnapshotRequest__Output;
export type UsageRecordMessage = UsageRecord__Output;
export type UsageBatchMessage = UsageBatch__Output;
export type UsageAckMessage = UsageAck__Output;
export type ApiKeyAuthMessage = ApiKeyAuth__Output;
export type AwsSigV4AuthMessage = AwsSigV4Auth__Output;
export type BackendAuthMessage = BackendAuth__Output;
export type RateLimitPolicyMessage = RateLimitPolicy__Output;
export type ServiceMessage = Service__Output;
export type ConsumerKeyMessage = ConsumerKey__Output;
export type SnapshotMessage = Snapshot__Output;
export type SnapshotDeltaMessage = SnapshotDelta__Output;

/** What the proxy writes (encode fills defaults for whatever is omitted). */
export type DataPlaneMessage = DataPlaneMessageEncodable;
/** What the control plane writes, as decoded. `message` names the member that is set. */
export type ControlPlaneMessage = ControlPlaneMessage__Output;
/** What a (fake) control plane writes. */
export type ControlPlaneMessageInput = ControlPlaneMessageEncodable;
/** A decoded DataPlaneMessage, as a server sees it. */
export type DecodedDataPlaneMessage = DataPlaneMessage__Output;
