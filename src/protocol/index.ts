// Public API of the protocol layer: memcached text, meta and binary framing and the command table.
export type * from './types.js';
export { createRequestParser, type RequestParser, type RequestParserOptions } from './request-parser.js';
export { createResponseMatcher, type MatchInfo, type ResponseMatcher, type ResponseMatcherEvents } from './response-matcher.js';
export { copyRequestRaw, requestKeyStrings, visitRequestKeys, placeholderKeys, requestKeyCount } from './request-keys.js';
export { encodeRequest, type EncodableRequest, type RequestEdit } from './encode.js';
export {
  BINARY_OPCODES,
  BINARY_STATUS,
  DESTRUCTIVE_COMMANDS,
  binaryStatusName,
  commandInfo,
  type CommandInfo,
} from './commands.js';
