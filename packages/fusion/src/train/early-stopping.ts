/**
 * Early stopping on the validation loss: remembers the best loss and its epoch, and stops after
 * `patience` epochs without improvement (never when `patience` is null). Its state lives in the trainer
 * state, so a checkpoint carries it and a resumed run stops exactly where an uninterrupted one would.
 */
export interface EarlyStoppingState {
  bestValLoss: number | null;
  bestEpoch: number | null;
  epochsWithoutImprovement: number;
  stoppedEarly: boolean;
}

export class EarlyStopping {
  constructor(private readonly patience: number | null, private readonly state: EarlyStoppingState) {}

  /** Record epoch `epoch`'s (1-based) validation loss; true when it is the best so far. */
  update(epoch: number, valLoss: number): boolean {
    const s = this.state;
    if (s.bestValLoss === null || valLoss < s.bestValLoss) {
      s.bestValLoss = valLoss; s.bestEpoch = epoch; s.epochsWithoutImprovement = 0;
      return true;
    }
    s.epochsWithoutImprovement++;
    if (this.patience !== null && s.epochsWithoutImprovement >= this.patience) s.stoppedEarly = true;
    return false;
  }

  get stopped(): boolean {
    return this.state.stoppedEarly;
  }
}
