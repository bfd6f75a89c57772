/**
 * The contract between a protocol core and whatever runs it (DESIGN.md, principle 1).
 * A core is a plain object whose methods take the current time and return effects: it
 * never reads a clock, draws randomness, opens a socket or arms a timer itself. The
 * runtime binds effects to TCP and timers; `src/sim` binds the same cores to a simulated
 * network and a virtual clock with a seeded random source, so a failing seed replays
 * exactly.
 */

/** A message for the peer at `to` (a node address `host:port`). */
export interface SendEffect<M> {
  t: 'send';
  to: string;
  message: M;
}

/** (Re)arms the core's timer `name` to fire `afterMs` from now; arming again replaces it. */
export interface TimerEffect {
  t: 'timer';
  name: string;
  afterMs: number;
}

export type CoreEffect<M> = SendEffect<M> | TimerEffect;

/** What a core may ask of its environment besides the time it is handed. */
export interface CoreEnv {
  /** A uniform random number in [0, 1), seeded in simulation. */
  random(): number;
}

/** The methods every protocol core offers its host. */
export interface ProtocolCore<M> {
  /** Delivers a message that arrived from the node at `from` (its address). */
  receive(from: string, message: M, nowMs: number): CoreEffect<M>[];
  /** The timer `name` fired. */
  fire(name: string, nowMs: number): CoreEffect<M>[];
}
