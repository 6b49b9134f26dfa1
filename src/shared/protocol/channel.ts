// What every channel of the protocol is made of. A channel is a map from request kind to
// `{ body, reply }`; from it come the union of its requests, a router whose handler table must
// name every kind with the right reply (a missing handler or a wrong reply is a compile error),
// and senders whose reply type follows from the kind sent.

/** One request kind: what travels besides `kind`, and what the receiver answers (void: nothing). */
export interface Kind<Body extends object, Reply> {
  body: Body;
  reply: Reply;
}

export type ChannelMap = Record<string, Kind<object, unknown>>;

/** The message of kind K (every kind of the channel when K is left out). */
export type Request<C extends ChannelMap, K extends keyof C = keyof C> = K extends keyof C & string ? { kind: K } & C[K]['body'] : never;

export type Reply<C extends ChannelMap, K extends keyof C> = C[K]['reply'];

/** A receiver's handler per kind; `Ctx` is what the receiver knows besides the message (its sender). */
export type Handlers<C extends ChannelMap, Ctx = void> = {
  [K in keyof C & string]: (msg: Request<C, K>, ctx: Ctx) => Reply<C, K> | Promise<Reply<C, K>>;
};

/** Validators of the replies, one per kind, for replies that come from a less trusted context. */
export type ReplyParsers<C extends ChannelMap> = { [K in keyof C & string]: (v: unknown) => Reply<C, K> | null };

/** Runs the handler of a validated message's kind. */
export async function route<C extends ChannelMap, Ctx>(handlers: Handlers<C, Ctx>, msg: Request<C>, ctx: Ctx): Promise<unknown> {
  const handler = handlers[msg.kind as keyof C & string] as (m: Request<C>, c: Ctx) => unknown;
  return handler(msg, ctx);
}

/** A receiver needs no answer: validates to undefined (whatever came back is ignored). */
export const noReply = (): undefined => undefined;

/** A sender for replies from the background itself (the one trusted context): typed, not re-checked. */
export function trustedSender<C extends ChannelMap>(transport: (msg: Request<C>) => Promise<unknown>) {
  return <K extends keyof C & string>(msg: Request<C, K>): Promise<Reply<C, K>> => transport(msg as Request<C>) as Promise<Reply<C, K>>;
}

/** A sender whose replies are validated: null when the answer is malformed. Transport errors propagate. */
export function validatedSender<C extends ChannelMap, Extra extends unknown[] = []>(
  transport: (msg: Request<C>, ...extra: Extra) => Promise<unknown>,
  replies: ReplyParsers<C>,
) {
  return async <K extends keyof C & string>(msg: Request<C, K>, ...extra: Extra): Promise<Reply<C, K> | null> => {
    const parse = replies[msg.kind] as (v: unknown) => Reply<C, K> | null;
    return parse(await transport(msg as Request<C>, ...extra));
  };
}
