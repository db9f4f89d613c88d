import { performance } from 'node:perf_hooks';
import {
  Client,
  Pool,
  type PoolClient,
  type PoolConfig,
  type QueryArrayConfig,
  type QueryConfig,
  type QueryResult,
  type Submittable,
} from 'pg';
import { StatementNames } from './statement-names';

/**
 * SQLSTATEs with which the server ends a session (`admin_shutdown`: a restart, a failover,
 * `pg_terminate_backend`; `crash_shutdown`; `cannot_connect_now`). The server aborts the
 * statement that receives one, with its transaction: nothing of it was committed.
 */
const SESSION_ENDED = new Set(['57P01', '57P02', '57P03']);
/** The connection broke without the server saying why: the statement may have run to its end. */
const CONNECTION_LOST = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT']);
const LOST_MESSAGE = 'Connection terminated unexpectedly';
/** node-postgres refuses a statement on a connection it already knows is dead: nothing was sent. */
const NOT_SENT_MESSAGE = 'Client has encountered a connection error and is not queryable';

const BEGIN = /^\s*(begin|start\s+transaction)\b/i;
/**
 * A BEGIN on its own, not a script that starts with one, in the forms that cannot fail on a
 * live session outside a transaction (SERIALIZABLE or READ WRITE can, on a standby).
 */
const LONE_BEGIN =
  /^\s*(begin|start\s+transaction)(\s+isolation\s+level\s+(read\s+committed|repeatable\s+read))?\s*;?\s*$/i;
/** A plain COMMIT or ROLLBACK (not PREPARE TRANSACTION, COMMIT PREPARED or ROLLBACK TO). */
const PLAIN_END = /^\s*(commit|end|rollback|abort)(\s+(work|transaction))?\s*;?\s*$/i;
const ENDS_TRANSACTION = /^\s*(commit|end|prepare\s+transaction|commit\s+prepared|rollback|abort)\b/i;
const ROLLBACK = /^\s*(rollback|abort)\b/i;
const READ_ONLY = /^\s*select\b/i;

type Statement = string | QueryConfig | QueryArrayConfig;

/** A statement a checkout was asked for. */
interface Step {
  statement: Statement;
  values: unknown[] | undefined;
  /** The BEGIN it went out behind, while that BEGIN had no answer yet. */
  opening?: Opening;
  /** Its run on a new connection, when its opening is sent again (`Checkout.replay`). */
  again?: Promise<QueryResult>;
}

/** A transaction's BEGIN and the statements sent behind it before it was answered. */
interface Opening {
  begin: Statement;
  steps: Step[];
  /** What ended its connection before the BEGIN was answered (`Checkout.drop`). */
  lost?: Error;
  /** Set once the opening is sent again on a new connection. */
  replayed?: Promise<void>;
}
type ConnectCallback = (
  err: Error | undefined,
  client: PoolClient | undefined,
  done: (release?: unknown) => void,
) => void;

/** What node-postgres answers to a statement that returns no rows. */
function answered(command: string): QueryResult {
  return { command, rowCount: null, oid: 0, rows: [], fields: [] };
}

function textOf(statement: Statement): string {
  return typeof statement === 'string' ? statement : statement.text;
}

function codeOf(error: Error): unknown {
  return (error as { code?: unknown }).code;
}

/** An error the server answered with (it carries a SQLSTATE), not one raised in this process. */
function isServerError(error: unknown): boolean {
  const code = (error ?? {}) as { code?: unknown; severity?: unknown };
  return typeof code.code === 'string' && /^[0-9A-Z]{5}$/.test(code.code) && code.severity !== undefined;
}

/** The connection under the statement is gone, whether the server ended it or it broke. */
function isConnectionLoss(error: unknown): error is Error {
  // Duck-typed, not `instanceof Error`: Node's own socket errors come from another realm under Jest.
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && (SESSION_ENDED.has(code) || CONNECTION_LOST.has(code))) return true;
  return message === LOST_MESSAGE || message === NOT_SENT_MESSAGE;
}

/**
 * Whether a statement that met a lost connection may run again on a new one, given what the
 * same checkout ran before it. Only at the start: on its own (outside a transaction), as the
 * transaction's BEGIN, or as the first statement after BEGIN. Never COMMIT, whose outcome is
 * unknown, nor anything later in a transaction, whose earlier work is lost with the session.
 */
