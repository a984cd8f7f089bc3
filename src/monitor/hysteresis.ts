// ok / warn / alarm with hysteresis: a level must hold for several evaluations in a row to be
// entered, and the measure must fall clearly below its threshold for longer to be left, so a
// status neither flaps around a threshold nor fires on one noisy window. Pure.

export type Level = "ok" | "warn" | "alarm";
export const LEVELS: readonly Level[] = ["ok", "warn", "alarm"];
export const rank = (l: Level): number => LEVELS.indexOf(l);
export const worst = (levels: Iterable<Level>): Level => {
  let w: Level = "ok";
  for (const l of levels) if (rank(l) > rank(w)) w = l;
  return w;
};

export interface HysteresisOptions {
  /** Consecutive evaluations at a higher level before it is entered. */
  escalateAfter: number;
  /** Consecutive evaluations below the clear level before stepping down. */
  clearAfter: number;
}

export class LevelWithHysteresis {
  private state: Level = "ok";
  private up = 0;
  private upFloor: Level = "alarm";
  private down = 0;

  constructor(private readonly opts: HysteresisOptions) {}

  get level(): Level {
    return this.state;
  }

  /**
   * @param enter level the measure reaches with the normal thresholds
   * @param hold level it reaches with the lowered (clear) thresholds; >= enter
   */
  update(enter: Level, hold: Level): Level {
    if (rank(enter) > rank(this.state)) {
      this.up++;
      // Enter only as high as every evaluation of the streak reached.
      this.upFloor = rank(enter) < rank(this.upFloor) ? enter : this.upFloor;
      if (this.up >= this.opts.escalateAfter) {
        this.state = this.upFloor;
        this.reset();
      }
      return this.state;
    }
    this.up = 0;
    this.upFloor = "alarm";
    if (rank(hold) < rank(this.state)) {
      this.down++;
      if (this.down >= this.opts.clearAfter) {
        this.state = hold;
        this.reset();
      }
    } else {
      this.down = 0;
    }
    return this.state;
  }

  private reset(): void {
    this.up = 0;
    this.upFloor = "alarm";
    this.down = 0;
  }
}
