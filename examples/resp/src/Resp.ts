/**
 * The RESP codec: reply values, the streaming request decoder and the reply encoder.
 *
 * ```
 *   bytes ──makeRequestDecoder().decode──▶ Command[] ──execute──▶ Reply ──encodeReply──▶ ByteBuffer
 * ```
 *
 * @since 0.1.0
 */
export * from "./resp/Inline.ts"
export * from "./resp/Integer.ts"
export * from "./resp/Reply.ts"
export * from "./resp/ReplyEncoder.ts"
export * from "./resp/RequestDecoder.ts"