function safeToRetry(statement: string, before: string[], error: Error): boolean {
  const inTransaction = before.length === 1 && BEGIN.test(before[0]);
  if (before.length > (inTransaction ? 1 : 0) || ENDS_TRANSACTION.test(statement)) return false;
  // Nothing commits before a COMMIT.
  if (inTransaction || BEGIN.test(statement)) return true;
  // A statement on its own commits as it ends: retried only when it cannot have got there (the
  // server aborted it, or it was never sent), or when it writes nothing.
  const code = codeOf(error);
  return (
    (typeof code === 'string' && SESSION_ENDED.has(code)) ||
    error.message === NOT_SENT_MESSAGE ||
    READ_ONLY.test(statement)
  );
}

/** A connection that knows when it was opened, so a retry can insist on one opened after the loss. */
class StampedClient extends Client {
  readonly openedAt = performance.now();
}

export interface ReconnectingPoolOptions {
  /** Told of each statement run again on a new connection after its own was lost. */
  onRetry?: (error: Error) => void;
}

/**
 * A `pg.Pool` that survives the server ending its connections (a PostgreSQL restart or
 * failover, `pg_terminate_backend`): a statement that meets a dead connection runs once more
 * on a new one where that is safe (`safeToRetry`). The connections the pool kept idle died in
 * the same event, but the pool learns of it only as it reads each one, possibly after handing
 * it out; so the retry takes a connection opened after the loss, closing the older ones it is
 * handed on the way.
 *
 * Each checkout (`connect()`, and every `query()`) also listens for its connection's death
 * between two statements: node-postgres emits that as an `error` event, which pg-pool listens
 * to only while the connection is idle in the pool, and which would otherwise crash the process
 * (a restart during any open transaction did). A ROLLBACK on a lost connection succeeds: the
 * server rolled the transaction back when the session ended, and the error that ended it is
 * the one the caller should see.
 */
export class ReconnectingPool extends Pool {
  // Not `options`: pg-pool keeps its own configuration under that name.
  private readonly onRetry: ((error: Error) => void) | undefined;
  /** Which statements its connections run prepared (`StatementNames`). */
  readonly statementNames = new StatementNames();

  constructor(config: PoolConfig, options: ReconnectingPoolOptions = {}) {
    super({ ...config, Client: StampedClient });
    this.onRetry = options.onRetry;
  }

  /**
   * A checkout, as drizzle's transactions take one: it offers `query()` and `release()` only,
   * and sends the transaction's BEGIN with its first statement (`Checkout`).
   */
  override connect(): Promise<PoolClient>;
  override connect(callback: ConnectCallback): void;
  override connect(callback?: ConnectCallback): Promise<PoolClient> | void {
    if (callback) return super.connect(callback);
    return super.connect().then((client) => new Checkout(this, client, this.onRetry, true) as unknown as PoolClient);
  }

  override query<T extends Submittable>(stream: T): T;
  override query(statement: Statement, values?: unknown[]): Promise<QueryResult>;
  override query(statement: Statement | Submittable, values?: unknown[], ...callback: unknown[]): unknown {
    // A callback or a stream goes to pg-pool as it is; drizzle uses neither. (On this pipelining
    // pool node-postgres refuses a cursor or a stream: nothing here uses one.)
    const stream = typeof statement === 'object' && 'submit' in statement && typeof statement.submit === 'function';
    if (stream || callback.length > 0 || typeof values === 'function')
      return (super.query.bind(this) as (...args: unknown[]) => unknown)(statement, values, ...callback);
    return this.queryOnce(statement as Statement, values);
  }

  /** A connection opened after `since`: older ones are dropped (they died with the one lost). */
  async connectedSince(since: number): Promise<PoolClient> {
    for (;;) {
      const client = await super.connect();
      if (client instanceof StampedClient && client.openedAt > since) return client;
      client.release(true);
    }
  }

  private async queryOnce(statement: Statement, values?: unknown[]): Promise<QueryResult> {
    const checkout = new Checkout(this, await super.connect(), this.onRetry, false);
    let failed = false;
    try {
      return await checkout.query(statement, values);
    } catch (error) {
      failed = true;
      throw error;
    } finally {
      // As pg-pool's own query(): a connection whose statement failed is not reused.
      checkout.release(failed);
    }
  }
}

/**
 * One checkout of the pool, whose connection may be replaced once, at its start (`safeToRetry`).
 *
 * A transaction's BEGIN is answered here at once and sent with the transaction's first
 * statement, right before it on the same connection, so the two cost one round trip, not two
 * (as PgJDBC sends BEGIN with the first query). The connection pipelines, so the server runs
 * them in that order: the statement runs inside the transaction. If the connection is lost
 * before the BEGIN was answered, nothing of the transaction can have committed, and the BEGIN
 * and every statement sent behind it (the debit group sends two at once) go out again together,
 * in order, on a new connection (`replay`), once. A BEGIN in the forms deferred (`LONE_BEGIN`)
 * cannot fail on a live session. A transaction that ends before any statement (COMMIT or
 * ROLLBACK first) sent nothing, and is ended here. A debit group's BEGIN waited ~4 ms for its
 * answer under load, about a third of the group's cycle (bench/README.md, "A transaction's
 * BEGIN goes out with its first statement").
 */
class Checkout {
  private client: PoolClient | undefined;
  private lost: Error | undefined;
  private lostAt = 0;
  private retried = false;
  /** Statements asked for and not yet answered: a pipelining caller (the debit group) sends two at once. */
  private inFlight = 0;
  /**
   * Two statements were in flight together once: a retry could not tell what the other one
   * had done, so this checkout never replaces its connection (its caller's statements fail).
   */
  private overlapped = false;
  private released = false;
  /** The statements that succeeded so far, while they are few enough to matter (`safeToRetry`). */
  private readonly ran: Statement[] = [];
  /**
   * A named statement failed in node-postgres itself (a parameter it could not send): it then
   * closes the statement on the server but still counts it as prepared on this connection,
   * where every later run of the text would fail. The connection is closed, not reused.
   */
  private discard = false;
  private readonly onConnectionError = (error: Error) => this.drop(error);
  /** The transaction's BEGIN, answered and not yet sent: it goes out with the next statement. */
  private begin: Statement | undefined;
  /** The BEGIN sent and still unanswered, with the statements sent behind it; cleared at its answer. */
  private opening: Opening | undefined;
  /** Writes are held until the end of this turn of the event loop (`coalesce`). */
  private corked = false;

  constructor(
    private readonly pool: ReconnectingPool,
    client: PoolClient,
    private readonly onRetry: ((error: Error) => void) | undefined,
    /** A transaction's checkout (`connect()`), not a single statement's. */
    private readonly defersBegin: boolean,
  ) {
    this.hold(client);
  }

  async query(statement: Statement, values?: unknown[]): Promise<QueryResult> {
    const text = textOf(statement);
    const nothingSent = this.ran.length === 0 && this.inFlight === 0 && this.begin === undefined;
    if (this.defersBegin && nothingSent && !values?.length && LONE_BEGIN.test(text)) {
      this.begin = statement;
      return answered('BEGIN');
    }
    if (this.begin !== undefined && this.inFlight === 0 && PLAIN_END.test(text)) {
      this.begin = undefined;
      return answered(ROLLBACK.test(text) ? 'ROLLBACK' : 'COMMIT');
    }
    // Counted here, before anything can fail: a pair whose connection was already known dead
    // when it was sent must not be retried either.
    if (this.inFlight++ > 0) this.overlapped = true;
    const step: Step = { statement, values };
    try {
      return await this.send(step);
    } catch (error) {
      const opening = step.opening;
      // Its statements fail with the loss or, once the connection is closed, as terminated.
      if (opening?.lost) return await this.replay(opening, step);
      if (this.retried || this.overlapped || !this.lost || !isConnectionLoss(error)) throw error;
      // A BEGIN still to send (the connection died before this statement went out) is this
      // statement's transaction all the same.
      const before = this.begin === undefined ? this.ran : [this.begin, ...this.ran];
      if (!safeToRetry(text, before.map(textOf), error)) throw error;
      await this.reconnect(error);
      for (const earlier of this.ran.splice(0)) await this.send({ statement: earlier, values: undefined });
      return this.send({ statement, values });
    } finally {
      this.inFlight--;
    }
  }

  /**
   * The connection was lost before the transaction's BEGIN was answered: nothing of it can have
   * committed. Its BEGIN and the statements sent behind it go out again, in order, on a
   * connection opened after the loss, once; each statement's caller gets its new answer. Not if
   * one of them ended the transaction: a COMMIT whose answer was lost may have committed.
   */
  private async replay(opening: Opening, step: Step): Promise<QueryResult> {
    const error = opening.lost!;
    opening.replayed ??= (async () => {
      if (this.retried || opening.steps.some((s) => ENDS_TRANSACTION.test(textOf(s.statement)))) throw error;
      await this.reconnect(error, () => {
        this.begin = opening.begin;
        for (const earlier of opening.steps) {
          // Handed over one after another without waiting: they go out in this order, in one write.
          earlier.again = this.send({ statement: earlier.statement, values: earlier.values });
          earlier.again.catch(() => undefined);
        }
      });
    })();
    await opening.replayed;
    return step.again!;
  }

  /**
   * The checkout's one replacement: a connection opened after the loss. `then` runs as soon as
   * it is held, before any other statement can reach it.
   */
  private async reconnect(error: Error, then?: () => void): Promise<void> {
    this.retried = true;
    const replacement = await this.pool.connectedSince(this.lostAt);
    if (this.released) {
      // The caller gave the checkout back meanwhile: a connection taken now would be held by no one.
      replacement.release();
      throw error;
    }
    this.onRetry?.(error);
    this.hold(replacement);
    then?.();
  }

  release(error?: Error | boolean): void {
    this.released = true;
    this.giveBack(error);
  }

  private giveBack(error?: Error | boolean): void {
    const client = this.client;
    if (!client) return;
    this.client = undefined;
    client.removeListener('error', this.onConnectionError);
    client.release(error || this.discard);
  }

  private async send(step: Step): Promise<QueryResult> {
    const { statement, values } = step;
    if (!this.client) {
      if (this.lost && ROLLBACK.test(textOf(statement))) return answered('ROLLBACK');
      throw this.lost ?? new Error('query on a released connection');
    }
    const sent = this.pool.statementNames.name(statement, values);
    const client = this.client;
    const begin = this.begin;
    this.begin = undefined;
    if (begin !== undefined) this.opening = { begin, steps: [] };
    const opening = this.opening;
    if (opening) {
      opening.steps.push(step);
      step.opening = opening;
    }
    try {
      this.coalesce();
      // Both handed to the connection now, in this order; the statement's answer is awaited
      // once the BEGIN's is in, so neither is left unobserved.
      const beginning = begin === undefined ? undefined : client.query(textOf(begin));
      const answering = client.query(sent, values);
      if (beginning) {
        answering.catch(() => undefined);
        try {
          await beginning;
        } catch (error) {
          // Not expected of the forms deferred; the statement may have run on its own, so the
          // connection is not reused.
          if (!isConnectionLoss(error)) {
            this.discard = true;
            if (this.opening === opening) this.opening = undefined;
          }
          throw error;
        }
        if (this.opening === opening) this.opening = undefined;
        this.ran.push(begin!);
      }
      const result = await answering;
      if (this.ran.length < 2) this.ran.push(statement);
      return result;
    } catch (error) {
      // An answer from a connection already replaced (a statement of a replayed opening) says
      // nothing about the one held now.
      if (client !== this.client) throw error;
      if (isConnectionLoss(error)) this.drop(error);
      else if (sent !== statement && !isServerError(error)) this.discard = true;
      throw error;
    }
  }

  /**
   * Holds this connection's writes until the statements asked for in this turn of the event
   * loop are all handed over, then sends them in one write: a transaction's BEGIN with its
   * first statement, the debit group's locks with its snapshot, and its write with its COMMIT
   * (all asked for before any answer can arrive). One system call instead of several; and a
   * second write to a connection the server closed fails with EPIPE before the server's last
   * words are read, which would hide its reason from the retry's log line.
   */
  private coalesce(): void {
    if (this.corked || !this.client) return;
    const { stream } = (this.client as unknown as Client).connection;
    stream.cork();
    this.corked = true;
    process.nextTick(() => {
      this.corked = false;
      stream.uncork();
    });
  }

  private hold(client: PoolClient): void {
    this.client = client;
    this.lost = undefined;
    client.on('error', this.onConnectionError);
  }

  /** The connection is dead: back to the pool, which closes it. */
  private drop(error: Error): void {
    // An opening is current only until its BEGIN is answered.
    if (this.opening) {
      this.opening.lost ??= error;
      this.opening = undefined;
    }
    if (!this.client) return;
    this.lost = error;
    this.lostAt = performance.now();
    this.giveBack(error);
  }
}
